/**
 * The upstream conformance profiles and feature sets, as the suite defines them
 * (sigs.k8s.io/gateway-api conformance/utils/suite/profiles.go and pkg/features, at the commit
 * the exported suite in ../shared/gateway-api was taken from). The inventory lists the features
 * each test needs but not a profile's feature sets: a profile's extended features include ones no
 * test of that profile needs (GATEWAY-GRPC lists the Gateway extended features although its own
 * tests need none), and the report names them all under supportedFeatures / unsupportedFeatures.
 * test/profiles.spec.ts checks these sets against inventory.json's profiles and levels.
 */

const GATEWAY_EXTENDED_FEATURES = [
  'GatewayPort8080',
  'GatewayStaticAddresses',
  'GatewayHTTPListenerIsolation',
  'GatewayHTTPSListenerDetectMisdirectedRequests',
  'GatewayInfrastructurePropagation',
  'GatewayAddressEmpty',
  'ListenerSet',
  'GatewayBackendClientCertificate',
  'GatewayFrontendClientCertificateValidation',
  'GatewayFrontendClientCertificateValidationInsecureFallback',
];

const HTTPROUTE_EXTENDED_FEATURES = [
  'HTTPRouteDestinationPortMatching',
  'HTTPRouteBackendRequestHeaderModification',
  'HTTPRouteQueryParamMatching',
  'HTTPRouteMethodMatching',
  'HTTPRouteResponseHeaderModification',
  'HTTPRoutePortRedirect',
  'HTTPRouteSchemeRedirect',
  'HTTPRoutePathRedirect',
  'HTTPRouteHostRewrite',
  'HTTPRoutePathRewrite',
  'HTTPRouteRequestMirror',
  'HTTPRouteRequestMultipleMirrors',
  'HTTPRouteRequestPercentageMirror',
  'HTTPRouteRequestTimeout',
  'HTTPRouteBackendTimeout',
  'HTTPRouteParentRefPort',
  'HTTPRouteBackendProtocolH2C',
  'HTTPRouteBackendProtocolWebSocket',
  'HTTPRouteNamedRouteRule',
  'HTTPRouteCORS',
  'HTTPRoute303RedirectStatusCode',
  'HTTPRoute307RedirectStatusCode',
  'HTTPRoute308RedirectStatusCode',
  'HTTPRouteRetry',
  'HTTPRouteRetryBackendTimeout',
  'HTTPRouteRetryConnectionError',
  'HTTPRouteBackendURLRewrite',
  'HTTPRouteBackendRequestRedirect',
];

const BACKEND_TLS_POLICY_FEATURES = ['BackendTLSPolicy', 'BackendTLSPolicySANValidation'];
const TLSROUTE_EXTENDED_FEATURES = ['TLSRouteModeTerminate', 'TLSRouteModeMixed'];
const GRPCROUTE_EXTENDED_FEATURES = ['GRPCRouteNamedRouteRule', 'GRPCRouteRequestHeaderModifier'];

const MESH_EXTENDED_FEATURES = [
  'MeshClusterIPMatching',
  'MeshConsumerRoute',
  'MeshHTTPRouteRewritePath',
  'MeshHTTPRouteSchemeRedirect',
  'MeshHTTPRouteRedirectPort',
  'MeshHTTPRouteRedirectPath',
  'MeshHTTPRouteBackendRequestHeaderModification',
  'MeshHTTPRouteQueryParamMatching',
  'MeshHTTPRouteNamedRouteRule',
];

export interface ConformanceProfile {
  name: string;
  /** Supported whenever the profile is requested. */
  core: readonly string[];
  /** Supported only when claimed (the GatewayClass status, --supported-features or --all-features). */
  extended: readonly string[];
}

/** The upstream profiles, by name. */
export const CONFORMANCE_PROFILES: Readonly<Record<string, ConformanceProfile>> = Object.fromEntries(
  [
    { name: 'GATEWAY-HTTP', core: ['Gateway', 'ReferenceGrant', 'HTTPRoute'], extended: [...GATEWAY_EXTENDED_FEATURES, ...HTTPROUTE_EXTENDED_FEATURES, ...BACKEND_TLS_POLICY_FEATURES] },
    { name: 'GATEWAY-TLS', core: ['Gateway', 'ReferenceGrant', 'TLSRoute'], extended: [...GATEWAY_EXTENDED_FEATURES, ...TLSROUTE_EXTENDED_FEATURES, ...BACKEND_TLS_POLICY_FEATURES] },
    // TCPRoute and UDPRoute are also in their profile's extended list upstream (TCPRouteExtendedFeatures, UDPRouteFeatures).
    { name: 'GATEWAY-TCP', core: ['Gateway', 'TCPRoute', 'ReferenceGrant'], extended: [...GATEWAY_EXTENDED_FEATURES, 'TCPRoute'] },
    { name: 'GATEWAY-UDP', core: ['Gateway', 'UDPRoute', 'ReferenceGrant'], extended: [...GATEWAY_EXTENDED_FEATURES, 'UDPRoute'] },
    { name: 'GATEWAY-GRPC', core: ['Gateway', 'ReferenceGrant', 'GRPCRoute'], extended: [...GATEWAY_EXTENDED_FEATURES, ...BACKEND_TLS_POLICY_FEATURES] },
    { name: 'MESH-HTTP', core: ['Mesh', 'HTTPRoute'], extended: MESH_EXTENDED_FEATURES },
    { name: 'MESH-GRPC', core: ['Mesh', 'GRPCRoute'], extended: MESH_EXTENDED_FEATURES },
  ].map((p) => [p.name, p]),
);

/**
 * Every feature the suite knows (upstream features.AllFeatures): what --all-features claims, and
 * the names --supported-features and --exempt-features may use.
 */
export const ALL_FEATURES: readonly string[] = [
  ...new Set([
    'Gateway',
    ...GATEWAY_EXTENDED_FEATURES,
    'ReferenceGrant',
    'HTTPRoute',
    ...HTTPROUTE_EXTENDED_FEATURES,
    'TLSRoute',
    ...TLSROUTE_EXTENDED_FEATURES,
    'TCPRoute',
    'UDPRoute',
    'Mesh',
    ...MESH_EXTENDED_FEATURES,
    'GRPCRoute',
    ...GRPCROUTE_EXTENDED_FEATURES,
    ...BACKEND_TLS_POLICY_FEATURES,
  ]),
].sort();

/** Upstream's profile membership: a test counts in a profile whose core and extended features together cover all of its features. */
export function testCountsIn(profile: ConformanceProfile, features: readonly string[]): boolean {
  return features.every((f) => profile.core.includes(f) || profile.extended.includes(f));
}

/** Upstream isTestExtended: extended as soon as one feature is not a core feature of the profile. */
export function isExtendedIn(profile: ConformanceProfile, features: readonly string[]): boolean {
  return features.some((f) => !profile.core.includes(f));
}

/** The named profile, or a clear error naming the known ones. */
export function conformanceProfile(name: string): ConformanceProfile {
  const profile = CONFORMANCE_PROFILES[name];
  if (!profile) throw new Error(`unknown conformance profile ${name} (known: ${Object.keys(CONFORMANCE_PROFILES).sort().join(', ')})`);
  return profile;
}
