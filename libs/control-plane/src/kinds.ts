/** Kinds `tendril get` knows, with kubectl's plural and short names. */
const KINDS: Array<{ kind: string; names: string[]; clusterScoped?: boolean }> = [
  { kind: 'GatewayClass', names: ['gatewayclasses', 'gc'], clusterScoped: true },
  { kind: 'Gateway', names: ['gateways', 'gtw'] },
  { kind: 'HTTPRoute', names: ['httproutes'] },
  { kind: 'GRPCRoute', names: ['grpcroutes'] },
  { kind: 'TLSRoute', names: ['tlsroutes'] },
  { kind: 'TCPRoute', names: ['tcproutes'] },
  { kind: 'UDPRoute', names: ['udproutes'] },
  { kind: 'ReferenceGrant', names: ['referencegrants', 'refgrant'] },
  { kind: 'ListenerSet', names: ['listenersets', 'lset'] },
  { kind: 'BackendTLSPolicy', names: ['backendtlspolicies', 'btlspolicy'] },
  { kind: 'Namespace', names: ['namespaces', 'ns'], clusterScoped: true },
  { kind: 'Service', names: ['services', 'svc'] },
  { kind: 'EndpointSlice', names: ['endpointslices'] },
  { kind: 'Secret', names: ['secrets'] },
  { kind: 'ConfigMap', names: ['configmaps', 'cm'] },
  { kind: 'Pod', names: ['pods', 'po'] },
  { kind: 'Deployment', names: ['deployments', 'deploy'] },
  { kind: 'ServiceAccount', names: ['serviceaccounts', 'sa'] },
  { kind: 'CiliumNetworkPolicy', names: ['ciliumnetworkpolicies', 'cnp', 'ciliumnp'] },
  { kind: 'CiliumClusterwideNetworkPolicy', names: ['ciliumclusterwidenetworkpolicies', 'ccnp'], clusterScoped: true },
  { kind: 'NetworkPolicy', names: ['networkpolicies', 'netpol'] },
];

/** Resolves "httproutes", "HTTPRoute", "httproute" or a short name to the Kind. */
export function resolveKind(name: string): string | undefined {
  const n = name.toLowerCase();
  return KINDS.find((k) => k.kind.toLowerCase() === n || k.names.includes(n))?.kind;
}

export function knownKindNames(): string[] {
  return KINDS.map((k) => k.names[0]);
}

/** Cluster-scoped kinds ignore -n, as kubectl does. */
export function isClusterScopedKind(kind: string): boolean {
  return KINDS.some((k) => k.kind === kind && k.clusterScoped);
}
