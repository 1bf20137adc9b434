import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { isFlushable, stdoutAccessLog, type AccessLogSink } from './access-log';
import { HostIdentityIndex } from './host-identities';
import { compileConfig, type HttpConnectionManagerSpec, type ListenerSpec } from './compile-config';
import type { ConfigError, ProxyConfig } from './config';
import { HttpListener, type ConnectionRouting, type RequestHandler, type TlsChain, type TransparentBinding } from './listener';
import type { TransparentNetwork } from './transparent';
import { silentLogger, type ProxyLogger } from './logger';
import { Router, type ListenerRoutes, type RoutingState } from './router';
import { TcpProxyListener } from './tcp-proxy-listener';
import { UdpProxyListener } from './udp-proxy-listener';
import { ServerNameIndex } from './tls/server-names';
import { UpgradeProxy } from './upgrade';
import { ClusterManager } from './upstream/cluster-manager';

export interface ProxyRuntimeOptions {
  logger?: ProxyLogger;
  /** Receives one entry per request; defaults to a JSON line on stdout. */
  accessLog?: AccessLogSink;
  /** How long a removed listener (or close()) waits for in-flight requests before cutting them. Default 30s. */
  drainTimeoutMs?: number;
  /**
   * What transparent listeners (Listener.transparent, the datapath's L7 redirects) and the marked
   * upstream sockets of ORIGINAL_DST clusters need; libs/datapath provides it as root. Without it
   * a transparent listener is rejected.
   */
  transparentNetwork?: TransparentNetwork;
}

export interface BoundListener {
  name: string;
  address: string;
  /** The port actually bound: differs from the Listener's port_value when that is 0. */
  port: number;
}

export interface ApplyResult {
  /** False when the config was rejected; the previous config keeps serving. */
  accepted: boolean;
  errors: ConfigError[];
  /** The listeners serving after this call. */
  listeners: BoundListener[];
}

/** Listeners on a fixed port are identified by address so a renamed Listener keeps its socket. */
function listenerKey(spec: ListenerSpec): string {
  // HTTP and tcp_proxy listeners are served by different classes, and a transparent socket is bound
  // differently, so a change of kind is a new listener.
  const kind = `${spec.tcpProxy ? '/tcp' : ''}${spec.udpProxy ? '/udp' : ''}${spec.transparent ? '/transparent' : ''}${spec.redirect ? (spec.redirect.isIngress ? '/ingress' : '/egress') : ''}${spec.redirect?.useNphds ? '/nphds' : ''}`;
  return spec.port === 0 ? `${spec.host}:0/${spec.name}${kind}` : `${spec.host}:${spec.port}${kind}`;
}

type ServingListener = HttpListener | TcpProxyListener | UdpProxyListener;

function nameOf(listener: ServingListener): string {
  return listener instanceof HttpListener ? listener.routes.listenerName : listener.listenerName;
}

function routesOf(listenerName: string, hcm: HttpConnectionManagerSpec): ListenerRoutes {
  return {
    listenerName,
    routeConfigName: hcm.routeConfigName,
    inlineRouteTable: hcm.inlineRouteTable,
    appendXff: hcm.appendXff,
    upgrades: hcm.upgrades,
    ...(hcm.l7Policy ? { l7Policy: hcm.l7Policy } : {}),
    ...(hcm.cors ? { cors: true } : {}),
  };
}

/** A TLS listener's chains as its socket serves them; undefined for a cleartext listener. */
function tlsChainsOf(spec: ListenerSpec): ServerNameIndex<TlsChain> | undefined {
  if (!spec.tls) return undefined;
  const index = new ServerNameIndex<TlsChain>();
  for (const chain of spec.tls.chains) {
    index.add(chain.serverNames, { routes: routesOf(spec.name, chain), secureContext: chain.secureContext, alpnProtocols: chain.alpnProtocols, ...(chain.clientValidation ? { clientValidation: chain.clientValidation } : {}) });
  }
  return index;
}

/** A listener's per-connection chain selection, with each chain's routes made once. */
function connectionRoutingOf(spec: ListenerSpec): ConnectionRouting | undefined {
  if (!spec.connectionChains) return undefined;
  const { selector, fallback } = spec.connectionChains;
  const routes = new Map(selector.values().map((chain) => [chain, routesOf(spec.name, chain)] as const));
  const fallbackRoutes = fallback ? routesOf(spec.name, fallback) : undefined;
  return {
    select: (addresses) => {
      const chain = selector.select(addresses);
      return chain ? routes.get(chain) : fallbackRoutes;
    },
  };
}

/** Why this runtime cannot serve a transparent listener, or undefined when it can. */
function transparentProblem(spec: ListenerSpec, network: TransparentNetwork | undefined): ConfigError | undefined {
  if (!spec.transparent && !spec.redirect) return undefined;
  const fail = (message: string): ConfigError => ({ kind: 'Listener', resource: spec.name, message });
  if (!network) return fail('transparent listeners need the eBPF datapath (run the proxy as root on a node whose agent loaded it)');
  if (spec.tls) return fail('a transparent listener cannot terminate TLS');
  if (spec.tcpProxy?.inspectsServerName) return fail('a transparent tcp_proxy listener cannot choose chains by server name');
  if (spec.redirect && spec.redirect.bpfRoot !== '' && spec.redirect.bpfRoot !== network.bpfRoot) {
    return fail(`tendril.bpf_metadata: bpf_root ${spec.redirect.bpfRoot} is not the datapath's (${network.bpfRoot})`);
  }
  return undefined;
}

function describeBindError(spec: ListenerSpec, err: unknown): ConfigError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason =
    code === 'EADDRINUSE'
      ? 'address already in use'
      : code === 'EADDRNOTAVAIL'
        ? 'address not available on this host'
        : code === 'EACCES'
          ? 'permission denied'
          : (err as Error).message;
  return { kind: 'Listener', resource: spec.name, message: `cannot bind ${spec.host}:${spec.port}: ${reason}` };
}

function probeBind(host: string, port: number, udp: boolean): Promise<void> {
  if (udp) {
    return new Promise((resolve, reject) => {
      const probe = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
      probe.once('error', (err) => {
        probe.close();
        reject(err);
      });
      probe.bind({ address: host, port, exclusive: true }, () => probe.close(() => resolve()));
    });
  }
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * tendril-proxy's data plane: serves the Envoy Listener / RouteConfiguration / Cluster /
 * ClusterLoadAssignment resources it is given. apply() is all-or-nothing: a config that cannot be
 * served (including a listener address that cannot be bound) is rejected and the previous one
 * keeps serving. Updates never drop in-flight requests.
 */
export class ProxyRuntime {
  private readonly logger: ProxyLogger;
  private readonly drainTimeoutMs: number;
  private readonly router: Router;
  private readonly accessLog: AccessLogSink;
  private readonly upgrades: UpgradeProxy;
  private readonly clusterManager: ClusterManager;
  private readonly transparentNetwork: TransparentNetwork | undefined;
  private readonly listeners = new Map<string, ServingListener>();
  private readonly drains = new Set<Promise<void>>();
  private state: RoutingState = { routeTables: new Map(), clusters: new Map() };
  /** NPHDS as last applied: where use_nphds listeners look identities up (read per connection, so updates apply at once). */
  private hosts = HostIdentityIndex.EMPTY;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: ProxyRuntimeOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.transparentNetwork = options.transparentNetwork;
    this.clusterManager = new ClusterManager(options.transparentNetwork);
    const accessLog = options.accessLog ?? stdoutAccessLog;
    this.accessLog = accessLog;
    this.router = new Router(() => this.state, accessLog, this.logger);
    this.upgrades = new UpgradeProxy(() => this.state, accessLog, this.logger);
  }

  /** Applies a full config (state of the world). Calls are serialized. */
  apply(config: ProxyConfig): Promise<ApplyResult> {
    const run = this.queue.then(() => this.applyNow(config));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** validateConfig() plus a check that listener addresses this runtime does not hold yet can be bound. */
  validate(config: ProxyConfig): Promise<ConfigError[]> {
    const run = this.queue.then(async () => {
      const { compiled, errors } = compileConfig(config);
      if (!compiled) return errors;
      const transparentErrors = compiled.listeners.flatMap((spec) => transparentProblem(spec, this.transparentNetwork) ?? []);
      if (transparentErrors.length > 0) return transparentErrors;
      const bindErrors: ConfigError[] = [];
      await Promise.all(
        compiled.listeners
          .filter((spec) => spec.port !== 0 && !spec.transparent && !this.listeners.has(listenerKey(spec)))
          .map((spec) => probeBind(spec.host, spec.port, spec.udpProxy !== undefined).catch((err: unknown) => void bindErrors.push(describeBindError(spec, err)))),
      );
      return bindErrors;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The listeners currently serving. */
  boundListeners(): BoundListener[] {
    return [...this.listeners.values()].map((listener) => ({ name: nameOf(listener), address: listener.host, port: listener.localPort }));
  }

  private async applyNow(config: ProxyConfig): Promise<ApplyResult> {
    if (this.closed) throw new Error('ProxyRuntime is closed');
    const { compiled, errors } = compileConfig(config);
    if (!compiled) {
      this.logger.warn({ errors }, 'config rejected');
      return { accepted: false, errors, listeners: this.boundListeners() };
    }
    const transparentErrors = compiled.listeners.flatMap((spec) => transparentProblem(spec, this.transparentNetwork) ?? []);
    if (transparentErrors.length > 0) {
      this.logger.warn({ errors: transparentErrors }, 'config rejected');
      return { accepted: false, errors: transparentErrors, listeners: this.boundListeners() };
    }
    const desired = new Map(compiled.listeners.map((spec) => [listenerKey(spec), spec] as const));
    const handle: RequestHandler = {
      request: (req, res, routes) => this.router.handle(req, res, routes),
      upgrade: (req, socket, head, routes) => this.upgrades.handle(req, socket, head, routes),
    };
    const added: [string, ServingListener][] = [];
    const bindErrors: ConfigError[] = [];
    await Promise.all(
      [...desired]
        .filter(([key]) => !this.listeners.has(key))
        .map(async ([key, spec]) => {
          const listener = this.listenerFor(spec, handle);
          try {
            await listener.bind();
            added.push([key, listener]);
          } catch (err) {
            bindErrors.push(describeBindError(spec, err));
          }
        }),
    );
    if (bindErrors.length > 0) {
      await Promise.all(added.map(([, listener]) => listener.drain(0)));
      this.logger.warn({ errors: bindErrors }, 'config rejected');
      return { accepted: false, errors: bindErrors, listeners: this.boundListeners() };
    }

    // Commit: from here on new requests see the new routes and clusters; in-flight ones keep theirs.
    this.state = { routeTables: compiled.routeTables, clusters: this.clusterManager.activate(compiled.clusters), policies: compiled.policies };
    this.hosts = compiled.hosts;
    for (const [key, listener] of this.listeners) {
      const spec = desired.get(key);
      if (spec && listener instanceof HttpListener) {
        listener.routes = routesOf(spec.name, spec);
        listener.tls = tlsChainsOf(spec);
        listener.connectionRouting = connectionRoutingOf(spec);
      } else if (spec && spec.tcpProxy && listener instanceof TcpProxyListener) {
        listener.listenerName = spec.name;
        listener.chains = spec.tcpProxy;
      } else if (spec && spec.udpProxy && listener instanceof UdpProxyListener) {
        listener.listenerName = spec.name;
        listener.spec = spec.udpProxy;
      } else {
        this.listeners.delete(key);
        this.drainInBackground(listener);
      }
    }
    for (const [key, listener] of added) this.listeners.set(key, listener);
    for (const spec of compiled.listeners) {
      for (const chain of spec.tls?.chains ?? []) {
        if (chain.missingSecrets.length > 0) {
          this.logger.warn({ listener: spec.name, chain: chain.name, secrets: chain.missingSecrets }, 'TLS filter chain waits for its secrets; its handshakes fail until they arrive');
        }
      }
    }
    this.logger.info(
      { listeners: compiled.listeners.length, routes: compiled.routeTables.size, clusters: compiled.clusters.length },
      'config applied',
    );
    return { accepted: true, errors: [], listeners: this.boundListeners() };
  }

  /** The class that serves a listener's kind: UDP datagrams, tcp_proxy connections, or HTTP. */
  private listenerFor(spec: ListenerSpec, handle: RequestHandler): ServingListener {
    if (spec.udpProxy) return new UdpProxyListener(spec.host, spec.port, spec.name, spec.udpProxy, () => this.state, this.logger);
    if (spec.tcpProxy) return new TcpProxyListener(spec.host, spec.port, spec.name, spec.tcpProxy, () => this.state, this.logger, this.transparentBindingOf(spec));
    return new HttpListener(spec.host, spec.port, routesOf(spec.name, spec), handle, this.logger, {
      tlsChains: tlsChainsOf(spec),
      connectionRouting: connectionRoutingOf(spec),
      transparent: this.transparentBindingOf(spec),
    });
  }

  private transparentBindingOf(spec: ListenerSpec): TransparentBinding | undefined {
    const network = this.transparentNetwork;
    if (!spec.transparent || !network) return undefined;
    return {
      network,
      redirectDirection: spec.redirect ? (spec.redirect.isIngress ? 'ingress' : 'egress') : undefined,
      l7LoadBalancer: spec.redirect?.l7LoadBalancer === true,
      identityOf: spec.redirect?.useNphds ? (address) => this.hosts.identityOf(address) : (address) => network.identityOf(address),
    };
  }

  private drainInBackground(listener: ServingListener): void {
    const drain = listener
      .drain(this.drainTimeoutMs)
      .catch((err: unknown) => this.logger.error({ err, listener: nameOf(listener) }, 'listener drain failed'))
      .finally(() => this.drains.delete(drain));
    this.drains.add(drain);
  }

  /** Stops all listeners (draining in-flight requests) and closes upstream connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    for (const listener of this.listeners.values()) this.drainInBackground(listener);
    this.listeners.clear();
    await Promise.all([...this.drains]);
    await this.clusterManager.close();
    // Drained requests have logged; their batched lines go out before close() resolves.
    if (isFlushable(this.accessLog)) this.accessLog.flush();
  }
}
