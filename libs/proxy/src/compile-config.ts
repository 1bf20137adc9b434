import * as net from 'node:net';
import {
  HCM_FILTER_NAME,
  HCM_TYPE_URL,
  ROUTER_FILTER_NAME,
  ROUTER_TYPE_URL,
  type ClusterLoadAssignment,
  type ConfigError,
  type HttpConnectionManager,
  type Listener,
  type ProxyConfig,
  type ResourceKind,
} from './config';
import { compileRouteConfiguration, RouteCompileError, type CompiledRouteTable } from './routing/route-table';
import { compileCluster, validateLoadAssignment, type ClusterSpec } from './upstream/cluster';

/** A Listener reduced to what the proxy needs to bind and route. */
export interface ListenerSpec {
  name: string;
  host: string;
  port: number;
  routeConfigName: string | undefined;
  inlineRouteTable: CompiledRouteTable | undefined;
  appendXff: boolean;
  /** HCM upgrade_configs: lower-case upgrade type → enabled by default. */
  upgrades: ReadonlyMap<string, boolean>;
}

export interface CompiledConfig {
  listeners: ListenerSpec[];
  routeTables: Map<string, CompiledRouteTable>;
  clusters: ClusterSpec[];
}

export interface CompileResult {
  /** Undefined when there are errors. */
  compiled: CompiledConfig | undefined;
  errors: ConfigError[];
}

/** Listener filters that are harmless on a cleartext HTTP listener. */
const IGNORED_LISTENER_FILTERS = new Set(['envoy.filters.listener.tls_inspector']);

function compileHttpConnectionManager(hcm: HttpConnectionManager): Pick<ListenerSpec, 'routeConfigName' | 'inlineRouteTable' | 'appendXff' | 'upgrades'> {
  if (hcm.codec_type !== undefined && hcm.codec_type !== 'AUTO' && hcm.codec_type !== 'HTTP1' && hcm.codec_type !== 'HTTP2') {
    throw new Error(`codec_type ${hcm.codec_type} is not supported`);
  }
  if (hcm.scoped_routes !== undefined) throw new Error('scoped_routes is not supported');
  const filters = hcm.http_filters ?? [];
  filters.forEach((filter, index) => {
    const type = filter.typed_config?.['@type'];
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
  return { routeConfigName, inlineRouteTable, appendXff: hcm.skip_xff_append !== true, upgrades };
}

function compileListener(listener: Listener): ListenerSpec {
  const name = listener.name;
  if (!name) throw new Error('name is required');
  const socket = listener.address?.socket_address;
  if (!socket) throw new Error('address.socket_address is required');
  const host = socket.address ?? '';
  if (net.isIP(host) === 0) throw new Error(`address "${host}" is not an IP address`);
  if (socket.protocol === 'UDP') throw new Error('UDP listeners are not supported');
  const port = socket.port_value ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port_value ${port} is out of range`);
  for (const filter of listener.listener_filters ?? []) {
    if (!IGNORED_LISTENER_FILTERS.has(filter.name ?? '')) throw new Error(`listener filter "${filter.name ?? ''}" is not supported`);
  }
  if (listener.default_filter_chain !== undefined) throw new Error('default_filter_chain is not supported');
  const chains = listener.filter_chains ?? [];
  if (chains.length !== 1) throw new Error(`exactly one filter chain is supported, got ${chains.length}`);
  const chain = chains[0];
  if (chain.filter_chain_match !== undefined && Object.keys(chain.filter_chain_match).length > 0) throw new Error('filter_chain_match is not supported');
  if (chain.transport_socket !== undefined) throw new Error('TLS listeners (transport_socket) are not supported');
  const filters = chain.filters ?? [];
  if (filters.length !== 1) throw new Error(`the filter chain must hold exactly one ${HCM_FILTER_NAME}`);
  const filter = filters[0];
  const type = filter.typed_config?.['@type'];
  if (type !== HCM_TYPE_URL) throw new Error(`unknown network filter "${filter.name ?? ''}"${type ? ` (${type})` : ''}`);
  return { name, host, port, ...compileHttpConnectionManager(filter.typed_config as HttpConnectionManager) };
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
      const spec = compileListener(listener);
      if (listenerNames.has(spec.name)) throw new Error('duplicate listener name');
      listenerNames.add(spec.name);
      const address = `${spec.host}:${spec.port}`;
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

  return { compiled: errors.length === 0 ? { listeners, routeTables, clusters } : undefined, errors };
}

/**
 * What the proxy cannot serve in `config`, without touching sockets. A route naming an unknown
 * cluster is not an error (Envoy answers 503 for it). ProxyRuntime.validate() also checks that
 * new listener addresses can be bound.
 */
export function validateConfig(config: ProxyConfig): ConfigError[] {
  return compileConfig(config).errors;
}
