import * as net from 'node:net';
import type * as tls from 'node:tls';
import {
  HCM_FILTER_NAME,
  HCM_TYPE_URL,
  KAFKA_POLICY_TYPE_URL,
  L7_POLICY_TYPE_URL,
  ROUTER_FILTER_NAME,
  ROUTER_TYPE_URL,
  TCP_PROXY_TYPE_URL,
  type ClusterLoadAssignment,
  type ConfigError,
  type HttpConnectionManager,
  type Listener,
  type ProxyConfig,
  type ResourceKind,
  type TcpProxy,
} from './config';
import { ConnectionChainSelector, parseCidrRange, type ConnectionMatch } from './filter-chain-match';
import { HostIdentityIndex } from './host-identities';
import { L7PolicyIndex } from './l7-policy';
import type { TcpProxyChain, TcpProxyChains } from './tcp-proxy-listener';
import { compileUdpProxy } from './udp-proxy-config';
import type { UdpProxySpec } from './udp-proxy-listener';
import { CORS_FILTER_NAME, CORS_FILTER_TYPE_URL } from './routing/cors-policy';
import { compileRouteConfiguration, RouteCompileError, type CompiledRouteTable } from './routing/route-table';
import { compileSecret, secureContextFor, type CertificateKeyPair } from './tls/certificates';
import { compileDownstreamTls, type ClientValidationSpec, type DownstreamTlsSpec } from './tls/downstream-tls';
import { ServerNameIndex } from './tls/server-names';
import { compileCluster, validateLoadAssignment, type ClusterSpec } from './upstream/cluster';

/** What an HttpConnectionManager needs to route. */
export interface HttpConnectionManagerSpec {
  routeConfigName: string | undefined;
  inlineRouteTable: CompiledRouteTable | undefined;
  appendXff: boolean;
  /** HCM upgrade_configs: lower-case upgrade type → enabled by default. */
  upgrades: ReadonlyMap<string, boolean>;
  /** Set by the tendril.l7policy HTTP filter: each request is checked against the L7 policy of its redirect. */
  l7Policy?: { isIngress: boolean };
  /** The envoy.filters.http.cors filter is in the chain: routes' CorsPolicy configs apply. */
  cors?: boolean;
}

/**
 * A Listener reduced to what the proxy needs to bind and route. A cleartext listener routes with
 * its own HCM fields; a TLS listener's HCM fields route nothing (404) and each of its `tls` chains
 * routes the connections whose SNI selected it.
 */
export interface ListenerSpec extends HttpConnectionManagerSpec {
  name: string;
  host: string;
  port: number;
  tls?: TlsListenerSpec;
  /** Set when the listener's chains are tcp_proxy filters (TLS passthrough or plain TCP); it then serves no HTTP. */
  tcpProxy?: TcpProxyChains;
  /** Set on a UDP listener (socket_address.protocol UDP): its udp_proxy listener filter relays datagrams; no chains, no HTTP. */
  udpProxy?: UdpProxySpec;
  /**
   * Cleartext chains chosen per connection by destination port/IP and source IP (the listener's
   * own HCM fields are then unused); `fallback` is the default_filter_chain, without which an
   * unmatched connection is closed.
   */
  connectionChains?: { selector: ConnectionChainSelector<ConnectionChainSpec>; fallback: ConnectionChainSpec | undefined };
  /** Listener.transparent: bound with IP_TRANSPARENT, to accept connections the datapath steers to it. */
  transparent: boolean;
  /** Set by the tendril.bpf_metadata listener filter: connections are datapath redirects (see transparent.ts). */
  redirect?: RedirectListenerSpec;
}

export interface ConnectionChainSpec extends HttpConnectionManagerSpec {
  /** The filter chain's name, `#<index>`, or `default`. */
  name: string;
}

export interface RedirectListenerSpec {
  isIngress: boolean;
  /** Empty for the default pin directory. */
  bpfRoot: string;
  /** Identities come from NPHDS (the config's NetworkPolicyHosts) instead of the pinned ipcache. */
  useNphds: boolean;
  /**
   * is_l7lb: the mesh listener, an L7 load balancer for Service frontends. Each request is checked
   * against the client's egress policy for the backend the proxy picks, and the upstream
   * connection carries the client's identity (see upstream/client-identity-endpoints.ts).
   */
  l7LoadBalancer: boolean;
}

export interface TlsChainSpec extends HttpConnectionManagerSpec {
  /** The filter chain's name, or `#<index>`. */
  name: string;
  serverNames: string[];
  /** Undefined while an SDS Secret it names has not arrived: its handshakes fail until then (Envoy keeps such a chain warming). */
  secureContext: tls.SecureContext | undefined;
  /** Secrets named but not (yet) received. */
  missingSecrets: string[];
  alpnProtocols: string[];
  /** Client certificates are requested and checked after the handshake. */
  clientValidation?: ClientValidationSpec;
}

export interface TlsListenerSpec {
  chains: TlsChainSpec[];
  /** The chain a client's SNI selects. */
  byServerName: ServerNameIndex<TlsChainSpec>;
}

export interface CompiledConfig {
  listeners: ListenerSpec[];
  routeTables: Map<string, CompiledRouteTable>;
  clusters: ClusterSpec[];
  policies: L7PolicyIndex;
  /** NPHDS: identities by address for redirect listeners with use_nphds. */
  hosts: HostIdentityIndex;
}

export interface CompileResult {
  /** Undefined when there are errors. */
  compiled: CompiledConfig | undefined;
  errors: ConfigError[];
}

export const TLS_INSPECTOR_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
export const ORIGINAL_DST_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst';
export const BPF_METADATA_TYPE_URL = 'type.googleapis.com/tendril.proxy.v1.BpfMetadata';

/** A listener filter by its typed_config type, or by its well-known name when it has none. */
function listenerFilterType(filter: NonNullable<Listener['listener_filters']>[number]): string | undefined {
  const type = filter.typed_config?.['@type'];
  if (type !== undefined) return type;
  switch (filter.name) {
    case 'envoy.filters.listener.tls_inspector':
      return TLS_INSPECTOR_TYPE_URL;
    case 'envoy.filters.listener.original_dst':
      return ORIGINAL_DST_TYPE_URL;
    default:
      return undefined;
  }
}

/** A TLS listener's own HCM fields: connections are routed by their chain, never by these. */
const NO_ROUTES: HttpConnectionManagerSpec = { routeConfigName: undefined, inlineRouteTable: undefined, appendXff: true, upgrades: new Map() };

function compileHttpConnectionManager(hcm: HttpConnectionManager): HttpConnectionManagerSpec {
  if (hcm.codec_type !== undefined && hcm.codec_type !== 'AUTO' && hcm.codec_type !== 'HTTP1' && hcm.codec_type !== 'HTTP2') {
    throw new Error(`codec_type ${hcm.codec_type} is not supported`);
  }
  if (hcm.scoped_routes !== undefined) throw new Error('scoped_routes is not supported');
  const filters = hcm.http_filters ?? [];
  let l7Policy: { isIngress: boolean } | undefined;
  let cors = false;
  filters.forEach((filter, index) => {
    const type = filter.typed_config?.['@type'];
    if (type === CORS_FILTER_TYPE_URL || (type === undefined && filter.name === CORS_FILTER_NAME)) {
      if (index === filters.length - 1) throw new Error('the router filter must be the last HTTP filter');
      cors = true;
      return;
    }
    if (type === L7_POLICY_TYPE_URL) {
      if (index === filters.length - 1) throw new Error('the router filter must be the last HTTP filter');
      const isIngress = (filter.typed_config as { is_ingress?: unknown }).is_ingress;
      if (isIngress !== undefined && typeof isIngress !== 'boolean') throw new Error('tendril.l7policy: is_ingress must be a boolean');
      l7Policy = { isIngress: isIngress === true };
      return;
    }
    const isRouter = type === ROUTER_TYPE_URL || (type === undefined && filter.name === ROUTER_FILTER_NAME);
    if (!isRouter) throw new Error(`unknown HTTP filter "${filter.name ?? ''}"${type ? ` (${type})` : ''}`);
    if (index !== filters.length - 1) throw new Error('the router filter must be the last HTTP filter');
  });
  if (filters.length === 0) throw new Error(`http_filters must end with ${ROUTER_FILTER_NAME}`);
  let routeConfigName: string | undefined;
  let inlineRouteTable: CompiledRouteTable | undefined;
  if (hcm.rds !== undefined) {
    if (!hcm.rds.route_config_name) throw new Error('rds.route_config_name is required');
    routeConfigName = hcm.rds.route_config_name;
  } else if (hcm.route_config !== undefined) {
    try {
      inlineRouteTable = compileRouteConfiguration(hcm.route_config);
    } catch (err) {
      throw new Error(`route_config: ${(err as Error).message}`);
    }
  } else {
    throw new Error('HttpConnectionManager needs rds or route_config');
  }
  const upgrades = new Map<string, boolean>();
  for (const upgrade of hcm.upgrade_configs ?? []) {
    const type = (upgrade.upgrade_type ?? '').toLowerCase();
    if (type === '') throw new Error('upgrade_configs entry has no upgrade_type');
    if (type === 'connect') throw new Error('CONNECT upgrades are not supported');
    if ((upgrade.filters?.length ?? 0) > 0) throw new Error(`upgrade_configs "${type}" filters are not supported`);
    upgrades.set(type, upgrade.enabled !== false);
  }
  return { routeConfigName, inlineRouteTable, appendXff: hcm.skip_xff_append !== true, upgrades, ...(l7Policy ? { l7Policy } : {}), ...(cors ? { cors } : {}) };
}

type FilterChain = NonNullable<Listener['filter_chains']>[number];

/** `label` names the chain in errors when the listener has several. */
function compileChainFilters(chain: FilterChain, label?: string): HttpConnectionManagerSpec {
  const filters = chain.filters ?? [];
  if (filters.length !== 1) throw new Error(`${label ?? 'the filter chain'} must hold exactly one ${HCM_FILTER_NAME}`);
  const filter = filters[0];
  const type = filter.typed_config?.['@type'];
  if (type !== HCM_TYPE_URL) throw new Error(`${label ? `${label}: ` : ''}unknown network filter "${filter.name ?? ''}"${type ? ` (${type})` : ''}`);
  return compileHttpConnectionManager(filter.typed_config as HttpConnectionManager);
}

/** The server_names of a TLS chain's match; other match criteria would select connections this proxy cannot tell apart. */
function serverNamesOf(chain: FilterChain, label: string): string[] {
  const match = chain.filter_chain_match ?? {};
  for (const [field, value] of Object.entries(match)) {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    if (field === 'server_names') continue;
    if (field === 'transport_protocol' && value === 'tls') continue;
    throw new Error(`${label}: filter_chain_match.${field} is not supported`);
  }
  return [...(match.server_names ?? [])];
}

function compileTlsChains(chains: readonly FilterChain[], secrets: ReadonlyMap<string, CertificateKeyPair>): TlsListenerSpec {
  const byServerName = new ServerNameIndex<TlsChainSpec>();
  const compiled = chains.map((chain, index): TlsChainSpec => {
    const label = `filter chain ${chain.name ? JSON.stringify(chain.name) : `#${index}`}`;
    if (chain.transport_socket === undefined) throw new Error(`${label}: a listener cannot mix TLS and cleartext filter chains`);
    let tlsSpec: DownstreamTlsSpec;
    try {
      tlsSpec = compileDownstreamTls(chain.transport_socket);
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    }
    const missingSecrets = tlsSpec.secretNames.filter((n) => !secrets.has(n));
    const pairs = [...tlsSpec.inlineCertificates, ...tlsSpec.secretNames.flatMap((n) => secrets.get(n) ?? [])];
    let secureContext: tls.SecureContext | undefined;
    if (missingSecrets.length === 0) {
      try {
        secureContext = secureContextFor(pairs, tlsSpec.clientValidation?.trustedCa);
      } catch (err) {
        throw new Error(`${label}: its certificates cannot be served together (${(err as Error).message})`);
      }
    }
    const spec: TlsChainSpec = {
      name: chain.name || `#${index}`,
      serverNames: serverNamesOf(chain, label),
      secureContext,
      missingSecrets,
      alpnProtocols: tlsSpec.alpnProtocols,
      ...(tlsSpec.clientValidation ? { clientValidation: tlsSpec.clientValidation } : {}),
      ...compileChainFilters(chain, label),
    };
    try {
      byServerName.add(spec.serverNames, spec);
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    }
    return spec;
  });
  return { chains: compiled, byServerName };
}

function isTcpProxyChain(chain: FilterChain): boolean {
  return (chain.filters ?? []).some((f) => f.typed_config?.['@type'] === TCP_PROXY_TYPE_URL);
}

/** A tcp_proxy's `cluster`, or its `weighted_clusters` (positive integer weights; a weight 0 entry never gets a connection). */
function tcpProxyClusters(tcp: TcpProxy, label: string): TcpProxyChain['clusters'] {
  if (tcp.cluster && tcp.weighted_clusters !== undefined) throw new Error(`${label}: tcp_proxy has both cluster and weighted_clusters`);
  if (tcp.cluster) return [{ name: tcp.cluster, weight: 1 }];
  if (tcp.weighted_clusters === undefined) throw new Error(`${label}: tcp_proxy needs a cluster or weighted_clusters`);
  const clusters: Array<{ name: string; weight: number }> = [];
  for (const entry of tcp.weighted_clusters.clusters ?? []) {
    if (!entry.name) throw new Error(`${label}: a tcp_proxy weighted_clusters entry has no name`);
    const weight = entry.weight ?? 0;
    if (!Number.isInteger(weight) || weight < 0) throw new Error(`${label}: tcp_proxy weighted_clusters entry "${entry.name}" has invalid weight ${weight}`);
    if (weight > 0) clusters.push({ name: entry.name, weight });
  }
  if (clusters.length === 0) throw new Error(`${label}: tcp_proxy weighted_clusters total weight must be greater than 0`);
  return clusters;
}

function compileKafkaPolicy(config: unknown): { isIngress: boolean } {
  const isIngress = (config as { is_ingress?: unknown }).is_ingress;
  if (isIngress !== undefined && typeof isIngress !== 'boolean') throw new Error('tendril.kafkapolicy: is_ingress must be a boolean');
  return { isIngress: isIngress === true };
}

/** tcp_proxy chains, told apart by server_names read from the ClientHello (TLS passthrough) or a single plain one. */
function compileTcpProxyChains(chains: readonly FilterChain[], secrets: ReadonlyMap<string, CertificateKeyPair>): TcpProxyChains {
  const byServerName = new ServerNameIndex<TcpProxyChain>();
  let inspectsServerName = false;
  chains.forEach((chain, index) => {
    const label = `filter chain ${chain.name ? JSON.stringify(chain.name) : `#${index}`}`;
    // A chain with a transport_socket terminates TLS and relays the plaintext (TLSRoute Terminate mode).
    const terminate = chain.transport_socket !== undefined ? compileTerminatingChain(chain.transport_socket, secrets, label) : undefined;
    const filters = chain.filters ?? [];
    const kafkaPolicy = filters.length === 2 && filters[0].typed_config?.['@type'] === KAFKA_POLICY_TYPE_URL ? compileKafkaPolicy(filters[0].typed_config) : undefined;
    const tcp = filters[kafkaPolicy ? 1 : 0];
    if (filters.length !== (kafkaPolicy ? 2 : 1) || tcp.typed_config?.['@type'] !== TCP_PROXY_TYPE_URL) {
      throw new Error(`${label}: a listener's chains must all be one tcp_proxy filter (after a tendril.kafkapolicy filter, if any), or all one ${HCM_FILTER_NAME}`);
    }
    const clusters = tcpProxyClusters(tcp.typed_config as unknown as TcpProxy, label);
    const serverNames = serverNamesOf(chain, label);
    if (serverNames.length > 0) inspectsServerName = true;
    try {
      byServerName.add(serverNames, { name: chain.name || `#${index}`, clusters, ...(kafkaPolicy ? { kafkaPolicy } : {}), ...(terminate ? { terminate } : {}) });
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    }
  });
  return { byServerName, inspectsServerName };
}

/** The TLS a terminating tcp_proxy chain serves: its certificates (no ALPN, no client certificates). */
function compileTerminatingChain(socket: NonNullable<FilterChain['transport_socket']>, secrets: ReadonlyMap<string, CertificateKeyPair>, label: string): NonNullable<TcpProxyChain['terminate']> {
  let spec: DownstreamTlsSpec;
  try {
    spec = compileDownstreamTls(socket);
  } catch (err) {
    throw new Error(`${label}: ${(err as Error).message}`);
  }
  if (spec.clientValidation) throw new Error(`${label}: client certificate validation on a tcp_proxy chain is not supported`);
  const missing = spec.secretNames.filter((n) => !secrets.has(n));
  if (missing.length > 0) return { secureContext: undefined };
  try {
    return { secureContext: secureContextFor([...spec.inlineCertificates, ...spec.secretNames.flatMap((n) => secrets.get(n) ?? [])]) };
  } catch (err) {
    throw new Error(`${label}: its certificates cannot be served together (${(err as Error).message})`);
  }
}

/** A cleartext chain's filter_chain_match, restricted to what a connection carries before its first byte. */
function connectionMatchOf(chain: FilterChain, label: string): ConnectionMatch {
  const match = chain.filter_chain_match ?? {};
  for (const [field, value] of Object.entries(match)) {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    if (field === 'destination_port' || field === 'prefix_ranges' || field === 'source_prefix_ranges') continue;
    if (field === 'transport_protocol' && value === 'raw_buffer') continue;
    throw new Error(`${label}: filter_chain_match.${field} is not supported on a cleartext chain`);
  }
  const port = match.destination_port;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new Error(`${label}: destination_port ${port} is out of range`);
  return {
    destinationPort: port,
    destinationPrefixes: (match.prefix_ranges ?? []).map((r) => parseCidrRange(r, `${label}: prefix_ranges`)),
    sourcePrefixes: (match.source_prefix_ranges ?? []).map((r) => parseCidrRange(r, `${label}: source_prefix_ranges`)),
  };
}

function compileConnectionChains(chains: readonly FilterChain[], fallback: FilterChain | undefined): NonNullable<ListenerSpec['connectionChains']> {
  const selector = new ConnectionChainSelector<ConnectionChainSpec>();
  chains.forEach((chain, index) => {
    const label = `filter chain ${chain.name ? JSON.stringify(chain.name) : `#${index}`}`;
    if (chain.transport_socket !== undefined) throw new Error(`${label}: a listener cannot mix TLS and cleartext filter chains`);
    const match = connectionMatchOf(chain, label);
    const spec: ConnectionChainSpec = { name: chain.name || `#${index}`, ...compileChainFilters(chain, label) };
    try {
      selector.add(match, spec);
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    }
  });
  let fallbackSpec: ConnectionChainSpec | undefined;
  if (fallback !== undefined) {
    if (fallback.transport_socket !== undefined) throw new Error('default_filter_chain: TLS is not supported on it');
    fallbackSpec = { name: fallback.name || 'default', ...compileChainFilters(fallback, 'default_filter_chain') };
  }
  return { selector, fallback: fallbackSpec };
}

function compileRedirect(filter: NonNullable<Listener['listener_filters']>[number]): RedirectListenerSpec {
  const config = filter.typed_config as { is_ingress?: unknown; bpf_root?: unknown; use_nphds?: unknown; is_l7lb?: unknown };
  if (config.is_ingress !== undefined && typeof config.is_ingress !== 'boolean') throw new Error('tendril.bpf_metadata: is_ingress must be a boolean');
  if (config.bpf_root !== undefined && typeof config.bpf_root !== 'string') throw new Error('tendril.bpf_metadata: bpf_root must be a string');
  if (config.use_nphds !== undefined && typeof config.use_nphds !== 'boolean') throw new Error('tendril.bpf_metadata: use_nphds must be a boolean');
  if (config.is_l7lb !== undefined && typeof config.is_l7lb !== 'boolean') throw new Error('tendril.bpf_metadata: is_l7lb must be a boolean');
  // The L7 load balancer enforces the client's egress policy; an ingress listener has no client-side policy to apply.
  if (config.is_l7lb === true && config.is_ingress === true) throw new Error('tendril.bpf_metadata: is_l7lb is only for an egress listener (is_ingress false)');
  return { isIngress: config.is_ingress === true, bpfRoot: (config.bpf_root as string | undefined) ?? '', useNphds: config.use_nphds === true, l7LoadBalancer: config.is_l7lb === true };
}

function compileListener(listener: Listener, secrets: ReadonlyMap<string, CertificateKeyPair>): ListenerSpec {
  const name = listener.name;
  if (!name) throw new Error('name is required');
  const socket = listener.address?.socket_address;
  if (!socket) throw new Error('address.socket_address is required');
  const host = socket.address ?? '';
  if (net.isIP(host) === 0) throw new Error(`address "${host}" is not an IP address`);
  const port = socket.port_value ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port_value ${port} is out of range`);
  if (socket.protocol === 'UDP') return { name, host, port, transparent: false, ...NO_ROUTES, udpProxy: compileUdpProxy(listener) };
  const transparent = listener.transparent === true;
  let redirect: RedirectListenerSpec | undefined;
  let originalDestination = false;
  for (const filter of listener.listener_filters ?? []) {
    const type = listenerFilterType(filter);
    if (type === TLS_INSPECTOR_TYPE_URL) continue;
    if (type === ORIGINAL_DST_TYPE_URL) {
      // A transparent socket's local address already is the original destination.
      if (!transparent) throw new Error('the original_dst listener filter needs transparent: true (redirects reach this proxy only through IP_TRANSPARENT sockets)');
      originalDestination = true;
      continue;
    }
    if (type === BPF_METADATA_TYPE_URL) {
      redirect = compileRedirect(filter);
      continue;
    }
    throw new Error(`listener filter "${filter.name ?? ''}"${type ? ` (${type})` : ''} is not supported`);
  }
  if (redirect !== undefined && !originalDestination) throw new Error('tendril.bpf_metadata needs the original_dst listener filter before it');
  const base = { name, host, port, transparent, ...(redirect ? { redirect } : {}) };
  const chains = listener.filter_chains ?? [];
  const fallback = listener.default_filter_chain;
  if (chains.length > 0 && chains.some(isTcpProxyChain)) {
    if (redirect?.l7LoadBalancer) throw new Error('tendril.bpf_metadata: is_l7lb needs HTTP connection manager chains (the L7 load balancer checks policy per request)');
    if (fallback !== undefined) throw new Error('default_filter_chain is not supported with tcp_proxy chains');
    const tcpProxy = compileTcpProxyChains(chains, secrets);
    // The Kafka rules are looked up by the redirect's endpoint and identities, which only tendril.bpf_metadata knows.
    if (!redirect && chains.some((c) => c.filters?.[0]?.typed_config?.['@type'] === KAFKA_POLICY_TYPE_URL)) throw new Error('tendril.kafkapolicy needs the tendril.bpf_metadata listener filter');
    return { ...base, ...NO_ROUTES, tcpProxy };
  }
  if (chains.some((c) => c.transport_socket !== undefined)) {
    if (fallback !== undefined) throw new Error('default_filter_chain is not supported on a TLS listener');
    return { ...base, ...NO_ROUTES, tls: compileTlsChains(chains, secrets) };
  }
  const chain = chains[0];
  const hasMatch = chain?.filter_chain_match !== undefined && Object.keys(chain.filter_chain_match).length > 0;
  if (chains.length === 1 && !hasMatch && fallback === undefined) return { ...base, ...compileChainFilters(chain) };
  if (chains.length === 0 && fallback === undefined) throw new Error('a listener needs a filter chain or a default_filter_chain');
  return { ...base, ...NO_ROUTES, connectionChains: compileConnectionChains(chains, fallback) };
}

/**
 * Checks and compiles a full config in one pass. Every problem is reported (not just the first)
 * so the xDS client's NACK says everything that is wrong.
 */
export function compileConfig(config: ProxyConfig): CompileResult {
  const errors: ConfigError[] = [];
  const fail = (kind: ResourceKind, resource: string, err: unknown): void => {
    errors.push({ kind, resource, message: err instanceof Error ? err.message : String(err) });
  };
  const resourceName = (name: string | undefined, index: number): string => name || `#${index}`;

  // Secrets first: TLS listeners build their secure contexts from them.
  const secrets = new Map<string, CertificateKeyPair>();
  const genericSecrets = new Map<string, string>();
  (config.secrets ?? []).forEach((secret, index) => {
    if (typeof secret !== 'object' || secret === null) return fail('Secret', `#${index}`, new Error('not an object'));
    const name = resourceName(secret.name, index);
    if (!secret.name) return fail('Secret', name, new Error('name is required'));
    if (secrets.has(secret.name) || genericSecrets.has(secret.name)) return fail('Secret', name, new Error('duplicate secret name'));
    try {
      const compiled = compileSecret(secret);
      if ('certificate' in compiled) secrets.set(secret.name, compiled.certificate);
      else genericSecrets.set(secret.name, compiled.generic);
    } catch (err) {
      fail('Secret', name, err);
    }
  });

  const listeners: ListenerSpec[] = [];
  const listenerNames = new Set<string>();
  const addresses = new Map<string, string>();
  (config.listeners ?? []).forEach((listener, index) => {
    if (typeof listener !== 'object' || listener === null) return fail('Listener', `#${index}`, new Error('not an object'));
    // API listeners are for proxyless gRPC clients, which read them from the same xDS server;
    // they have no socket for this proxy to bind (Envoy skips them the same way).
    if (listener.api_listener !== undefined) return;
    const name = resourceName(listener.name, index);
    try {
      const spec = compileListener(listener, secrets);
      if (listenerNames.has(spec.name)) throw new Error('duplicate listener name');
      listenerNames.add(spec.name);
      // A UDP socket and a TCP socket may share an address and port.
      const address = `${spec.host}:${spec.port}${spec.udpProxy ? '/udp' : ''}`;
      const other = addresses.get(address);
      if (spec.port !== 0 && other !== undefined) throw new Error(`address ${address} is also used by listener "${other}"`);
      addresses.set(address, spec.name);
      listeners.push(spec);
    } catch (err) {
      fail('Listener', name, err);
    }
  });

  const routeTables = new Map<string, CompiledRouteTable>();
  (config.routes ?? []).forEach((route, index) => {
    if (typeof route !== 'object' || route === null) return fail('RouteConfiguration', `#${index}`, new Error('not an object'));
    const name = resourceName(route.name, index);
    if (!route.name) return fail('RouteConfiguration', name, new Error('name is required'));
    if (routeTables.has(route.name)) return fail('RouteConfiguration', name, new Error('duplicate route configuration name'));
    try {
      routeTables.set(route.name, compileRouteConfiguration(route));
    } catch (err) {
      if (err instanceof RouteCompileError) for (const problem of err.problems) fail('RouteConfiguration', name, new Error(problem));
      else fail('RouteConfiguration', name, err);
    }
  });

  const assignments = new Map<string, ClusterLoadAssignment>();
  (config.endpoints ?? []).forEach((assignment, index) => {
    if (typeof assignment !== 'object' || assignment === null) return fail('ClusterLoadAssignment', `#${index}`, new Error('not an object'));
    const name = resourceName(assignment.cluster_name, index);
    try {
      validateLoadAssignment(assignment);
      if (assignments.has(name)) throw new Error('duplicate ClusterLoadAssignment');
      assignments.set(name, assignment);
    } catch (err) {
      fail('ClusterLoadAssignment', name, err);
    }
  });

  const clusters: ClusterSpec[] = [];
  const clusterNames = new Set<string>();
  (config.clusters ?? []).forEach((cluster, index) => {
    if (typeof cluster !== 'object' || cluster === null) return fail('Cluster', `#${index}`, new Error('not an object'));
    const name = resourceName(cluster.name, index);
    try {
      const spec = compileCluster(cluster, assignments);
      if (clusterNames.has(spec.name)) throw new Error('duplicate cluster name');
      clusterNames.add(spec.name);
      clusters.push(spec);
    } catch (err) {
      fail('Cluster', name, err);
    }
  });

  // Header matches read their expected value from the generic secrets of this same config, so a
  // rotated Secret changes enforcement without a new NetworkPolicy.
  const policies = L7PolicyIndex.compile(config.networkPolicies ?? [], (name) => genericSecrets.get(name));
  errors.push(...policies.errors);
  const hosts = HostIdentityIndex.compile(config.networkPolicyHosts ?? []);
  errors.push(...hosts.errors);

  return {
    compiled: errors.length === 0 && policies.index && hosts.index ? { listeners, routeTables, clusters, policies: policies.index, hosts: hosts.index } : undefined,
    errors,
  };
}

/**
 * What the proxy cannot serve in `config`, without touching sockets. A route naming an unknown
 * cluster is not an error (Envoy answers 503 for it). ProxyRuntime.validate() also checks that
 * new listener addresses can be bound.
 */
export function validateConfig(config: ProxyConfig): ConfigError[] {
  return compileConfig(config).errors;
}
