/**
 * The upstream GATEWAY-HTTP tests tendril passes with this runner (status and traffic checks). The test file
 * runs exactly these, and `tendril conformance run` runs them by default.
 */
export const SUPPORTED_GATEWAY_HTTP_TESTS: readonly string[] = [
  'HTTPRouteSimpleSameNamespace',
  'HTTPRouteExactPathMatching',
  'HTTPRouteMatching',
  'HTTPRouteHeaderMatching',
  'HTTPRouteQueryParamMatching',
  'HTTPRouteMethodMatching',
  'HTTPRouteHostnameIntersection',
  'HTTPRouteListenerHostnameMatching',
  'HTTPRouteCrossNamespace',
  'HTTPRouteRequestHeaderModifier',
  'HTTPRouteMatchingAcrossRoutes',
  'HTTPRouteMultipleGateways',
  'HTTPRoutePathMatchOrder',
  'HTTPRouteNoBackendRefs',
  'HTTPRouteInvalidBackendRefUnknownKind',
  'HTTPRouteInvalidCrossNamespaceBackendRef',
  'HTTPRouteInvalidNonExistentBackendRef',
  'HTTPRouteInvalidReferenceGrant',
  'HTTPRoutePartiallyInvalidViaInvalidReferenceGrant',
  'HTTPRouteNamedRule',
  'HTTPRouteBackendRequestHeaderModifier',
  'HTTPRouteBackendProtocolH2C',
  'HTTPRouteBackendRequestRedirect',
  'HTTPRouteBackendURLRewrite',
  'HTTPRouteWeight',
  'HTTPRouteRedirectHostAndStatus',
  'HTTPRoute303Redirect',
  'HTTPRoute307Redirect',
  'HTTPRoute308Redirect',
  'HTTPRouteRedirectPath',
  'HTTPRouteRedirectPort',
  'HTTPRouteRedirectScheme',
  'HTTPRouteResponseHeaderModifier',
  'HTTPRouteTimeoutRequest',
  'HTTPRouteTimeoutBackendRequest',
  'HTTPRouteRetry',
  'HTTPRouteRetryConnectionError',
  'HTTPRouteRetryWithTimeouts',
  'HTTPRouteRewritePath',
  'HTTPRouteRewriteHost',
  'HTTPRouteRequestHeaderModifierBackendWeights',
  'HTTPRouteListenerPortMatching',
  'HTTPRouteBackendProtocolWebSocket',
  'GatewayHTTPListenerIsolation',
  // HTTPS: TLS with SNI to the Gateway's HTTPS listeners, trusting the run's certificates.
  'HTTPRouteHTTPSListener',
  'HTTPRouteHTTPSListenerDetectMisdirectedRequests',
  'HTTPRouteRedirectPortAndScheme',
  // CORS (cors-procedure.ts): preflights the proxy answers, CORS headers on forwarded responses.
  'HTTPRouteCORS',
  // Runtime mutations (procedures.ts).
  'GatewayClassObservedGenerationBump',
  'GatewayObservedGenerationBump',
  'HTTPRouteObservedGenerationBump',
  'HTTPRouteReferenceGrant',
  'HTTPRouteServiceTypes',
  'GatewayModifyListeners',
  'GatewayStaticAddresses',
  // The Service the agent creates per Gateway carries spec.infrastructure labels and annotations (infrastructure-procedure.ts).
  'GatewayInfrastructure',
  // Backend logs (procedures.ts): the mirror copies, found in the mirror backends' output.
  'HTTPRouteRequestMirror',
  'HTTPRouteRequestMultipleMirrors',
  'HTTPRouteRequestPercentageMirror',
  // Status alone: no traffic checks.
  'GatewaySecretInvalidReferenceGrant',
  'GatewaySecretMissingReferenceGrant',
  'GatewaySecretReferenceGrantAllInNamespace',
  'GatewaySecretReferenceGrantSpecific',
  'GatewayInvalidTLSConfiguration',
  'GatewayNameMaximumLength',
  'GatewayOptionalAddressValue',
  'GatewayWithAttachedRoutesWithPort8080',
  'HTTPRouteInvalidParentRefSectionNameNotMatchingPort',
  'HTTPRouteInvalidParentRefNotMatchingListenerPort',
  'GatewayInvalidRouteKind',
  'GatewayListenerUnsupportedProtocol',
  'GatewayWithAttachedRoutes',
  'GatewayInvalidParametersRef',
  'HTTPRouteInvalidCrossNamespaceParentRef',
  'HTTPRouteInvalidParentRefNotMatchingSectionName',
  // ListenerSets (listenerset-procedures.ts): status from their Go sources, traffic through the parent Gateway.
  'ListenerSetAllowedNamespaceNone',
  'ListenerSetAllowedNamespaceSame',
  'ListenerSetAllowedNamespaceSelector',
  'ListenerSetAllowedRoutesNamespaces',
  'ListenerSetDefaultNotAllowed',
  'ListenerSetDualParentRefIndependence',
  'ListenerSetGatewayParentSectionNameNotFound',
  'ListenerSetHTTPRouting',
  'ListenerSetHostnameConflict',
  'ListenerSetProtocolConflict',
  'ListenerSetReferenceGrant',
  'ListenerSetRouteStatusScopedToParentRef',
  // BackendTLSPolicy (backend-tls-procedures.ts): TLS from the Gateway to the TLS echo backend.
  'BackendTLSPolicy',
  'BackendTLSPolicyConflictResolution',
  'BackendTLSPolicyInvalidCACertificateRef',
  'BackendTLSPolicyInvalidKind',
  'BackendTLSPolicyObservedGenerationBump',
  'BackendTLSPolicySANValidation',
  // Frontend client certificate validation (frontend-tls-procedures.ts): Gateway spec.tls.frontend.
  'GatewayFrontendClientCertificateValidation',
  'GatewayFrontendClientCertificateValidationInsecureFallback',
  'GatewayFrontendInvalidDefaultClientCertificateValidation',
  'GatewayInvalidFrontendClientCertificateValidation',
  // The Gateway's backend client certificate (backend-tls-procedures.ts): spec.tls.backend.
  'GatewayTLSBackendClientCertificate',
  'GatewayInvalidTLSBackendConfiguration',
];

/**
 * The upstream GATEWAY-GRPC tests of their own that tendril passes: gRPC calls to the conformance
 * echo service through the Gateway. The profile's Gateway* tests are shared with GATEWAY-HTTP and
 * run (once) from SUPPORTED_GATEWAY_HTTP_TESTS; the report counts them under both profiles.
 */
export const SUPPORTED_GATEWAY_GRPC_TESTS: readonly string[] = [
  'GRPCExactMethodMatching',
  'GRPCRouteHeaderMatching',
  'GRPCRouteListenerHostnameMatching',
  'GRPCRouteWeight',
  // gRPC re-encrypted to the gRPC echo's TLS port (backend-tls-procedures.ts).
  'BackendTLSPolicyGRPCRoute',
  // In no profile upstream (inventory profiles []): never counted in a report, and not run by
  // `--profiles` (only by `--run-test`); the test file runs them, and the GatewayClass claims their features.
  'GRPCRouteNamedRule',
  'GRPCRouteRequestHeaderModifier',
];

/**
 * The upstream GATEWAY-TLS tests of their own that tendril passes: TLS passthrough to the TCP echo
 * and HTTPS echo backends, TLSRoute status, and TLS dials the Gateway must reject. The profile's Gateway* tests are GATEWAY-HTTP's, as for GATEWAY-GRPC.
 */
export const SUPPORTED_GATEWAY_TLS_TESTS: readonly string[] = [
  'TLSRouteSimpleSameNamespace',
  'TLSRouteHostnameIntersection',
  'TLSRouteInvalidBackendRefNonexistent',
  'TLSRouteInvalidBackendRefUnknownKind',
  'TLSRouteInvalidNoMatchingListener',
  'TLSRouteInvalidNoMatchingListenerHostname',
  'TLSRouteInvalidReferenceGrant',
  'TLSRouteListenerPassthroughSupportedKinds',
  'TLSRouteListenerTerminateNotSupported',
  'ListenerSetAllowedRoutesSupportedKinds',
  // Terminate and Mixed modes (tls-terminate-procedures.ts).
  'TLSRouteTerminateSimpleSameNamespace',
  'TLSRouteMixedTerminationSameNamespace',
  'TLSRouteListenerTerminateSupportedKinds',
  'TLSRouteListenerMixedTerminationNotSupported',
  'BackendTLSPolicyTLSRouteTerminate',
];

/**
 * The upstream GATEWAY-TCP tests of their own that tendril passes (src/tcp-procedures.ts): TCPRoute
 * attachment and status, the plain TCP echo conversation through TCP listeners, weighted backends.
 * The profile's Gateway* tests are GATEWAY-HTTP's, as for GATEWAY-GRPC.
 */
export const SUPPORTED_GATEWAY_TCP_TESTS: readonly string[] = [
  'TCPRouteInvalidBackendRefNonexistent',
  'TCPRouteInvalidCrossNamespaceBackendRef',
  'TCPRouteInvalidNonTCPListener',
  'TCPRouteMultipleRoutesAttachment',
  'TCPRouteParentRefAttachAll',
  'TCPRouteParentRefPortAndSectionName',
  'TCPRouteReferenceGrant',
  'TCPRouteWeightedRouting',
];

/**
 * The upstream GATEWAY-UDP tests of their own that tendril passes (src/udp-procedures.ts): UDPRoute
 * attachment and status, a DNS query to the coredns backend and the UDP echo through UDP listeners,
 * weighted backends. The profile's Gateway* tests are GATEWAY-HTTP's, as for GATEWAY-TCP.
 */
export const SUPPORTED_GATEWAY_UDP_TESTS: readonly string[] = [
  'UDPRoute',
  'UDPRouteInvalidBackendRefNonexistent',
  'UDPRouteInvalidCrossNamespaceBackendRef',
  'UDPRouteMultipleRoutesAttachment',
  'UDPRouteNotAllowedByListeners',
  'UDPRouteParentRefAttachAllListeners',
  'UDPRouteParentRefPortAndSectionName',
  'UDPRouteReferenceGrant',
  'UDPRouteWeightedRouting',
];

/** Every test tendril passes, each once (a Gateway* test belongs to several profiles). */
export const SUPPORTED_TESTS: readonly string[] = [
  ...new Set([...SUPPORTED_GATEWAY_HTTP_TESTS, ...SUPPORTED_GATEWAY_GRPC_TESTS, ...SUPPORTED_GATEWAY_TLS_TESTS, ...SUPPORTED_GATEWAY_TCP_TESTS, ...SUPPORTED_GATEWAY_UDP_TESTS]),
];

/**
 * The upstream MESH-HTTP and MESH-GRPC tests tendril passes with the mesh runner (mesh-runner.ts,
 * root only: the pods' Service traffic goes through the eBPF datapath to the node proxy). Their
 * checks are read by the mesh runner, not normaliseChecks alone, so they are not in SUPPORTED_TESTS.
 */
export const SUPPORTED_MESH_TESTS: readonly string[] = [
  'MeshBasic',
  'MeshHTTPRouteMatching',
  'MeshHTTPRouteRedirectHostAndStatus',
  'MeshHTTPRouteRequestHeaderModifier',
  'MeshHTTPRouteSimpleSameNamespace',
  'MeshHTTPRouteWeight',
  'MeshTrafficSplit',
  'MeshHTTPRouteBackendRequestHeaderModifier',
  'MeshHTTPRouteNamedRule',
  'MeshHTTPRouteQueryParamMatching',
  'MeshHTTPRouteRedirectPath',
  'MeshHTTPRouteRedirectPort',
  'MeshHTTPRouteRewritePath',
  'MeshHTTPRouteSchemeRedirect',
  'MeshGRPCRouteRequestHeaderModifier',
  'MeshGRPCRouteWeight',
  // In no v1.6.1 profile (reports do not count them), run by the mesh runner all the same.
  'MeshConsumerRoute',
  'MeshFrontend',
  'MeshFrontendHostname',
  'MeshPorts',
  'MeshHTTPRoute303Redirect',
  'MeshHTTPRoute307Redirect',
  'MeshHTTPRoute308Redirect',
];
