import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import {
  TypeUrl,
  aggregatedDiscoveryServiceDefinition,
  xdsResourceName,
  type RawAny,
  type RawDeltaDiscoveryRequest as DeltaDiscoveryRequest,
  type RawDeltaDiscoveryResponse as DeltaDiscoveryResponse,
  type RawDiscoveryRequest as DiscoveryRequest,
  type RawDiscoveryResponse as DiscoveryResponse,
  type RawNode,
} from '@tendril/api-envoy';
import { silentLogger, type Logger } from './logger';
import { PUSH_ORDER, WILDCARD_TYPES, shortTypeName } from './type-urls';

/** A decoded Envoy resource in Envoy JSON form. */
export type EnvoyResource = Record<string, unknown>;

/** Everything the proxy currently holds, by type URL then resource name. */
export type ResourceState = Map<string, Map<string, EnvoyResource>>;

export interface AdsClientOptions {
  /** host:port of the agent's xDS server. */
  target: string;
  node: RawNode & { id: string };
  protocol: 'sotw' | 'delta';
  decodeAny(any: RawAny): EnvoyResource;
  /**
   * Applies a complete candidate configuration; throwing rejects it (NACK) and the proxy keeps
   * serving what it had.
   */
  apply(state: ResourceState, changedType: string): Promise<void>;
  logger?: Logger;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long listener/route updates wait for new clusters' endpoints (Envoy's initial_fetch_timeout). */
  warmingTimeoutMs?: number;
}

/**
 * HTTP/2 receive window of the xDS stream. With HTTP/2's default 64 KiB the agent can send 64 KiB
 * of a response before waiting for the proxy to read it and grant more: the ~2 MB RouteConfiguration
 * of 10,000 routes took some thirty of those round trips. Envoy's own default windows are 256 MiB;
 * this is enough for any configuration grpc-js accepts (4 MiB per message by default).
 */
const XDS_FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

function nameOf(typeUrl: string, r: EnvoyResource): string {
  const name = xdsResourceName(typeUrl, r);
  if (typeof name !== 'string' || !name) throw new Error(`${shortTypeName(typeUrl)} without a name`);
  return name;
}

function routeNamesOf(listeners: Iterable<EnvoyResource>): string[] {
  const names = new Set<string>();
  for (const l of listeners) {
    for (const chain of (l['filter_chains'] as EnvoyResource[] | undefined) ?? []) {
      for (const f of (chain['filters'] as EnvoyResource[] | undefined) ?? []) {
        const rds = (f['typed_config'] as EnvoyResource | undefined)?.['rds'] as EnvoyResource | undefined;
        if (typeof rds?.['route_config_name'] === 'string') names.add(rds['route_config_name']);
      }
    }
  }
  return [...names].sort();
}

function edsNamesOf(clusters: Iterable<EnvoyResource>): string[] {
  const names = new Set<string>();
  for (const c of clusters) {
    if (c['type'] !== 'EDS') continue;
    const serviceName = (c['eds_cluster_config'] as EnvoyResource | undefined)?.['service_name'];
    names.add(typeof serviceName === 'string' && serviceName ? serviceName : (c['name'] as string));
  }
  return [...names].sort();
}

function secretNamesOf(...groups: Iterable<EnvoyResource>[]): string[] {
  const names = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if ((k === 'tls_certificate_sds_secret_configs' || k === 'validation_context_sds_secret_config') && child) {
          for (const c of Array.isArray(child) ? child : [child]) if (typeof c?.name === 'string') names.add(c.name);
        } else if (k === 'value_sds_secret') {
          // NPDS header matches name the generic secret holding their expected value.
          if (typeof child === 'string' && child !== '') names.add(child);
        } else visit(child);
      }
    }
  };
  for (const g of groups) for (const r of g) visit(r);
  return [...names].sort();
}

interface TypeProgress {
  ackedVersion: string;
  nonce?: string;
  subscribed: string[];
}

/**
 * The proxy's side of ADS. Subscribes to listeners and clusters (wildcard), then to the routes,
 * endpoints and secrets they name; applies each response as a whole candidate configuration
 * and ACKs it, or NACKs it with the apply error and keeps the last good one. When the stream
 * breaks it keeps serving and reconnects with exponential backoff.
 */
export class AdsClient extends EventEmitter {
  private readonly state: ResourceState = new Map(PUSH_ORDER.map((t) => [t, new Map()]));
  private readonly progress = new Map<string, TypeProgress>();
  /** Delta xDS: the server's version of each resource we hold ("type\0name" → version), sent back on reconnect. */
  private readonly deltaVersions = new Map<string, string>();
  private readonly log: Logger;
  private client: grpc.Client | undefined;
  private stream: grpc.ClientDuplexStream<unknown, unknown> | undefined;
  private stopped = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  /**
   * Cluster warming, as Envoy does it: after new clusters arrive, listener and route updates wait
   * until the endpoints of those clusters have been answered (or a timeout passes), so a route
   * never points at a cluster that has no endpoints yet.
   */
  private warming: { until: number; names: Set<string>; deferred: Array<() => Promise<void>> } | undefined;
  connected = false;

  constructor(private readonly opts: AdsClientOptions) {
    super();
    this.log = opts.logger ?? silentLogger;
    this.backoffMs = opts.initialBackoffMs ?? 100;
  }

  start(): void {
    const Ctor = grpc.makeGenericClientConstructor(aggregatedDiscoveryServiceDefinition as unknown as grpc.ServiceDefinition, 'AggregatedDiscoveryService');
    this.client = new Ctor(this.opts.target, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
      'grpc-node.flow_control_window': XDS_FLOW_CONTROL_WINDOW_BYTES,
    });
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.stream?.cancel();
    this.client?.close();
  }

  /** The last applied (good) resources. */
  resources(): ResourceState {
    return this.state;
  }

  versions(): Record<string, string> {
    return Object.fromEntries([...this.progress].map(([t, p]) => [t, p.ackedVersion]));
  }

  private connect(): void {
    if (this.stopped || !this.client) return;
    const method = this.opts.protocol === 'delta' ? 'DeltaAggregatedResources' : 'StreamAggregatedResources';
    const stream = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, unknown>>)[method]();
    this.stream = stream;
    let gotResponse = false;
    stream.on('data', (msg: DiscoveryResponse | DeltaDiscoveryResponse) => {
      if (!gotResponse) {
        gotResponse = true;
        this.connected = true;
        this.backoffMs = this.opts.initialBackoffMs ?? 100;
        this.emit('connected');
      }
      const handle = (): Promise<void> => this.onResponse(stream, msg);
      const type = msg.type_url ?? '';
      this.queue = this.queue
        .then(() => {
          if (this.warming && Date.now() > this.warming.until) return this.finishWarming();
        })
        .then(() => {
          if (this.warming && (type === TypeUrl.Listener || type === TypeUrl.RouteConfiguration)) this.warming.deferred.push(handle);
          else return handle();
        })
        .catch((err) => this.log.error({ err: String(err) }, 'xds response handling failed'));
    });
    const broken = (err?: Error): void => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      if (this.connected) this.emit('disconnected');
      this.connected = false;
      if (this.stopped) return;
      const delay = this.backoffMs * (0.8 + Math.random() * 0.4);
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 5_000);
      this.log.warn({ err: err?.message, retryInMs: Math.round(delay) }, 'xds stream lost; serving last good configuration');
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    };
    stream.on('error', (err: Error) => broken(err));
    stream.on('end', () => broken());
    // Initial subscriptions: wildcard for listeners and clusters; the rest follow from them.
    for (const typeUrl of [TypeUrl.Cluster, TypeUrl.NetworkPolicy, TypeUrl.NetworkPolicyHosts, TypeUrl.Listener]) this.subscribe(stream, typeUrl, [], true);
    for (const typeUrl of [TypeUrl.ClusterLoadAssignment, TypeUrl.RouteConfiguration, TypeUrl.Secret]) {
      const names = this.progress.get(typeUrl)?.subscribed ?? [];
      if (names.length > 0) this.subscribe(stream, typeUrl, names, true);
    }
  }

  private subscribe(stream: grpc.ClientDuplexStream<unknown, unknown>, typeUrl: string, names: string[], initial: boolean): void {
    const p = this.progress.get(typeUrl) ?? { ackedVersion: '', subscribed: [] };
    const previous = initial ? [] : p.subscribed;
    p.subscribed = names;
    this.progress.set(typeUrl, p);
    if (this.opts.protocol === 'delta') {
      const have = this.state.get(typeUrl) ?? new Map();
      const req: DeltaDiscoveryRequest = {
        node: this.opts.node,
        type_url: typeUrl,
        resource_names_subscribe: names.filter((n) => !previous.includes(n)),
        resource_names_unsubscribe: previous.filter((n) => !names.includes(n)),
      };
      if (initial) req.initial_resource_versions = Object.fromEntries([...have.keys()].map((n) => [n, this.deltaVersions.get(`${typeUrl}\0${n}`) ?? '']));
      stream.write(req);
    } else {
      const req: DiscoveryRequest = { node: this.opts.node, type_url: typeUrl, resource_names: names, version_info: initial ? '' : p.ackedVersion };
      if (!initial && p.nonce) req.response_nonce = p.nonce;
      stream.write(req);
    }
  }

  private async onResponse(stream: grpc.ClientDuplexStream<unknown, unknown>, msg: DiscoveryResponse | DeltaDiscoveryResponse): Promise<void> {
    const typeUrl = msg.type_url ?? '';
    const p = this.progress.get(typeUrl) ?? { ackedVersion: '', subscribed: [] };
    this.progress.set(typeUrl, p);
    // Decoded messages omit empty fields, so the stream's protocol (not a field) says which it is.
    const delta = this.opts.protocol === 'delta' ? (msg as DeltaDiscoveryResponse) : undefined;
    const sotw = delta ? undefined : (msg as DiscoveryResponse);
    const version = (delta ? delta.system_version_info : sotw!.version_info) ?? '';
    let candidate: Map<string, EnvoyResource>;
    const deltaVersions: Array<[string, string]> = [];
    try {
      if (delta) {
        candidate = new Map(this.state.get(typeUrl) ?? []);
        for (const n of delta.removed_resources ?? []) candidate.delete(n);
        for (const r of delta.resources ?? []) {
          if (!r.name || !r.resource) throw new Error(`${shortTypeName(typeUrl)} delta resource without a name or body`);
          candidate.set(r.name, this.opts.decodeAny(r.resource));
          deltaVersions.push([r.name, r.version ?? '']);
        }
      } else {
        candidate = new Map();
        for (const any of sotw!.resources ?? []) {
          const r = this.opts.decodeAny(any);
          candidate.set(nameOf(typeUrl, r), r);
        }
      }
      const next: ResourceState = new Map(this.state);
      next.set(typeUrl, candidate);
      await this.opts.apply(next, typeUrl);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn({ type: shortTypeName(typeUrl), version, error: message }, 'rejected configuration (NACK); keeping the last good one');
      this.emit('nack', { typeUrl, version, message });
      this.ackOrNack(stream, typeUrl, msg.nonce ?? '', { code: 3, message });
      return;
    }
    this.state.set(typeUrl, candidate);
    for (const [n, v] of deltaVersions) this.deltaVersions.set(`${typeUrl}\0${n}`, v);
    for (const n of delta?.removed_resources ?? []) this.deltaVersions.delete(`${typeUrl}\0${n}`);
    p.ackedVersion = version;
    this.ackOrNack(stream, typeUrl, msg.nonce ?? '');
    this.emit('applied', { typeUrl, version });
    if (typeUrl === TypeUrl.ClusterLoadAssignment && this.warming && [...this.warming.names].every((n) => candidate.has(n))) await this.finishWarming();
    this.followReferences(stream, typeUrl);
  }

  private async finishWarming(): Promise<void> {
    const deferred = this.warming?.deferred ?? [];
    this.warming = undefined;
    for (const handle of deferred) await handle();
  }

  private ackOrNack(stream: grpc.ClientDuplexStream<unknown, unknown>, typeUrl: string, nonce: string, error?: { code: number; message: string }): void {
    const p = this.progress.get(typeUrl)!;
    p.nonce = nonce;
    if (this.opts.protocol === 'delta') {
      const req: DeltaDiscoveryRequest = { node: this.opts.node, type_url: typeUrl, response_nonce: nonce };
      if (error) req.error_detail = error;
      stream.write(req);
    } else {
      const req: DiscoveryRequest = { node: this.opts.node, type_url: typeUrl, version_info: p.ackedVersion, resource_names: WILDCARD_TYPES.has(typeUrl) ? [] : p.subscribed, response_nonce: nonce };
      if (error) req.error_detail = error;
      stream.write(req);
    }
  }

  /** Subscribes to the routes, endpoints and secrets that the current listeners and clusters name. */
  private followReferences(stream: grpc.ClientDuplexStream<unknown, unknown>, changedType: string): void {
    const wanted: Array<[string, string[]]> = [];
    if (changedType === TypeUrl.Listener) {
      wanted.push([TypeUrl.RouteConfiguration, routeNamesOf(this.state.get(TypeUrl.Listener)!.values())]);
    }
    if (changedType === TypeUrl.Cluster) {
      wanted.push([TypeUrl.ClusterLoadAssignment, edsNamesOf(this.state.get(TypeUrl.Cluster)!.values())]);
    }
    if (changedType === TypeUrl.Listener || changedType === TypeUrl.Cluster || changedType === TypeUrl.NetworkPolicy) {
      wanted.push([TypeUrl.Secret, secretNamesOf(this.state.get(TypeUrl.Listener)!.values(), this.state.get(TypeUrl.Cluster)!.values(), this.state.get(TypeUrl.NetworkPolicy)?.values() ?? [])]);
    }
    for (const [typeUrl, names] of wanted) {
      const current = this.progress.get(typeUrl)?.subscribed ?? [];
      if (names.join('\0') !== current.join('\0') && (names.length > 0 || current.length > 0)) {
        const added = names.filter((n) => !current.includes(n));
        if (typeUrl === TypeUrl.ClusterLoadAssignment && added.length > 0) {
          this.warming ??= { until: Date.now() + (this.opts.warmingTimeoutMs ?? 5_000), names: new Set(), deferred: [] };
          for (const n of added) this.warming.names.add(n);
        }
        this.subscribe(stream, typeUrl, names, false);
      }
    }
  }
}
