/**
 * The cilium-agent's endpoint loop for one node: resources from the store and the node's pods in,
 * identities, ipcache, endpoint, policy and service map entries out.
 *
 * Incremental the way Cilium is. A pod's identity comes from its security-relevant labels, so the
 * replicas of a Deployment share one. Policy is compiled per (identity, named ports) and cached
 * under a generation made of what a compilation reads — the rules in force, the set of identity
 * numbers, the cluster's named ports — and each endpoint's compiled entries are compared with what
 * was last applied to it before the datapath is touched. Scaling a Deployment up changes none of
 * those inputs, so it writes ipcache and endpoint entries for the new pods and nothing to the
 * policy of the existing ones.
 *
 * Never widening access: an invalid policy is rejected (PolicyRepository keeps its last valid
 * version; a new invalid one adds nothing), a compilation error keeps an endpoint's previous
 * entries, and a failed policy write leaves the endpoint with no entries at all (the datapath
 * drops its traffic) and is reported.
 */
import type { KubeObject, Namespace, Pod, Service, EndpointSlice } from '@tendril/api-k8s';
import type { DropReasonName, LocalEndpoint, TrackedConnection } from '@tendril/datapath';
import {
  formatIpPrefix,
  formatLabel,
  IdentityAllocator,
  type Identity,
  labelSetKey,
  podLabels,
  type LabelSet,
  parseIpAddress,
  parseIpPrefix,
  prefixContainsAddress,
  ReservedIdentity,
} from '@tendril/identity';
import {
  compileEndpointPolicy,
  diffPolicyMap,
  dnsPortPolicies,
  type DnsPortPolicy,
  fqdnSelectors,
  type EnforcementMode,
  type EndpointPolicy,
  l7PortPolicies,
  l7PortRedirects,
  type L7PortPolicy,
  type L7PortRedirect,
  type NamedPorts,
  policyKey,
  type PolicyMapEntry,
  PolicyRepository,
  type ProxyPortAllocator,
  Protocol,
  referencedCidrs,
} from '@tendril/policy';
import { keyOf, type KindFilter, type ResourceKey } from '@tendril/store';
import { L7PolicyIndex } from '@tendril/proxy';
import type { PodRuntimeInfo } from '@tendril/workloads';
import { ClusterIpAllocator, isIpv4Address } from './cluster-ips';
import type { EndpointDatapath } from './datapath-port';
import type { DnsClient } from './dns-proxy';
import { FqdnCache, type ConnectionActivity, type DnsAnswerMessage, type FqdnCacheOptions, type FqdnZombie } from './fqdn-cache';
import { POLICY_GROUP_KINDS, validCondition } from './policy-resources';
import { TraceError, tracePolicy, type TraceContext, type TracedPath, type TraceRequest } from './policy-trace';
import { policySecretResources, type KubeSecret } from './policy-secrets';
import { networkPolicyResources } from './proxy-redirect-resources';
import { fixedProxyPorts } from './proxy-ports';
import { type DesiredService, desiredServices, frontendKey, hasClusterIp, serviceKey } from './service-frontends';

/** What the manager reads from and writes to the resource store. */
export interface EndpointStore {
  list<T extends KubeObject = KubeObject>(filter: KindFilter<T>, namespace?: string): readonly T[];
  get<T extends KubeObject = KubeObject>(key: ResourceKey): T | undefined;
  setStatus(key: ResourceKey, status: unknown): boolean;
}

export interface ManagerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A current input error about one object, from the sources ("CiliumNetworkPolicy default/web"). */
export interface ObjectError {
  readonly object?: string;
  readonly message: string;
}

export interface EndpointManagerOptions {
  readonly store: EndpointStore;
  readonly datapath: EndpointDatapath;
  /**
   * The pods this node runs (PodRunner.describe). Read again only when a reconciliation is asked
   * for with `podsChanged` (or run directly): describing pods is not free (a process per pod).
   */
  readonly localPods: () => Promise<readonly PodRuntimeInfo[]> | readonly PodRuntimeInfo[];
  readonly logger: ManagerLogger;
  /** The node's own addresses, mapped to the host identity (default: none). */
  readonly nodeAddresses?: () => readonly string[];
  /** Errors the sources report now: an object whose new version was rejected keeps its old one, and its Valid condition says why. */
  readonly sourceErrors?: () => readonly ObjectError[];
  readonly proxyPort?: ProxyPortAllocator;
  readonly enforcementMode?: EnforcementMode;
  /** Where ClusterIPs of Services without spec.clusterIP come from (default 10.96.0.0/16). */
  readonly serviceCidr?: string;
  readonly clusterName?: string;
  readonly clock?: () => Date;
  /** Called after a reconciliation that changed what the node proxy is sent: the L7 redirects (proxyRedirects()) or the ipcache (proxyHosts()). */
  readonly onProxyRedirectsChange?: () => void;
  /** The node proxy's mesh listener port, where pods' connections to L7 load-balanced frontends go (see setMeshFrontends). */
  readonly meshProxyPort?: number;
  /** Called after a reconciliation that changed the ClusterIPs of Services (see serviceClusterIps()): mesh routes are keyed by them. */
  readonly onClusterIpsChange?: () => void;
  /** Cilium's toFQDNs knobs (min TTL, IPs per name, idle grace period, deferred deletes); Cilium's defaults when absent. */
  readonly fqdn?: FqdnCacheOptions;
  /**
   * How often the conntrack is read again while expired toFQDNs addresses wait for their
   * connections to end (Cilium's CT GC pass marking DNS zombies alive). Default 30 s.
   */
  readonly fqdnConntrackCheckIntervalMs?: number;
}

const DEFAULT_FQDN_CONNTRACK_CHECK_INTERVAL_MS = 30_000;

/** An endpoint's policy state as `tendril get endpoints` shows it. */
export type EndpointPolicyState = 'ready' | 'regenerating' | 'failed';

/** One local endpoint as the manager keeps it. */
export interface ManagedEndpoint {
  readonly namespace: string;
  readonly name: string;
  readonly endpointId: number;
  readonly ip: string;
  readonly hostInterface: string;
  readonly identity: number;
  readonly labels: LabelSet;
  readonly state: EndpointPolicyState;
  /** Default-deny per direction (policy-semantics §2.1), from the last compilation. */
  readonly enforcement?: { readonly ingress: boolean; readonly egress: boolean };
  /** Policy map entries the manager last wrote for it. */
  readonly policyEntries: number;
  /** Policy map writes (updates + deletes) made for this endpoint since it was added. */
  readonly policyWrites: number;
  /** Why its policy could not be applied (it then drops all traffic) or compiled (previous entries kept). */
  readonly error?: string;
}

interface EndpointRecord {
  namespace: string;
  name: string;
  endpointId: number;
  ip: string;
  hostInterface: string;
  identity: number;
  labels: LabelSet;
  labelsKey: string;
  namedPorts: NamedPorts;
  namedPortsKey: string;
  /** Entries now in the map for it (as last written), undefined until the first successful write. */
  applied?: readonly PolicyMapEntry[];
  enforcement?: { ingress: boolean; egress: boolean };
  attached: boolean;
  policyWrites: number;
  error?: string;
  failed: boolean;
  /** The L7 redirect ports of the policy last applied (the proxy serves these). */
  redirects?: readonly L7PortRedirect[];
  /** The per-request rules of those ports (what the proxy enforces, sent as NPDS). */
  portPolicies?: readonly L7PortPolicy[];
  /** The DNS rules of its egress ports with `rules.dns` (what the DNS proxy enforces). */
  dnsPolicies?: readonly DnsPortPolicy[];
}

interface CompiledPolicy {
  readonly generation: string;
  readonly result:
    | {
        readonly ok: true;
        readonly policy: EndpointPolicy;
        readonly entries: readonly PolicyMapEntry[];
        readonly redirects: readonly L7PortRedirect[];
        readonly portPolicies: readonly L7PortPolicy[];
        readonly dnsPolicies: readonly DnsPortPolicy[];
      }
    | { readonly ok: false; readonly error: string };
}

/** What each drop reason of bpf/ means, in Cilium's words where Cilium has the same reason. */
export const DROP_REASON_TEXT = {
  policyDenied: 'Policy denied',
  policyDeniedByDenylist: 'Policy denied by denylist',
  unknownSource: 'Invalid source ip',
  unknownDestination: 'Unknown destination endpoint',
  unsupportedL3: 'Unsupported L3 protocol',
  malformed: 'Invalid packet',
  fragment: 'IP fragment',
  proxyUnavailable: 'No proxy listener for the L7 redirect',
  redirectUnsupported: 'Proxy redirection not supported for this traffic',
} as const satisfies Record<DropReasonName, string>;

export interface DropMetricView {
  readonly reason: DropReasonName;
  readonly description: string;
  readonly packets: number;
}

/** One endpoint's L7 redirect ports and their per-request rules, for the node proxy. */
export interface EndpointRedirects {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly endpointId: number;
  readonly redirects: readonly L7PortRedirect[];
  readonly portPolicies: readonly L7PortPolicy[];
}

/** A policy object as the repository last saw it. */
interface SeenPolicy {
  readonly specText: string;
  readonly error?: string;
}

export interface PolicyProblem {
  /** `CiliumNetworkPolicy default/name`. */
  readonly policy: string;
  readonly error: string;
}

export interface EnforcementStatus {
  readonly endpoints: number;
  readonly identities: number;
  readonly policies: number;
  /** Policies whose latest version is rejected (the last valid one, if any, stays in force). */
  readonly invalidPolicies: readonly PolicyProblem[];
  /** Endpoints whose policy could not be applied or compiled. */
  readonly failedEndpoints: readonly { readonly endpoint: string; readonly error: string }[];
  readonly services: number;
  /** Writes to the ipcache, policy and service maps made by the last reconciliation, and when it ran. */
  readonly lastReconcile?: {
    readonly at: string;
    readonly durationMs: number;
    readonly mapWrites: number;
    /** Policy compilations it ran: one per (identity, named ports) whose inputs changed, none when only replicas came or went. */
    readonly compilations: number;
    readonly error?: string;
  };
}

export interface IdentityView {
  readonly id: number;
  readonly labels: readonly string[];
  /** Local endpoints with this identity. */
  readonly endpoints: number;
}

export interface IpcacheView {
  readonly cidr: string;
  readonly identity: number;
  readonly labels: readonly string[];
}

export interface PolicyEntryView extends PolicyMapEntry {
  /** Labels of the remote identity (empty for identity 0, "any"). */
  readonly labels: readonly string[];
}

export interface EndpointPolicyView {
  readonly endpoint: ManagedEndpoint;
  /** The entries the datapath holds for it, read back from the map. */
  readonly entries: readonly PolicyEntryView[];
}

export interface ServiceView {
  readonly service?: string;
  readonly portName?: string;
  readonly frontend: DesiredService['frontend'];
  readonly backends: DesiredService['backends'];
  /** Set when the frontend is L7 load-balanced by the node proxy (mesh routes). */
  readonly l7ProxyPort?: number;
}

const NAMESPACE_KIND = { group: '', kind: 'Namespace' };
const SERVICE_KIND = { group: '', kind: 'Service' };
const SLICE_KIND = { group: 'discovery.k8s.io', kind: 'EndpointSlice' };

const PROTOCOL_NUMBERS: Record<string, number> = { TCP: Protocol.TCP, UDP: Protocol.UDP, SCTP: Protocol.SCTP };

function namedPortsOf(pod: Pod | undefined): NamedPorts {
  const out: Record<string, { port: number; protocol: number }[]> = {};
  for (const container of pod?.spec?.containers ?? []) {
    for (const p of container.ports ?? []) {
      if (!p.name) continue;
      (out[p.name] ??= []).push({ port: p.containerPort, protocol: PROTOCOL_NUMBERS[p.protocol ?? 'TCP'] ?? Protocol.TCP });
    }
  }
  return out;
}

function mergeNamedPorts(all: readonly NamedPorts[]): NamedPorts {
  const out: Record<string, { port: number; protocol: number }[]> = {};
  for (const ports of all) {
    for (const [name, list] of Object.entries(ports)) {
      const merged = (out[name] ??= []);
      for (const p of list) if (!merged.some((m) => m.port === p.port && m.protocol === p.protocol)) merged.push(p);
    }
  }
  for (const list of Object.values(out)) list.sort((a, b) => a.protocol - b.protocol || a.port - b.port);
  return out;
}

/** A stable text for named ports, whatever order the containers listed them in. */
function namedPortsKey(ports: NamedPorts): string {
  return JSON.stringify(Object.keys(ports).sort().map((name) => [name, [...ports[name]].sort((a, b) => a.protocol - b.protocol || a.port - b.port)]));
}

function describePolicy(obj: KubeObject): string {
  return obj.metadata.namespace ? `${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}` : `${obj.kind} ${obj.metadata.name}`;
}

function storeKeyOf(group: string, kind: string, namespace: string | undefined, name: string): ResourceKey {
  return keyOf(namespace ? { group, kind, namespace, name } : { group, kind, name });
}

function localEndpoint(r: EndpointRecord): LocalEndpoint {
  return { ifname: r.hostInterface, ip: r.ip, endpointId: r.endpointId, identity: r.identity };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Failed: its traffic is dropped (a write failed, or nothing could ever be compiled for it); ready: its policy is in the map and its veth enforces it. */
function endpointState(record: EndpointRecord): EndpointPolicyState {
  if (record.failed || (record.error !== undefined && record.applied === undefined)) return 'failed';
  return record.attached && record.applied !== undefined ? 'ready' : 'regenerating';
}

export class EndpointManager {
  private readonly allocator = new IdentityAllocator();
  private readonly repository = new PolicyRepository();
  private readonly clusterIps: ClusterIpAllocator;
  private readonly proxyPort: ProxyPortAllocator;
  private readonly clock: () => Date;
  private readonly endpoints = new Map<string, EndpointRecord>();
  private readonly seenPolicies = new Map<string, SeenPolicy>();
  /** CIDR prefix → its local identity, for each prefix the rules in force name. */
  private readonly cidrIdentities = new Map<string, number>();
  /** Addresses the DNS proxy learned (§5.3), and the node-local identity each selected one has. */
  private readonly fqdnCache: FqdnCache;
  private readonly fqdnIdentities = new Map<string, { readonly selectors: string; readonly id: number }>();
  private fqdnExpiryTimer: NodeJS.Timeout | undefined;
  /** What this manager last wrote to (or found in) the ipcache and service maps. */
  private ipcacheWritten = new Map<string, number>();
  private servicesWritten = new Map<string, DesiredService>();
  /** `namespace/service/port` of the frontends with mesh routes; see setMeshFrontends. */
  private meshFrontends = new Set<string>();
  /** The ClusterIP of each Service, as last assigned. */
  private assignedClusterIps = new Map<string, string>();
  private readonly compiled = new Map<string, CompiledPolicy>();
  private rulesRevision = 0;
  private compilations = 0;
  private lastReconcile: EnforcementStatus['lastReconcile'];
  private running: Promise<void> = Promise.resolve();
  private scheduled: NodeJS.Immediate | undefined;
  private pods: readonly PodRuntimeInfo[] | undefined;
  private podsStale = true;
  private stopped = false;

  constructor(private readonly opts: EndpointManagerOptions) {
    this.clusterIps = new ClusterIpAllocator(opts.serviceCidr);
    this.proxyPort = opts.proxyPort ?? fixedProxyPorts();
    this.clock = opts.clock ?? (() => new Date());
    this.fqdnCache = new FqdnCache(opts.fqdn);
  }

  /**
   * Adopts what the pinned maps hold from a previous run: ipcache and service entries become this
   * manager's to keep or remove on the first reconciliation; endpoints of pods that no longer
   * exist (their namespaces went with the previous agent) are removed with their policy entries.
   */
  async start(): Promise<void> {
    const { datapath } = this.opts;
    for (const entry of datapath.endpoints.list()) {
      await datapath.removeEndpoint({ ifname: '', ip: entry.ip, endpointId: entry.endpointId, identity: entry.identity });
    }
    this.ipcacheWritten = new Map(datapath.ipcache.list().map((e) => [e.cidr, e.identity]));
    this.servicesWritten = new Map(datapath.services.list().map((s) => [frontendKey(s.frontend), { service: '', portName: '', frontend: s.frontend, backends: s.backends, ...(s.l7ProxyPort ? { l7ProxyPort: s.l7ProxyPort } : {}) }]));
    await this.reconcile();
  }

  /** Asks for a reconciliation soon; bursts of changes coalesce into one. `podsChanged`: the node's pods changed too. */
  schedule(change: { podsChanged?: boolean } = {}): void {
    if (this.stopped) return;
    if (change.podsChanged) this.podsStale = true;
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      void this.enqueue();
    });
  }

  /** Runs one reconciliation (re-reading the pods) after any running one; resolves when it is done (errors are logged and reported, never thrown). */
  reconcile(): Promise<void> {
    if (this.stopped) return this.running;
    this.podsStale = true;
    return this.enqueue();
  }

  private enqueue(): Promise<void> {
    this.running = this.running.then(() => this.reconcileOnce());
    return this.running;
  }

  /** Removes every endpoint this manager added (the pods are gone) and closes the maps; programs, pins and the other entries stay. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    clearTimeout(this.fqdnExpiryTimer);
    this.settleEnforcementWaiters(true);
    await this.running;
    for (const record of this.endpoints.values()) {
      try {
        await this.opts.datapath.removeEndpoint(localEndpoint(record));
      } catch (err) {
        this.opts.logger.warn({ endpoint: record.endpointId, err: errorMessage(err) }, 'cannot remove endpoint');
      }
    }
    this.endpoints.clear();
    this.opts.datapath.close();
  }

  private async reconcileOnce(): Promise<void> {
    if (this.stopped) return;
    const started = performance.now();
    const at = this.clock().toISOString().replace(/\.\d+Z$/, 'Z');
    let writes = 0;
    this.compilations = 0;
    try {
      if (this.podsStale || !this.pods) {
        this.podsStale = false;
        this.pods = await this.opts.localPods();
      }
      const pods = this.pods;
      this.syncPolicies();
      this.syncCidrIdentities();
      this.syncFqdnIdentities();
      const removed = this.syncEndpointRecords(pods);
      for (const record of removed) await this.removeEndpoint(record);
      writes += this.syncIpcache('upserts');
      writes += await this.syncEndpointPolicies();
      writes += this.syncIpcache('deletes');
      writes += this.syncServices();
      this.writePolicyConditions(at);
      this.notifyRedirectChanges();
      this.settleEnforcementWaiters();
      this.lastReconcile = { at, durationMs: performance.now() - started, mapWrites: writes, compilations: this.compilations };
    } catch (err) {
      this.lastReconcile = { at, durationMs: performance.now() - started, mapWrites: writes, compilations: this.compilations, error: errorMessage(err) };
      this.opts.logger.error({ err: errorMessage(err) }, 'endpoint reconciliation failed; it runs again on the next change');
    }
  }

  /**
   * The Service ports (`namespace/name/port`) that have mesh routes: their ClusterIP frontends become
   * L7 load-balanced (pods' connections go to the node proxy's mesh listener, which picks the
   * backend). Written to the service map on the next reconciliation; the rest go back to the socket LB.
   */
  setMeshFrontends(frontends: Iterable<string>): void {
    const next = new Set(frontends);
    if (next.size === this.meshFrontends.size && [...next].every((f) => this.meshFrontends.has(f))) return;
    this.meshFrontends = next;
    this.schedule();
  }

  /** The ClusterIP of every Service that has one (`namespace/name` → address), as last assigned. */
  serviceClusterIps(): Record<string, string> {
    return Object.fromEntries([...this.assignedClusterIps].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** The L7 redirect ports of each endpoint whose policy is applied, sorted by pod. */
  proxyRedirects(): EndpointRedirects[] {
    return [...this.endpoints.values()]
      .filter((r) => (r.redirects?.length ?? 0) > 0)
      .map((r) => ({ namespace: r.namespace, name: r.name, ip: r.ip, endpointId: r.endpointId, redirects: r.redirects ?? [], portPolicies: r.portPolicies ?? [] }))
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  }

  /** The local endpoint with this address and the DNS rules of its applied policy (for the DNS proxy). */
  dnsClientOf(ip: string): DnsClient | undefined {
    for (const r of this.endpoints.values()) {
      if (r.ip === ip && r.applied !== undefined && !r.failed) return { pod: `${r.namespace}/${r.name}`, identity: r.identity, policies: r.dnsPolicies ?? [] };
    }
    return undefined;
  }

  /** The identity the datapath gives an address: the longest ipcache prefix holding it, world when none does. */
  identityOfAddress(ip: string): number {
    let address: ReturnType<typeof parseIpAddress>;
    try {
      address = parseIpAddress(ip);
    } catch {
      return ReservedIdentity.WORLD;
    }
    let best: { length: number; id: number } | undefined;
    for (const [cidr, id] of this.desiredIpcache()) {
      const prefix = parseIpPrefix(cidr);
      if (prefixContainsAddress(prefix, address.family, address.address) && (!best || prefix.length > best.length)) best = { length: prefix.length, id };
    }
    return best?.id ?? ReservedIdentity.WORLD;
  }

  private lastRedirectsText = '[[],[]]';
  /** Pods waiting to start until their endpoint is attached (see untilEnforced). */
  private readonly enforcementWaiters = new Map<string, ((attached: boolean) => void)[]>();

  /**
   * Resolves true once the pod's endpoint is attached to its interface with its policy in the map
   * (or, if a write failed, dropping everything: fail closed), false after `timeoutMs` or when the
   * manager stops. A kubelet-like runner waits for this before starting the pod's container, so no
   * packet of it ever crosses an unenforced interface.
   */
  untilEnforced(namespace: string, name: string, timeoutMs = 60_000): Promise<boolean> {
    const key = `${namespace}/${name}`;
    if (this.endpoints.get(key)?.attached) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiters = this.enforcementWaiters.get(key) ?? [];
      const timer = setTimeout(() => settle(false), timeoutMs);
      const settle = (attached: boolean): void => {
        clearTimeout(timer);
        const list = this.enforcementWaiters.get(key);
        const index = list?.indexOf(settle) ?? -1;
        if (list && index >= 0) list.splice(index, 1);
        if (list?.length === 0) this.enforcementWaiters.delete(key);
        resolve(attached);
      };
      waiters.push(settle);
      this.enforcementWaiters.set(key, waiters);
      this.schedule({ podsChanged: true });
    });
  }

  private settleEnforcementWaiters(stopping = false): void {
    for (const [key, waiters] of [...this.enforcementWaiters]) {
      const attached = this.endpoints.get(key)?.attached === true;
      if (attached || stopping) for (const settle of [...waiters]) settle(attached && !stopping);
    }
  }

  /**
   * The ipcache this node wants, as (CIDR, identity) pairs sorted by CIDR: what the agent sends the
   * node proxy as NPHDS (a proxy that cannot read the pinned map resolves identities from it).
   */
  proxyHosts(): [cidr: string, identity: number][] {
    return [...this.desiredIpcache()].sort(([a], [b]) => a.localeCompare(b));
  }

  private notifyRedirectChanges(): void {
    // The redirects and the ipcache both travel to the proxy (NPDS, NPHDS): a change of either is news.
    const text = JSON.stringify([this.proxyRedirects(), this.proxyHosts()]);
    if (text === this.lastRedirectsText) return;
    this.lastRedirectsText = text;
    this.opts.onProxyRedirectsChange?.();
  }

  /** Feeds the policy objects of the store to the repository, re-validating only the ones that changed. */
  private syncPolicies(): void {
    const present = new Set<string>();
    for (const { group, kind } of POLICY_GROUP_KINDS) {
      for (const obj of this.opts.store.list({ group, kind })) {
        const key = policyKey(kind, obj.metadata.namespace, obj.metadata.name ?? '');
        present.add(key);
        // What translation reads: a status write (ours) or a new resourceVersion must not count as a change.
        const { spec, specs } = obj as KubeObject & { spec?: unknown; specs?: unknown };
        const specText = JSON.stringify([obj.apiVersion, obj.metadata.name, obj.metadata.namespace, obj.metadata.labels, spec, specs]);
        if (this.seenPolicies.get(key)?.specText === specText) continue;
        const result = this.repository.upsert(obj);
        if (result.accepted) {
          this.seenPolicies.set(key, { specText });
          this.rulesRevision++;
        } else {
          this.seenPolicies.set(key, { specText, error: result.error });
          this.opts.logger.error({ policy: describePolicy(obj), kept: result.keptPrevious ? 'last valid version' : 'nothing' }, `policy rejected: ${result.error}`);
        }
      }
    }
    for (const key of [...this.seenPolicies.keys()]) {
      if (present.has(key)) continue;
      const [kind, a, b] = key.split('/');
      this.repository.delete(kind, b === undefined ? undefined : a, b ?? a);
      this.seenPolicies.delete(key);
      this.rulesRevision++;
    }
  }

  /**
   * Records the addresses of a DNS answer the proxy relays to `pod` (`namespace/name`) and, when
   * that changes what toFQDNs selects, resolves only after the datapath has them (ipcache and
   * policy): the proxy holds the answer until then, so the pod's immediate connect is not dropped (§5.3).
   */
  async learnDnsAnswer(message: DnsAnswerMessage, pod: string): Promise<void> {
    if (this.stopped || !this.fqdnCache.record(pod, message, this.clock().getTime())) return;
    await this.enqueue();
  }

  /** Expired toFQDNs addresses kept for the connections pods still have to them (Cilium's DNS zombies). */
  fqdnZombies(): FqdnZombie[] {
    return this.fqdnCache.zombies();
  }

  /** The toFQDNs cache as `cilium fqdn cache list` shows it: each pod's live lookups, then the zombies, times as ISO strings. */
  fqdnCacheView(): { lookups: { pod: string; name: string; address: string; expires: string }[]; zombies: { pod: string; address: string; names: readonly string[]; deletePendingAt: string; aliveUntil?: string }[] } {
    const iso = (ms: number): string => new Date(ms).toISOString();
    return {
      lookups: this.fqdnCache.entries().map((e) => ({ pod: e.endpoint, name: e.name, address: e.address, expires: iso(e.expiresMs) })),
      zombies: this.fqdnCache.zombies().map((z) => ({ pod: z.endpoint, address: z.address, names: z.names, deletePendingAt: iso(z.deletePendingAt), ...(z.aliveUntil > 0 ? { aliveUntil: iso(z.aliveUntil) } : {}) })),
    };
  }

  /**
   * Each learned address whose names some toFQDNs selector matches gets the node-local identity of
   * those selectors' labels (and, below, an ipcache entry); expired ones lose it once no connection
   * of the pod that looked them up is left in the conntrack. Addresses of local endpoints keep their
   * pod identity: toFQDNs never opens pods. The next expiry, or the next conntrack check while
   * expired addresses wait, schedules a reconciliation.
   */
  private syncFqdnIdentities(): void {
    const now = this.clock().getTime();
    const ipOf = new Map([...this.endpoints.values()].map((r) => [`${r.namespace}/${r.name}`, r.ip]));
    this.fqdnCache.retainEndpoints(new Set(ipOf.keys()));
    this.fqdnCache.expire(now);
    if (this.fqdnCache.zombieCount() > 0) {
      const activity = this.connectionActivity();
      this.fqdnCache.collectZombies(now, (pod, address) => activity.get(`${ipOf.get(pod)}>${address}`));
    }
    const selectors = fqdnSelectors(this.repository.rules());
    const podIps = new Set(ipOf.values());
    const wanted = new Map<string, string[]>();
    for (const [address, names] of this.fqdnCache.addresses()) {
      if (podIps.has(address)) continue;
      const keys = selectors.filter((s) => names.some((n) => s.matches(n))).map((s) => s.key);
      if (keys.length > 0) wanted.set(address, keys);
    }
    for (const [address, held] of [...this.fqdnIdentities]) {
      if (wanted.get(address)?.join('\n') === held.selectors) continue;
      this.allocator.release(held.id);
      this.fqdnIdentities.delete(address);
    }
    for (const [address, keys] of wanted) {
      if (!this.fqdnIdentities.has(address)) this.fqdnIdentities.set(address, { selectors: keys.join('\n'), id: this.allocator.allocateFqdn(keys).id });
    }
    clearTimeout(this.fqdnExpiryTimer);
    const expiry = this.fqdnCache.nextExpiry();
    const check = this.fqdnCache.zombieCount() > 0 ? now + (this.opts.fqdnConntrackCheckIntervalMs ?? DEFAULT_FQDN_CONNTRACK_CHECK_INTERVAL_MS) : undefined;
    const next = expiry === undefined ? check : check === undefined ? expiry : Math.min(expiry, check);
    if (next !== undefined && !this.stopped) {
      this.fqdnExpiryTimer = setTimeout(() => this.schedule(), Math.max(0, next - now) + 10);
      this.fqdnExpiryTimer.unref();
    }
  }

  /**
   * What the conntrack says of each source → destination address pair (`src>dst`): a connection is
   * open, or the last activity of the ones that ended. Empty when the datapath has no conntrack to read.
   */
  private connectionActivity(): Map<string, ConnectionActivity> {
    const activity = new Map<string, ConnectionActivity>();
    let connections: readonly TrackedConnection[];
    try {
      connections = this.opts.datapath.conntrack?.connections() ?? [];
    } catch (err) {
      // Unreadable: nothing counts as alive, so expired addresses close as they would without zombies.
      this.opts.logger.warn({ err: errorMessage(err) }, 'cannot read the conntrack; expired toFQDNs addresses are removed');
      return activity;
    }
    for (const c of connections) {
      const key = `${c.source}>${c.destination}`;
      const seen = activity.get(key);
      if (seen === 'open' || c.open) activity.set(key, 'open');
      else activity.set(key, Math.max(seen ?? 0, c.lastSeenMs));
    }
    return activity;
  }

  /** Every CIDR the rules name gets a node-local identity (and, below, an ipcache entry). */
  private syncCidrIdentities(): void {
    const wanted = new Map(referencedCidrs(this.repository.rules()).filter((p) => p.family === 4).map((p) => [formatIpPrefix(p), p]));
    for (const [cidr, id] of [...this.cidrIdentities]) {
      if (wanted.has(cidr)) continue;
      this.allocator.release(id);
      this.cidrIdentities.delete(cidr);
    }
    for (const [cidr, prefix] of wanted) {
      if (!this.cidrIdentities.has(cidr)) this.cidrIdentities.set(cidr, this.allocator.allocateCidr(prefix).id);
    }
  }

  /**
   * Brings the endpoint records in line with the node's pods: new pods get an identity, pods whose
   * labels changed get a new one, pods gone (or re-created with another address or veth) are
   * returned for removal from the datapath.
   */
  private syncEndpointRecords(pods: readonly PodRuntimeInfo[]): EndpointRecord[] {
    const { store } = this.opts;
    const namespaces = new Map(store.list<Namespace>(NAMESPACE_KIND).map((n) => [n.metadata.name ?? '', n]));
    const removed: EndpointRecord[] = [];
    const current = new Set<string>();
    for (const pod of pods) {
      // Only pods with their own network namespace and veth can be enforced on.
      if (pod.network !== 'netns' || !pod.ip || !pod.hostInterface || pod.phase === 'Failed') continue;
      const key = `${pod.namespace}/${pod.name}`;
      const podObject = store.get<Pod>(storeKeyOf('', 'Pod', pod.namespace, pod.name));
      // Without its Pod object the labels are unknown, and a guessed identity could match the wrong
      // rules: the endpoint waits for its identity (the object follows within one store batch).
      if (!podObject) {
        const known = this.endpoints.get(key);
        if (known) current.add(key);
        continue;
      }
      const labels = podLabels(podObject, namespaces.get(pod.namespace), { clusterName: this.opts.clusterName });
      const labelsKey = labelSetKey(labels);
      const namedPorts = namedPortsOf(podObject);
      let record = this.endpoints.get(key);
      if (record && (record.endpointId !== pod.endpointId || record.ip !== pod.ip || record.hostInterface !== pod.hostInterface)) {
        removed.push(record);
        this.endpoints.delete(key);
        record = undefined;
      }
      current.add(key);
      if (!record) {
        this.endpoints.set(key, {
          namespace: pod.namespace,
          name: pod.name,
          endpointId: pod.endpointId,
          ip: pod.ip,
          hostInterface: pod.hostInterface,
          identity: this.allocator.allocate(labels).id,
          labels,
          labelsKey,
          namedPorts,
          namedPortsKey: namedPortsKey(namedPorts),
          attached: false,
          policyWrites: 0,
          failed: false,
        });
        continue;
      }
      if (record.labelsKey !== labelsKey) {
        const previous = record.identity;
        record.identity = this.allocator.allocate(labels).id;
        record.labels = labels;
        record.labelsKey = labelsKey;
        // The endpoint and ipcache entries carry the identity: write them again.
        record.attached = false;
        this.allocator.release(previous);
      }
      record.namedPorts = namedPorts;
      record.namedPortsKey = namedPortsKey(namedPorts);
    }
    for (const [key, record] of [...this.endpoints]) {
      if (current.has(key)) continue;
      removed.push(record);
      this.endpoints.delete(key);
    }
    return removed;
  }

  private async removeEndpoint(record: EndpointRecord): Promise<void> {
    try {
      await this.opts.datapath.removeEndpoint(localEndpoint(record));
    } catch (err) {
      this.opts.logger.warn({ endpoint: record.endpointId, pod: `${record.namespace}/${record.name}`, err: errorMessage(err) }, 'cannot remove endpoint');
    }
    this.allocator.release(record.identity);
    if (this.ipcacheWritten.get(`${record.ip}/32`) === record.identity) this.ipcacheWritten.delete(`${record.ip}/32`);
  }

  /** The ipcache this node wants: its own addresses as host, the policies' CIDRs, and its pods (written by addEndpoint). */
  private desiredIpcache(): Map<string, number> {
    const desired = new Map<string, number>();
    for (const [cidr, id] of this.cidrIdentities) desired.set(cidr, id);
    for (const [address, { id }] of this.fqdnIdentities) desired.set(`${address}/32`, id);
    for (const ip of this.opts.nodeAddresses?.() ?? []) if (isIpv4Address(ip)) desired.set(`${ip}/32`, ReservedIdentity.HOST);
    for (const r of this.endpoints.values()) desired.set(`${r.ip}/32`, r.identity);
    return desired;
  }

  /**
   * Adds and updates ipcache entries first (so a policy naming a new identity finds its addresses),
   * deletes stale ones last. Pod entries are written by addEndpoint together with the endpoint entry.
   */
  private syncIpcache(phase: 'upserts' | 'deletes'): number {
    const desired = this.desiredIpcache();
    const pods = new Set([...this.endpoints.values()].map((r) => `${r.ip}/32`));
    let writes = 0;
    if (phase === 'upserts') {
      for (const [cidr, id] of desired) {
        if (pods.has(cidr) || this.ipcacheWritten.get(cidr) === id) continue;
        this.opts.datapath.ipcache.set(cidr, id);
        this.ipcacheWritten.set(cidr, id);
        writes++;
      }
      return writes;
    }
    for (const cidr of [...this.ipcacheWritten.keys()]) {
      if (desired.has(cidr)) continue;
      this.opts.datapath.ipcache.delete(cidr);
      this.ipcacheWritten.delete(cidr);
      writes++;
    }
    return writes;
  }

  /** What a compilation reads besides the endpoint: when this string is unchanged, cached results stand. */
  private generation(clusterNamedPorts: NamedPorts): string {
    const ids = this.allocator.identities().map((i) => i.id).join(',');
    return `${this.rulesRevision}|${ids}|${namedPortsKey(clusterNamedPorts)}`;
  }

  private compile(record: EndpointRecord, identities: readonly Identity[], clusterNamedPorts: NamedPorts, generation: string): CompiledPolicy['result'] {
    const cacheKey = `${record.identity}|${record.namedPortsKey}`;
    const cached = this.compiled.get(cacheKey);
    if (cached?.generation === generation) return cached.result;
    this.compilations++;
    const rules = this.repository.rules();
    const endpoint = { labels: record.labels, namedPorts: record.namedPorts };
    const result = compileEndpointPolicy(rules, endpoint, identities, {
      proxyPort: this.proxyPort,
      enforcementMode: this.opts.enforcementMode,
      clusterNamedPorts,
    });
    const entry: CompiledPolicy = {
      generation,
      result: result.ok
        ? {
            ok: true,
            policy: result.policy,
            entries: [...result.policy.ingress.entries, ...result.policy.egress.entries],
            redirects: l7PortRedirects(rules, endpoint, { clusterNamedPorts }),
            portPolicies: l7PortPolicies(rules, endpoint, identities, { clusterNamedPorts }),
            dnsPolicies: dnsPortPolicies(rules, endpoint, identities, { clusterNamedPorts }),
          }
        : result,
    };
    this.compiled.set(cacheKey, entry);
    return entry.result;
  }

  /**
   * Compiles (cached per identity) and applies each endpoint's policy where it differs from what was
   * last written, then attaches endpoints not attached yet: their policy is in the map before their
   * veth carries the program, so a new pod is never enforced with an empty (or a wider) policy.
   */
  private async syncEndpointPolicies(): Promise<number> {
    const records = [...this.endpoints.values()];
    const clusterNamedPorts = mergeNamedPorts(records.map((r) => r.namedPorts));
    const generation = this.generation(clusterNamedPorts);
    const identities = this.allocator.identities();
    // Compiled entries of identities no endpoint has any more are dropped from the cache.
    const live = new Set(records.map((r) => `${r.identity}|${r.namedPortsKey}`));
    for (const key of [...this.compiled.keys()]) if (!live.has(key)) this.compiled.delete(key);
    let writes = 0;
    for (const record of records) {
      const result = this.compile(record, identities, clusterNamedPorts, generation);
      const pod = `${record.namespace}/${record.name}`;
      if (!result.ok) {
        if (record.error !== result.error) this.opts.logger.error({ pod, endpoint: record.endpointId }, `policy cannot be enforced, previous entries kept: ${result.error}`);
        record.error = result.error;
      } else {
        const diff = record.applied ? diffPolicyMap(record.applied, result.entries) : undefined;
        if (!diff || diff.upserts.length > 0 || diff.deletes.length > 0 || record.failed) {
          try {
            const applied = this.opts.datapath.policy.apply(record.endpointId, result.entries);
            record.policyWrites += applied.updated + applied.deleted;
            writes += applied.updated + applied.deleted;
            record.applied = result.entries;
            record.failed = false;
            record.error = undefined;
          } catch (err) {
            // The datapath removed the endpoint's entries: it drops all its traffic until a write succeeds.
            record.applied = [];
            record.failed = true;
            record.error = errorMessage(err);
            this.opts.logger.error({ pod, endpoint: record.endpointId }, `policy write failed, endpoint fails closed: ${record.error}`);
          }
        } else if (record.error && !record.failed) {
          record.error = undefined;
        }
        record.enforcement = { ingress: result.policy.ingress.enforced, egress: result.policy.egress.enforced };
        // On a failed write the endpoint drops everything; its redirects are then moot but harmless.
        record.redirects = result.redirects;
        record.portPolicies = result.portPolicies;
        record.dnsPolicies = result.dnsPolicies;
      }
      if (!record.attached) {
        try {
          await this.opts.datapath.addEndpoint(localEndpoint(record));
          record.attached = true;
          this.ipcacheWritten.set(`${record.ip}/32`, record.identity);
          this.opts.logger.info({ pod, endpoint: record.endpointId, identity: record.identity, ip: record.ip }, 'endpoint enforced');
        } catch (err) {
          record.error = `cannot attach to ${record.hostInterface}: ${errorMessage(err)}`;
          this.opts.logger.error({ pod, endpoint: record.endpointId }, record.error);
        }
      }
    }
    return writes;
  }

  /** ClusterIP frontends → ready backends; only frontends whose backends changed are written. */
  private syncServices(): number {
    const { store, datapath } = this.opts;
    const services = store.list<Service>(SERVICE_KIND);
    const wantedIps = new Map<string, string | undefined>();
    for (const svc of services) {
      if (!hasClusterIp(svc)) continue;
      const explicit = svc.spec?.clusterIP;
      if (explicit && !isIpv4Address(explicit)) continue;
      wantedIps.set(serviceKey(svc), explicit || undefined);
    }
    const assigned = this.clusterIps.assign(wantedIps);
    const ipsChanged = assigned.size !== this.assignedClusterIps.size || [...assigned].some(([k, ip]) => this.assignedClusterIps.get(k) !== ip);
    this.assignedClusterIps = assigned;
    const meshPort = this.opts.meshProxyPort ?? 0;
    const desired = desiredServices(services, store.list<EndpointSlice>(SLICE_KIND), assigned).map((d) =>
      meshPort && d.frontend.protocol === 'TCP' && this.meshFrontends.has(`${d.service}/${d.frontend.port}`) ? { ...d, l7ProxyPort: meshPort } : d,
    );
    const byKey = new Map(desired.map((d) => [frontendKey(d.frontend), d]));
    let writes = 0;
    for (const [key, d] of byKey) {
      const written = this.servicesWritten.get(key);
      if (written && JSON.stringify(written.backends) === JSON.stringify(d.backends) && written.l7ProxyPort === d.l7ProxyPort) {
        this.servicesWritten.set(key, d);
        continue;
      }
      try {
        datapath.services.set(d.frontend, d.backends, d.l7ProxyPort ?? 0);
        this.servicesWritten.set(key, d);
        writes++;
      } catch (err) {
        this.opts.logger.error({ service: d.service, frontend: key, err: errorMessage(err) }, 'cannot write service');
      }
    }
    for (const [key, written] of [...this.servicesWritten]) {
      if (byKey.has(key)) continue;
      datapath.services.delete(written.frontend);
      this.servicesWritten.delete(key);
      writes++;
    }
    if (ipsChanged) this.opts.onClusterIpsChange?.();
    return writes;
  }

  /**
   * Cilium's `Valid` condition on every policy object: False with Cilium's error when its latest
   * version was rejected (by the source, which then keeps the last valid version in the store, or
   * by the repository), True otherwise. Written only when it changes.
   */
  private writePolicyConditions(at: string): void {
    const sourceErrors = new Map<string, string>();
    for (const e of this.opts.sourceErrors?.() ?? []) if (e.object && !sourceErrors.has(e.object)) sourceErrors.set(e.object, e.message);
    for (const { group, kind } of POLICY_GROUP_KINDS) {
      for (const obj of this.opts.store.list({ group, kind })) {
        const key = policyKey(kind, obj.metadata.namespace, obj.metadata.name ?? '');
        const error = sourceErrors.get(describePolicy(obj)) ?? this.seenPolicies.get(key)?.error;
        const status = (obj as KubeObject & { status?: { conditions?: { type: string; status: string; message?: string; lastTransitionTime?: string }[] } }).status;
        const previous = status?.conditions?.find((c) => c.type === 'Valid');
        const next = validCondition(error, at);
        if (previous && previous.status === next.status && previous.message === next.message) continue;
        const others = (status?.conditions ?? []).filter((c) => c.type !== 'Valid');
        this.opts.store.setStatus(storeKeyOf(group, kind, obj.metadata.namespace, obj.metadata.name ?? ''), { ...(status ?? {}), conditions: [...others, next] });
      }
    }
  }

  // ---- views for the admin API -------------------------------------------------------------

  private view(record: EndpointRecord): ManagedEndpoint {
    return {
      namespace: record.namespace,
      name: record.name,
      endpointId: record.endpointId,
      ip: record.ip,
      hostInterface: record.hostInterface,
      identity: record.identity,
      labels: record.labels,
      state: endpointState(record),
      ...(record.enforcement ? { enforcement: { ...record.enforcement } } : {}),
      policyEntries: record.applied?.length ?? 0,
      policyWrites: record.policyWrites,
      ...(record.error ? { error: record.error } : {}),
    };
  }

  /** The node's endpoints, by endpoint id. */
  listEndpoints(): ManagedEndpoint[] {
    return [...this.endpoints.values()].map((r) => this.view(r)).sort((a, b) => a.endpointId - b.endpointId);
  }

  endpoint(namespace: string, name: string): ManagedEndpoint | undefined {
    const record = this.endpoints.get(`${namespace}/${name}`);
    return record && this.view(record);
  }

  private labelsOf(id: number): string[] {
    return (this.allocator.get(id)?.labels ?? []).map(formatLabel);
  }

  /** Every identity the node knows (reserved, pods, CIDRs), as `cilium identity list`. */
  identities(): IdentityView[] {
    const counts = new Map<number, number>();
    for (const r of this.endpoints.values()) counts.set(r.identity, (counts.get(r.identity) ?? 0) + 1);
    return this.allocator.identities().map((i) => ({ id: i.id, labels: i.labels.map(formatLabel), endpoints: counts.get(i.id) ?? 0 }));
  }

  /** The ipcache as the datapath holds it, with each identity's labels. */
  ipcache(): IpcacheView[] {
    return this.opts.datapath.ipcache.list().map((e) => ({ cidr: e.cidr, identity: e.identity, labels: this.labelsOf(e.identity) }));
  }

  /** The datapath's drop counters by reason, as `cilium bpf metrics list` shows them (reasons that never dropped included). */
  dropMetrics(): DropMetricView[] {
    const counts = this.opts.datapath.drops.read();
    return (Object.keys(DROP_REASON_TEXT) as (keyof typeof DROP_REASON_TEXT)[]).map((reason) => ({ reason, description: DROP_REASON_TEXT[reason], packets: counts[reason] ?? 0 }));
  }

  /** One endpoint's policy map entries, read back from the datapath, with the remote identities' labels. */
  policyOf(namespace: string, name: string): EndpointPolicyView | undefined {
    const record = this.endpoints.get(`${namespace}/${name}`);
    if (!record) return undefined;
    const entries = this.opts.datapath.policy
      .entries(record.endpointId)
      .map((e) => ({ ...e, labels: e.identity === 0 ? [] : this.labelsOf(e.identity) }))
      .sort((a, b) => (a.direction === b.direction ? 0 : a.direction === 'ingress' ? -1 : 1) || a.identity - b.identity || a.protocol - b.protocol || a.port - b.port || a.prefixLength - b.prefixLength);
    return { endpoint: this.view(record), entries };
  }

  /** `tendril policy trace`: the decisions of this node's policy, and of its datapath's maps, for one connection. Throws TraceError for a request it cannot trace. */
  trace(request: TraceRequest): TracedPath[] {
    return tracePolicy(this.traceContext(), request);
  }

  private traceContext(): TraceContext {
    const records = [...this.endpoints.values()];
    const world = this.allocator.get(ReservedIdentity.WORLD) as Identity;
    const ipcache = [...this.desiredIpcache()].map(([cidr, id]) => ({ prefix: parseIpPrefix(cidr), id }));
    return {
      rules: this.repository.rules(),
      options: { proxyPort: this.proxyPort, enforcementMode: this.opts.enforcementMode, clusterNamedPorts: mergeNamedPorts(records.map((r) => r.namedPorts)) },
      endpoints: records.map((r) => ({
        namespace: r.namespace,
        name: r.name,
        ip: r.ip,
        endpointId: r.endpointId,
        identity: this.allocator.get(r.identity) ?? { id: r.identity, labels: r.labels },
        labels: r.labels,
        namedPorts: r.namedPorts,
      })),
      identityOfAddress: (ip) => {
        let address: ReturnType<typeof parseIpAddress>;
        try {
          address = parseIpAddress(ip);
        } catch {
          return world;
        }
        let best: { prefix: { length: number }; id: number } | undefined;
        for (const entry of ipcache) {
          if (prefixContainsAddress(entry.prefix, address.family, address.address) && (!best || entry.prefix.length > best.prefix.length)) best = entry;
        }
        return (best && this.allocator.get(best.id)) ?? world;
      },
      serviceBackends: (namespace, name, port, protocol) => {
        const wanted = protocol === Protocol.UDP ? 'UDP' : 'TCP';
        const service = [...this.servicesWritten.values()].find((d) => d.service === `${namespace}/${name}` && d.frontend.port === port && d.frontend.protocol === wanted);
        return service && { vip: service.frontend.vip, backends: service.backends };
      },
      policyEntries: (endpointId) => this.opts.datapath.policy.entries(endpointId),
      l7Policy: () => this.proxyL7Policy(),
    };
  }

  /**
   * The node proxy's L7 engine over exactly what the agent sends it: the NPDS resources of the
   * endpoints' redirects and the generic secrets their header matches name, read from the store.
   */
  private proxyL7Policy(): L7PolicyIndex {
    const redirects = this.proxyRedirects();
    const readSecret = (namespace: string, name: string): KubeSecret | undefined => this.opts.store.get<KubeObject & KubeSecret>(keyOf({ group: '', kind: 'Secret', namespace, name }));
    const secrets = new Map(policySecretResources(redirects, readSecret).map((s) => [s.name, s.generic_secret?.secret?.inline_string]));
    const { index, errors } = L7PolicyIndex.compile(networkPolicyResources(redirects), (name) => secrets.get(name));
    // The proxy refuses (NACKs) a policy it cannot compile and keeps its previous one; the trace cannot know that one.
    if (!index) throw new TraceError(`the node proxy refuses this L7 policy: ${errors.map((e) => e.message).join('; ')}`);
    return index;
  }

  /** The service map as the datapath holds it, with the Service each frontend belongs to. */
  services(): ServiceView[] {
    return this.opts.datapath.services.list().map((s) => {
      const owner = this.servicesWritten.get(frontendKey(s.frontend));
      return { ...(owner?.service ? { service: owner.service, portName: owner.portName } : {}), frontend: s.frontend, backends: s.backends, ...(s.l7ProxyPort ? { l7ProxyPort: s.l7ProxyPort } : {}) };
    });
  }

  status(): EnforcementStatus {
    const invalidPolicies: PolicyProblem[] = [];
    const sourceErrors = this.opts.sourceErrors?.() ?? [];
    for (const e of sourceErrors) {
      const kind = e.object?.split(' ')[0];
      if (kind && POLICY_GROUP_KINDS.some((k) => k.kind === kind)) invalidPolicies.push({ policy: e.object as string, error: e.message });
    }
    for (const [key, seen] of this.seenPolicies) {
      if (!seen.error) continue;
      const [kind, ...rest] = key.split('/');
      const policy = `${kind} ${rest.join('/')}`;
      if (!invalidPolicies.some((p) => p.policy === policy)) invalidPolicies.push({ policy, error: seen.error });
    }
    return {
      endpoints: this.endpoints.size,
      identities: this.allocator.identities().length,
      policies: this.seenPolicies.size,
      invalidPolicies: invalidPolicies.sort((a, b) => a.policy.localeCompare(b.policy)),
      failedEndpoints: [...this.endpoints.values()].filter((r) => r.error).map((r) => ({ endpoint: `${r.namespace}/${r.name}`, error: r.error as string })),
      services: this.servicesWritten.size,
      ...(this.lastReconcile ? { lastReconcile: this.lastReconcile } : {}),
    };
  }
}
