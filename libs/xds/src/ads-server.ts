import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import {
  TypeUrl,
  aggregatedDiscoveryServiceDefinition,
  type RawDeltaDiscoveryRequest as DeltaDiscoveryRequest,
  type RawDeltaDiscoveryResponse as DeltaDiscoveryResponse,
  type RawDiscoveryRequest as DiscoveryRequest,
  type RawDiscoveryResponse as DiscoveryResponse,
  type RawNode,
} from '@tendril/api-envoy';
import { silentLogger, type Logger } from './logger';
import { NodeStatusRegistry } from './node-status';
import type { Snapshot, SnapshotResource } from './snapshot';
import type { SnapshotCache } from './snapshot-cache';
import { WILDCARD_TYPES, pushRank, shortTypeName } from './type-urls';

export interface AdsServerOptions {
  cache: SnapshotCache;
  status?: NodeStatusRegistry;
  logger?: Logger;
  /**
   * Called with the names a client subscribes to explicitly (never for wildcard subscriptions),
   * before it is answered. A control plane that builds some resources only on demand (the agent's
   * API listeners for proxyless gRPC clients) can put them into the node's snapshot here, and the
   * answer includes them.
   */
  onExplicitSubscription?: (typeUrl: string, names: readonly string[]) => void;
}

function newNonce(): string {
  return randomBytes(6).toString('hex');
}

/** Types in make-before-break order (PUSH_ORDER), unknown ones last by name. */
function orderedTypes(types: Iterable<string>): string[] {
  return [...types].sort((a, b) => pushRank(a) - pushRank(b) || a.localeCompare(b));
}

/**
 * Make-before-break for removals. When a snapshot drops clusters, the proxy's routes may still
 * name them until the new routes are applied; removing the clusters first would turn those
 * requests into 503s. So, per stream, clusters and endpoints of the last snapshot whose listeners
 * and routes the proxy ACKed ("settled") are kept until the current snapshot's listeners and
 * routes are ACKed too; then they are withdrawn.
 */
class RemovalGuard {
  private settled: Snapshot | undefined;
  private readonly acked = new Map<string, string>();

  /** Resources of the settled snapshot that the current one dropped and must linger. */
  lingering(typeUrl: string, current: Snapshot): SnapshotResource[] {
    if (!this.settled || this.settled === current || !LINGERING_TYPES.has(typeUrl)) return [];
    const now = current.resources(typeUrl);
    return [...this.settled.resources(typeUrl).values()].filter((r) => !now.has(r.name));
  }

  /** Records an ACK; returns true when this ACK settles `current` (time to withdraw what lingered). */
  ack(typeUrl: string, version: string, current: Snapshot | undefined, subscribed: (typeUrl: string) => boolean): boolean {
    this.acked.set(typeUrl, version);
    return current ? this.settle(current, subscribed) : false;
  }

  /**
   * Settles `current` once the proxy holds its listeners and routes (already true when a new
   * snapshot leaves them unchanged); returns true if something lingered and can now go.
   */
  settle(current: Snapshot, subscribed: (typeUrl: string) => boolean): boolean {
    if (!this.settled) {
      this.settled = current;
      return false;
    }
    if (this.settled === current) return false;
    const routesAcked = ROUTING_TYPES.every((t) => !subscribed(t) || this.acked.get(t) === current.typeVersion(t));
    if (!routesAcked) return false;
    const hadLingering = [...LINGERING_TYPES].some((t) => this.lingering(t, current).length > 0);
    this.settled = current;
    return hadLingering;
  }
}

const LINGERING_TYPES: ReadonlySet<string> = new Set([TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment]);
const ROUTING_TYPES: readonly string[] = [TypeUrl.Listener, TypeUrl.RouteConfiguration];

interface SotwTypeState {
  wildcard: boolean;
  names: Set<string>;
  sentVersion?: string;
  sentNames?: string;
  nonce?: string;
}

interface DeltaTypeState {
  wildcard: boolean;
  names: Set<string>;
  /** What the client holds, name → version, as far as the server knows. */
  clientVersions: Map<string, string>;
  /** clientVersions before the last unacknowledged response, restored on NACK. */
  beforeLastResponse?: Map<string, string>;
  nonce?: string;
  sentVersion?: string;
  answered: boolean;
}

/**
 * The Aggregated Discovery Service: State-of-the-World and Delta (incremental) xDS over one
 * gRPC stream per proxy, fed from a SnapshotCache. A NACK leaves the node on the version it had
 * and is recorded (with the proxy's error detail) for `tendril status`; nothing is re-sent until
 * the snapshot changes.
 */
export class AdsServer {
  readonly status: NodeStatusRegistry;
  private readonly cache: SnapshotCache;
  private readonly log: Logger;
  private server: grpc.Server | undefined;
  private readonly openStreams = new Set<grpc.ServerDuplexStream<unknown, unknown>>();
  private readonly onExplicitSubscription: AdsServerOptions['onExplicitSubscription'];

  constructor(opts: AdsServerOptions) {
    this.cache = opts.cache;
    this.onExplicitSubscription = opts.onExplicitSubscription;
    this.status = opts.status ?? new NodeStatusRegistry();
    this.log = opts.logger ?? silentLogger;
  }

  private announceSubscription(typeUrl: string, names: readonly string[]): void {
    try {
      this.onExplicitSubscription?.(typeUrl, names);
    } catch (err) {
      this.log.error({ type: shortTypeName(typeUrl), err: (err as Error).message }, 'subscription hook failed; answering from the current snapshot');
    }
  }

  /** Binds the gRPC server (e.g. "127.0.0.1:18000", port 0 for any) and returns the bound port. */
  async listen(address: string): Promise<number> {
    const server = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1 });
    server.addService(aggregatedDiscoveryServiceDefinition as unknown as grpc.ServiceDefinition, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => this.handleSotw(call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) => this.handleDelta(call),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    return port;
  }

  async close(): Promise<void> {
    for (const s of this.openStreams) s.end();
    const server = this.server;
    this.server = undefined;
    if (server) server.forceShutdown();
  }

  private handleSotw(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void {
    const types = new Map<string, SotwTypeState>();
    const guard = new RemovalGuard();
    let nodeId: string | undefined;

    const send = (typeUrl: string, st: SotwTypeState, snapshot: Snapshot, force: boolean): void => {
      const all = new Map(snapshot.resources(typeUrl));
      const lingering = guard.lingering(typeUrl, snapshot);
      for (const r of lingering) all.set(r.name, r);
      const selected = st.wildcard ? [...all.values()] : [...st.names].filter((n) => all.has(n)).map((n) => all.get(n)!);
      const version = snapshot.typeVersion(typeUrl) + (lingering.length > 0 ? '+lingering' : '');
      const names = selected.map((r) => `${r.name}@${r.version}`).sort().join(',');
      if (!force && st.sentVersion === version && st.sentNames === names) return;
      st.sentVersion = version;
      st.sentNames = names;
      st.nonce = newNonce();
      this.status.sent(nodeId!, typeUrl, version, snapshot.label);
      this.log.debug({ node: nodeId, type: shortTypeName(typeUrl), version, resources: selected.length }, 'xds push');
      call.write({ version_info: version, resources: selected.map((r) => r.any), type_url: typeUrl, nonce: st.nonce });
    };

    const pushAll = (snapshot: Snapshot): void => {
      guard.settle(snapshot, (t) => types.has(t));
      for (const typeUrl of orderedTypes(types.keys())) send(typeUrl, types.get(typeUrl)!, snapshot, false);
    };

    const identify = this.openStream(call, 'sotw', pushAll);
    call.on('data', (req: DiscoveryRequest) => {
      const typeUrl = req.type_url ?? '';
      nodeId = identify(req);
      if (!typeUrl) return;
      let st = types.get(typeUrl);
      if (!st) types.set(typeUrl, (st = { wildcard: false, names: new Set() }));
      if (req.response_nonce) {
        if (req.response_nonce !== st.nonce) return; // a stale response: superseded by a newer push
        if (req.error_detail && (req.error_detail.code || req.error_detail.message)) {
          const message = req.error_detail.message ?? '';
          this.status.nacked(nodeId, typeUrl, st.sentVersion ?? '', message);
          this.log.warn({ node: nodeId, type: shortTypeName(typeUrl), rejectedVersion: st.sentVersion, keptVersion: req.version_info, error: message }, 'proxy rejected configuration (NACK)');
        } else {
          this.status.acked(nodeId, typeUrl, req.version_info ?? '');
          const current = this.cache.get(nodeId);
          if (guard.ack(typeUrl, req.version_info ?? '', current, (t) => types.has(t)) && current) pushAll(current);
        }
      }
      const names = req.resource_names ?? [];
      st.wildcard = names.includes('*') || (names.length === 0 && WILDCARD_TYPES.has(typeUrl));
      st.names = new Set(names.filter((n) => n !== '*'));
      if (st.names.size > 0) this.announceSubscription(typeUrl, [...st.names]);
      const snapshot = this.cache.get(nodeId);
      // A first request, or a changed subscription, is answered even if the content is unchanged.
      if (snapshot) send(typeUrl, st, snapshot, !req.response_nonce);
    });
  }

  private handleDelta(call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>): void {
    const types = new Map<string, DeltaTypeState>();
    const guard = new RemovalGuard();
    let nodeId: string | undefined;

    const send = (typeUrl: string, st: DeltaTypeState, snapshot: Snapshot, force = false): void => {
      const all = new Map(snapshot.resources(typeUrl));
      for (const r of guard.lingering(typeUrl, snapshot)) all.set(r.name, r);
      const wanted = st.wildcard ? [...all.keys()] : [...st.names].filter((n) => all.has(n));
      const changed = wanted.map((n) => all.get(n)!).filter((r) => st.clientVersions.get(r.name) !== r.version);
      const removed = [...st.clientVersions.keys()].filter((n) => !all.has(n) || (!st.wildcard && !st.names.has(n)));
      // The first request of a type, and every new subscription, is answered even when empty, so
      // the client knows what exists (and stops waiting for it).
      if (changed.length === 0 && removed.length === 0 && st.answered && !force) return;
      st.answered = true;
      st.beforeLastResponse = new Map(st.clientVersions);
      for (const r of changed) st.clientVersions.set(r.name, r.version);
      for (const n of removed) st.clientVersions.delete(n);
      st.nonce = newNonce();
      const version = snapshot.typeVersion(typeUrl);
      st.sentVersion = version;
      this.status.sent(nodeId!, typeUrl, version, snapshot.label);
      call.write({
        system_version_info: version,
        resources: changed.sort((a, b) => a.name.localeCompare(b.name)).map((r) => ({ name: r.name, version: r.version, resource: r.any })),
        type_url: typeUrl,
        removed_resources: removed.sort(),
        nonce: st.nonce,
      });
    };

    const pushAll = (snapshot: Snapshot): void => {
      guard.settle(snapshot, (t) => types.has(t));
      for (const typeUrl of orderedTypes(types.keys())) send(typeUrl, types.get(typeUrl)!, snapshot);
    };

    const identify = this.openStream(call, 'delta', pushAll);
    call.on('data', (req: DeltaDiscoveryRequest) => {
      const typeUrl = req.type_url ?? '';
      nodeId = identify(req);
      if (!typeUrl) return;
      let st = types.get(typeUrl);
      const first = !st;
      if (!st) {
        st = { wildcard: false, names: new Set(), clientVersions: new Map(Object.entries(req.initial_resource_versions ?? {})), answered: false };
        types.set(typeUrl, st);
      }
      if (req.response_nonce) {
        if (req.response_nonce === st.nonce) {
          if (req.error_detail && (req.error_detail.code || req.error_detail.message)) {
            const message = req.error_detail.message ?? '';
            // The client kept what it had: forget that it got the rejected resources.
            if (st.beforeLastResponse) st.clientVersions = st.beforeLastResponse;
            this.status.nacked(nodeId, typeUrl, st.sentVersion ?? '', message);
            this.log.warn({ node: nodeId, type: shortTypeName(typeUrl), error: message }, 'proxy rejected configuration (NACK)');
          } else {
            this.status.acked(nodeId, typeUrl, st.sentVersion ?? '');
            const current = this.cache.get(nodeId);
            if (guard.ack(typeUrl, st.sentVersion ?? '', current, (t) => types.has(t)) && current) pushAll(current);
          }
          st.beforeLastResponse = undefined;
        }
      }
      const subscribe = req.resource_names_subscribe ?? [];
      const unsubscribe = req.resource_names_unsubscribe ?? [];
      if (first && subscribe.length === 0 && WILDCARD_TYPES.has(typeUrl)) st.wildcard = true;
      for (const n of subscribe) {
        if (n === '*') st.wildcard = true;
        else st.names.add(n);
      }
      for (const n of unsubscribe) {
        if (n === '*') st.wildcard = false;
        else {
          st.names.delete(n);
          if (!st.wildcard) st.clientVersions.delete(n);
        }
      }
      const explicit = subscribe.filter((n) => n !== '*');
      if (explicit.length > 0) this.announceSubscription(typeUrl, explicit);
      const snapshot = this.cache.get(nodeId);
      const isAck = !!req.response_nonce && subscribe.length === 0 && unsubscribe.length === 0;
      if (snapshot && !isAck) send(typeUrl, st, snapshot, subscribe.length > 0);
    });
  }

  /**
   * What both variants do per stream: the first request names the node, from then on the node's
   * snapshot changes are pushed; the stream's end (however it ends) is recorded once.
   * Returns the function that identifies the node from each request.
   */
  private openStream(call: grpc.ServerDuplexStream<unknown, unknown>, protocol: 'sotw' | 'delta', pushAll: (snapshot: Snapshot) => void): (req: { node?: RawNode }) => string {
    this.openStreams.add(call);
    let nodeId: string | undefined;
    let unwatch: (() => void) | undefined;
    let closed = false;
    const done = (): void => {
      if (closed) return;
      closed = true;
      unwatch?.();
      if (nodeId) {
        this.status.disconnected(nodeId);
        this.log.info({ node: nodeId }, 'proxy disconnected');
      }
      this.openStreams.delete(call);
    };
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('cancelled', done);
    return (req) => {
      if (!nodeId) {
        nodeId = req.node?.id || `anonymous-${newNonce()}`;
        this.status.connected(nodeId, protocol);
        unwatch = this.cache.watch(nodeId, pushAll);
        this.log.info({ node: nodeId }, `proxy connected (${protocol})`);
      }
      return nodeId;
    };
  }
}
