import * as os from 'node:os';
import { TypeUrl } from '@tendril/api-envoy';
import { validateResource } from '@tendril/api-gateway';
import type { Gateway } from '@tendril/api-gateway';
import type { Pod, Service } from '@tendril/api-k8s';
import type { DatapathOptions } from '@tendril/datapath';
import { DEFAULT_MESH_PROXY_PORT, DEFAULT_PROXY_PORTS, DnsProxy, type DnsProxyRecord, type DnsRejectResponseCode, type FqdnCacheOptions, fixedProxyPorts, networkPolicyHostsResources, policySecretResources, redirectResources, type KubeSecret, type ProxyPortTable, startNodeEnforcement, validateEndpointResource, type NodeEnforcement, type RedirectResources } from '@tendril/endpoints';
import { GATEWAY_NAME_LABEL, SUPPORTED_FEATURES, TranslationMemo, gatewayInfrastructure, translate, type MeshOptions, type StatusUpdate, type TranslateResult } from '@tendril/gateway';
import { FileSource, formatSourceError, storeSink, type SourceError } from '@tendril/sources';
import { ResourceStore, keyOf, refOf, type ResourceKey, type StoreChange } from '@tendril/store';
import { PodRunner, createPodNetwork, endpointSlicesFor, podNetworkFromEnvironment, type PodNetworkSettings, type PodRuntimeInfo } from '@tendril/workloads';
import { AdsServer, ResourceEncoder, Snapshot, SnapshotCache, type Logger } from '@tendril/xds';
import { startAdminServer, type AdminState } from './admin-server';
import { REPO_ROOT, entryPointCommand } from './entry-points';
import { resolveKind } from './kinds';
import type { AgentStatus } from './status-format';

export const DEFAULT_CONTROLLER_NAME = 'tendril.io/gateway-controller';

/** How many DNS proxy decisions the agent keeps for inspection. */
const DNS_LOG_LENGTH = 1000;

export interface AgentOptions {
  configDir: string;
  /** host:port for the xDS (ADS) gRPC server. */
  xdsAddress: string;
  /** host:port for the admin API. */
  adminAddress: string;
  logger: Logger;
  controllerName?: string;
  /** Address reported for Gateways without spec.addresses. */
  defaultGatewayAddress?: string;
  /** Run the Deployments and Pods of the config directory as local processes (`tendril up`). */
  runWorkloads?: boolean;
  /** Addresses for Gateways without spec.addresses, keyed by `<namespace>/<name>`. */
  gatewayAddresses?: Record<string, string>;
  /** First pod IP handed out by the local workload runner (default 127.11.0.1). */
  firstPodIp?: string;
  /**
   * How workload pods are networked: their own network namespaces wired by the CNI plugin (root),
   * or loopback addresses from firstPodIp. Default: TENDRIL_POD_NETWORK / TENDRIL_POD_CIDR from the
   * environment (set by `tendril up`), else loopback.
   */
  podNetwork?: PodNetworkSettings;
  /** Where pod output goes when workloads run. */
  writePodOutput?: (line: string) => void;
  clock?: () => Date;
  /**
   * Quiet time after the last file event before the changed files are re-read (default
   * DEFAULT_AGENT_DEBOUNCE_MS). It adds to the latency of every change. Write-then-rename (what
   * editors and kubectl-style tools do) is never seen half-written; a file rewritten in place can
   * be read mid-write, and then its next event re-reads it one debounce later.
   */
  debounceMs?: number;
  /**
   * Where the eBPF datapath pins its maps and which cgroup its ClusterIP load balancer serves (for
   * netns pods as root; default /sys/fs/bpf/tendril and the cgroup v2 root).
   */
  datapath?: DatapathOptions;
  /**
   * The node proxy's redirect listener port per L7 parser and direction (default
   * DEFAULT_PROXY_PORTS). Two agents on one host (test suites side by side) need different ones.
   */
  proxyPorts?: ProxyPortTable;
  /**
   * The node proxy resolves client identities from NPHDS (the ipcache as xDS resources) instead of
   * the pinned BPF ipcache: for a proxy that cannot read the maps. NPHDS is sent either way.
   */
  proxyUsesNphds?: boolean;
  /**
   * The node proxy's mesh listener port (default DEFAULT_MESH_PROXY_PORT): pods' connections to
   * Services with mesh routes (GAMMA) are steered there. Like proxyPorts, one per agent on a host.
   */
  meshProxyPort?: number;
  /** Called with every decision of the in-agent DNS proxy (allowed, refused, malformed). */
  onDnsRecord?: (record: DnsProxyRecord) => void;
  /**
   * Cilium's toFQDNs knobs (`--tofqdns-min-ttl`, `--tofqdns-endpoint-max-ip-per-hostname`,
   * `--tofqdns-idle-connection-grace-period`, `--tofqdns-max-deferred-connection-deletes`), with
   * Cilium's defaults when absent.
   */
  fqdn?: FqdnCacheOptions;
  /** How often the conntrack is read while expired toFQDNs addresses wait for their connections to end (default 30 s). */
  fqdnConntrackCheckIntervalMs?: number;
  /** Cilium's `--tofqdns-dns-reject-response-code`: a denied DNS query gets REFUSED (default) or NXDOMAIN. */
  dnsRejectResponseCode?: DnsRejectResponseCode;
}

/** Default FileSource debounce of the agent: short, because it adds to every change's latency. */
export const DEFAULT_AGENT_DEBOUNCE_MS = 5;

/** A status the agent wrote and the store still holds as written: the translator's update and its JSON text. */
interface WrittenStatus {
  update: StatusUpdate;
  json: string;
}

const FILE_SOURCE = 'file';
const KUBELET_SOURCE = 'kubelet';
/** The objects the agent creates for the Gateways it programs (gatewayInfrastructure), as an operator would. */
const GATEWAY_CONTROLLER_SOURCE = 'gateway-controller';

/**
 * Whether this node can bind an address a Gateway asks for: any IPv4 loopback address (Linux
 * routes all of 127.0.0.0/8 to lo) or an address of one of its interfaces.
 */
function isLocalAddress(address: string): boolean {
  if (/^127\.\d+\.\d+\.\d+$/.test(address) || address === '::1') return true;
  return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === address));
}

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/**
 * tendril-agent: resources from a directory → store → Gateway API translation → xDS snapshot
 * for the node proxy, with status written back to the store and an admin API over it. Every
 * change is translated from the whole store (translation is pure and fast); the snapshot's
 * per-type versions make the xDS server push only what changed.
 */
export class Agent implements AdminState {
  readonly store: ResourceStore;
  private readonly cache = new SnapshotCache();
  /** Keeps the encodings of the last snapshot, so each translation re-encodes only what changed. */
  private readonly encoder = new ResourceEncoder();
  /** Lets a change re-translate only the routes it touched. */
  private readonly translationMemo = new TranslationMemo();
  /**
   * Hostnames proxyless gRPC clients asked for (LDS names): only these get API listeners, built the
   * moment a client subscribes, instead of one per hostname of every route for every proxy.
   */
  private readonly proxylessHostnames = new Set<string>();
  /** Set once the configuration directory has been read (see scheduleTranslation). */
  private sourceRead = false;
  private readonly ads: AdsServer;
  private readonly source: FileSource;
  private readonly pods: PodRunner | undefined;
  private admin: { port: number; close(): Promise<void> } | undefined;
  private sourceErrors: readonly SourceError[] = [];
  private snapshotCounter = 0;
  private lastResult: TranslateResult | undefined;
  /**
   * Per object, the status this agent wrote last, while the store still holds it: any other write
   * to the object (a source's new version, a deletion) drops the entry (see onStoreChange).
   */
  private readonly writtenStatuses = new Map<ResourceKey, WrittenStatus>();
  /**
   * The updates of writtenStatuses. The translator hands back the very same update object for a
   * route it did not re-translate, so one lookup here tells that its status is already in place.
   */
  private readonly statusesInPlace = new WeakSet<StatusUpdate>();
  /** The Gateway Services last published (publishGatewayInfrastructure), as JSON. */
  private publishedInfrastructure: string | undefined;
  /** True while writeStatuses writes: the store events that causes are our own. */
  private writingStatuses = false;
  private lastTranslation: AgentStatus['agent']['lastTranslation'];
  private pending: NodeJS.Immediate | undefined;
  private readonly startedAt: string;
  private readonly clock: () => Date;
  private xdsPort = 0;
  private unsubscribeStore: (() => void) | undefined;
  private enforcement: NodeEnforcement | undefined;
  private dnsProxy: DnsProxy | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.clock = opts.clock ?? (() => new Date());
    this.startedAt = this.clock().toISOString();
    this.store = new ResourceStore({ clock: this.clock });
    this.ads = new AdsServer({ cache: this.cache, logger: opts.logger, onExplicitSubscription: (typeUrl, names) => this.onExplicitSubscription(typeUrl, names) });
    this.source = new FileSource(opts.configDir, {
      id: FILE_SOURCE,
      // Validation also applies the CRD defaults (parentRef group/kind, path match type, weights …);
      // the source keeps the defaulted object, so each object is validated once.
      validate: (obj) => validateEndpointResource(obj) ?? validateResource(obj),
      debounceMs: opts.debounceMs ?? DEFAULT_AGENT_DEBOUNCE_MS,
    });
    if (opts.runWorkloads) {
      const network = createPodNetwork(opts.podNetwork ?? podNetworkFromEnvironment(process.env) ?? { mode: 'loopback' }, {
        cniPlugin: `${REPO_ROOT}/apps/cni/bin/tendril-cni`,
        firstPodIp: opts.firstPodIp,
        write: opts.writePodOutput,
      });
      this.pods = new PodRunner({
        tendrilCommand: entryPointCommand('cli'),
        write: opts.writePodOutput,
        network,
        // A pod's container starts only once its interface enforces its policy (none without enforcement).
        beforeFirstStart: (pod) => this.enforcementManager()?.untilEnforced(pod.namespace, pod.name) ?? Promise.resolve(true),
      });
      this.pods.on('change', () => {
        this.publishWorkloads();
        this.enforcementManager()?.schedule({ podsChanged: true });
      });
    }
  }

  async start(): Promise<{ xdsPort: number; adminPort: number }> {
    const xds = splitAddress(this.opts.xdsAddress);
    this.xdsPort = await this.ads.listen(`${xds.host}:${xds.port}`);
    const admin = splitAddress(this.opts.adminAddress);
    this.admin = await startAdminServer(this, admin.host, admin.port);
    this.unsubscribeStore = this.store.onChange((change) => this.onStoreChange(change));
    const sink = storeSink(this.store, (_id, errors) => {
      this.sourceErrors = errors;
      this.enforcementManager()?.schedule();
      for (const e of errors) this.opts.logger.error({}, `invalid configuration: ${formatSourceError(e)}`);
    });
    await this.startEnforcement();
    await this.source.start(sink);
    await this.source.ready;
    this.sourceRead = true;
    this.translateNow();
    this.opts.logger.info({ xds: `${xds.host}:${this.xdsPort}`, admin: `${admin.host}:${this.admin.port}`, config: this.opts.configDir }, 'agent started');
    return { xdsPort: this.xdsPort, adminPort: this.admin.port };
  }

  async stop(): Promise<void> {
    // Detach first: pods exiting during shutdown must not look like changes to react to (a
    // re-sync would start replacement pods that outlive the agent).
    this.unsubscribeStore?.();
    this.pods?.removeAllListeners('change');
    if (this.pending) clearImmediate(this.pending);
    await this.source.stop();
    await this.pods?.stop();
    // The pods' namespaces are gone: their endpoints go too; pinned programs and maps stay enforcing.
    this.dnsProxy?.close();
    await this.enforcementManager()?.stop();
    await this.ads.close();
    await this.admin?.close();
  }

  /** A new proxyless hostname is translated at once, so the client's first answer already has it. */
  private onExplicitSubscription(typeUrl: string, names: readonly string[]): void {
    if (typeUrl !== TypeUrl.Listener) return;
    // Gateway socket listeners are named <namespace>/<gateway>/<port>; hostnames have no '/'.
    const added = names.filter((n) => !n.includes('/') && !this.proxylessHostnames.has(n));
    if (added.length === 0) return;
    for (const n of added) this.proxylessHostnames.add(n);
    this.translateNow();
  }

  private onStoreChange(change: StoreChange): void {
    if (!this.writingStatuses) this.forgetWrittenStatuses(change);
    const onlyStatus = change.added.length === 0 && change.deleted.length === 0 && change.updated.every((k) => change.statusOnly.includes(k));
    if (onlyStatus) return; // our own status writes
    this.enforcementManager()?.schedule();
    if (this.pods && [...change.added, ...change.updated, ...change.deleted].some((k) => /\/(Deployment|Pod|Service)\//.test(k))) {
      this.pods.sync(this.store.all().filter((o) => o.kind === 'Deployment' || (o.kind === 'Pod' && !o.metadata.ownerReferences?.length)));
      this.publishWorkloads();
    }
    this.scheduleTranslation();
  }

  /** Coalesces bursts (a file with many documents, pods becoming ready) into one translation. */
  private scheduleTranslation(): void {
    // Before the configuration directory has been read, a translation would push an empty
    // snapshot: the proxy would report ready with nothing to serve (start() translates once read).
    if (!this.sourceRead) return;
    this.pending ??= setImmediate(() => {
      this.pending = undefined;
      this.translateNow();
    });
  }

  /** Pods of Deployments and the EndpointSlices of selector Services, as a kubelet and the EndpointSlice controller would write them. */
  private publishWorkloads(): void {
    if (!this.pods) return;
    const running = this.pods.list();
    const services = this.store.list<Service>({ kind: 'Service', group: undefined });
    const slices = endpointSlicesFor([...services], running);
    const ownedPods = running.filter((p) => p.pod.metadata.ownerReferences?.length).map((p) => p.pod);
    this.store.batch(() => {
      this.store.replaceAllFromSource(KUBELET_SOURCE, [...ownedPods, ...slices]);
      for (const p of running) if (!p.pod.metadata.ownerReferences?.length) this.store.setStatus(refOf(p.pod), p.pod.status);
    });
  }

  private translateNow(): void {
    const started = performance.now();
    // metav1.Time has second precision: conditions carry RFC 3339 timestamps without fractions.
    const at = this.clock().toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      const result = translate({
        resources: this.store.all(),
        controllerName: this.opts.controllerName ?? DEFAULT_CONTROLLER_NAME,
        now: at,
        options: {
          defaultAddress: this.opts.defaultGatewayAddress ?? '127.0.0.1',
          gatewayAddresses: this.opts.gatewayAddresses,
          proxylessHostnames: this.proxylessHostnames,
          usableAddress: isLocalAddress,
          supportedFeatures: [...SUPPORTED_FEATURES],
          mesh: this.meshOptions(),
        },
      }, this.translationMemo);
      // Frontends with mesh routes are load-balanced by the node proxy from now on; the rest by the socket LB.
      this.enforcementManager()?.setMeshFrontends((result.ir.mesh?.frontends ?? []).map((f) => `${f.service.namespace}/${f.service.name}/${f.service.port}`));
      const translated = performance.now();
      const { listeners, routes, clusters, endpoints, secrets } = result.envoy;
      const redirect = this.redirectResources();
      const proxyPolicy = this.proxyPolicyResources();
      const snapshot = Snapshot.fromResources(
        String(++this.snapshotCounter),
        [
          ...redirect.clusters.map((r) => ({ typeUrl: TypeUrl.Cluster, resource: r as Record<string, unknown> })),
          ...redirect.listeners.map((r) => ({ typeUrl: TypeUrl.Listener, resource: r as Record<string, unknown> })),
          ...redirect.networkPolicies.map((r) => ({ typeUrl: TypeUrl.NetworkPolicy, resource: r as Record<string, unknown> })),
          ...proxyPolicy.hosts.map((r) => ({ typeUrl: TypeUrl.NetworkPolicyHosts, resource: r as Record<string, unknown> })),
          ...proxyPolicy.secrets.map((r) => ({ typeUrl: TypeUrl.Secret, resource: r as Record<string, unknown> })),
          ...clusters.map((r) => ({ typeUrl: TypeUrl.Cluster, resource: r as Record<string, unknown> })),
          ...endpoints.map((r) => ({ typeUrl: TypeUrl.ClusterLoadAssignment, resource: r as Record<string, unknown> })),
          ...secrets.map((r) => ({ typeUrl: TypeUrl.Secret, resource: r as Record<string, unknown> })),
          ...listeners.map((r) => ({ typeUrl: TypeUrl.Listener, resource: r as Record<string, unknown> })),
          ...routes.map((r) => ({ typeUrl: TypeUrl.RouteConfiguration, resource: r as Record<string, unknown> })),
        ],
        this.encoder,
      );
      const snapshotBuilt = performance.now();
      this.cache.setDefault(snapshot);
      const pushed = performance.now();
      this.writeStatuses(result.statuses);
      this.publishGatewayInfrastructure(result.statuses);
      this.lastResult = result;
      this.lastTranslation = { at, durationMs: performance.now() - started };
      this.opts.logger.info({ snapshot: snapshot.label, listeners: listeners.length, routes: routes.length, clusters: clusters.length, ms: Math.round(this.lastTranslation.durationMs), phases: { translate: translated - started, snapshot: snapshotBuilt - translated, push: pushed - snapshotBuilt, status: performance.now() - pushed } }, 'configuration translated');
    } catch (err) {
      // Keep serving the previous snapshot: a translation bug must not take traffic down.
      this.lastTranslation = { at, durationMs: performance.now() - started, error: (err as Error).message };
      this.opts.logger.error({ err: (err as Error).message }, 'translation failed; keeping the previous configuration');
    }
  }

  /**
   * The Service of each Gateway this agent programs, labelled with the Gateway's name and its
   * spec.infrastructure labels and annotations. A Service of the same name that somebody else wrote
   * is theirs: it is left alone and no Service is made for that Gateway.
   */
  private publishGatewayInfrastructure(statuses: TranslateResult['statuses']): void {
    const gateways = this.store.list<Gateway>({ kind: 'Gateway', group: 'gateway.networking.k8s.io' });
    const services = gatewayInfrastructure(gateways, statuses).filter((service) => {
      const existing = this.store.get<Service>({ group: '', kind: 'Service', namespace: service.metadata.namespace, name: service.metadata.name ?? '' });
      return !existing || (existing.metadata.labels?.[GATEWAY_NAME_LABEL] !== undefined && existing.metadata.ownerReferences?.some((o) => o.kind === 'Gateway'));
    });
    // Most translations change no Gateway: skip the store's pass over every object then.
    const json = JSON.stringify(services);
    if (json === this.publishedInfrastructure) return;
    this.store.replaceAllFromSource(GATEWAY_CONTROLLER_SOURCE, services);
    this.publishedInfrastructure = json;
  }

  /**
   * What mesh routes are keyed by: the ClusterIPs the datapath allocated and the pod addresses of each
   * namespace (for consumer routes). The mesh listener only exists where the datapath can steer
   * connections to it (enforcement on); without it mesh routes still get their status.
   */
  private meshOptions(): MeshOptions {
    const manager = this.enforcementManager();
    if (!manager) return {};
    const namespaceAddresses: Record<string, string[]> = {};
    for (const pod of this.store.list<Pod>({ kind: 'Pod', group: undefined })) {
      const ip = pod.status?.podIP;
      if (!ip) continue;
      (namespaceAddresses[pod.metadata.namespace ?? 'default'] ??= []).push(ip);
    }
    return {
      listener: { address: '127.0.0.1', port: this.opts.meshProxyPort ?? DEFAULT_MESH_PROXY_PORT, bpfRoot: this.opts.datapath?.pinDir ?? '' },
      serviceClusterIps: manager.serviceClusterIps(),
      namespaceAddresses,
    };
  }

  /** The node proxy's listeners, clusters and NPDS policies for the datapath's L7 redirects (none without enforcement). */
  private redirectResources(): RedirectResources {
    const manager = this.enforcementManager();
    if (!manager) return { listeners: [], clusters: [], networkPolicies: [] };
    return redirectResources(manager.proxyRedirects(), { proxyPort: fixedProxyPorts(this.opts.proxyPorts), bpfRoot: this.opts.datapath?.pinDir, useNphds: this.opts.proxyUsesNphds });
  }

  /**
   * NPHDS (the node's ipcache by identity) and the SDS generic secrets that NPDS header matches
   * name, read from the store's Secrets: a Secret's change re-translates, so rotation reaches the
   * proxy without a policy change.
   */
  private proxyPolicyResources(): { hosts: ReturnType<typeof networkPolicyHostsResources>; secrets: ReturnType<typeof policySecretResources> } {
    const manager = this.enforcementManager();
    if (!manager) return { hosts: [], secrets: [] };
    const readSecret = (namespace: string, name: string): KubeSecret | undefined =>
      this.store.get({ group: '', kind: 'Secret', namespace, name }) as KubeSecret | undefined;
    return { hosts: networkPolicyHostsResources(manager.proxyHosts()), secrets: policySecretResources(manager.proxyRedirects(), readSecret) };
  }

  /**
   * Writes the translated statuses to the store, skipping those this agent wrote last time that
   * still hold. At ten thousand routes a one-route change hands back ten thousand updates of which
   * one is new, so the common case must cost one lookup: an update object already in place. A new
   * update whose JSON text equals what was written is in place too (cheaper than the store's
   * structural comparison).
   */
  private writeStatuses(statuses: TranslateResult['statuses']): void {
    this.writingStatuses = true;
    const routesWritten: Array<[ResourceKey, StatusUpdate]> = [];
    try {
      this.store.batch(() => {
        for (const s of statuses) {
          if (this.statusesInPlace.has(s)) continue;
          const key = keyOf(refOf({ apiVersion: s.apiVersion, kind: s.kind, metadata: { name: s.name, namespace: s.namespace } }));
          const last = this.writtenStatuses.get(key);
          const json = JSON.stringify(s.status);
          if (last?.json !== json && !this.store.setStatus(key, s.status)) continue;
          if (last) this.statusesInPlace.delete(last.update);
          this.writtenStatuses.set(key, { update: s, json });
          this.statusesInPlace.add(s);
          if (s.kind === 'HTTPRoute' || s.kind === 'GRPCRoute') routesWritten.push([key, s]);
        }
      });
    } finally {
      this.writingStatuses = false;
    }
    // The routes now carry what translation computed for them: the next translation need not check.
    const controllerName = this.opts.controllerName ?? DEFAULT_CONTROLLER_NAME;
    for (const [key, update] of routesWritten) {
      const route = this.store.get(key);
      if (route) this.translationMemo.statusWritten(route, update, controllerName);
    }
  }

  /** Objects somebody else wrote (or deleted) may no longer hold the status this agent wrote to them. */
  private forgetWrittenStatuses(change: StoreChange): void {
    for (const keys of [change.added, change.updated, change.deleted]) {
      for (const key of keys) {
        const last = this.writtenStatuses.get(key);
        if (!last) continue;
        this.statusesInPlace.delete(last.update);
        this.writtenStatuses.delete(key);
      }
    }
  }

  status(): AgentStatus {
    return {
      agent: {
        startedAt: this.startedAt,
        configDir: this.opts.configDir,
        xdsAddress: `${splitAddress(this.opts.xdsAddress).host}:${this.xdsPort}`,
        resources: this.store.size,
        snapshot: String(this.snapshotCounter),
        lastTranslation: this.lastTranslation,
        sourceErrors: this.sourceErrors.map((e) => ({ file: e.file, documentIndex: e.documentIndex, message: formatSourceError(e) })),
      },
      nodes: this.ads.status.list(),
      policy: this.enforcement === undefined ? undefined : this.enforcement.enabled ? { enabled: true, ...this.enforcement.manager.status() } : { enabled: false, notice: this.enforcement.notice },
    };
  }

  resources(kindName: string, namespace: string | undefined): { items: unknown[] } | { error: string } {
    const kind = resolveKind(kindName);
    if (!kind) return { error: `the server doesn't have a resource type "${kindName}"` };
    return { items: [...this.store.list({ kind }, namespace)] };
  }

  /** The node's pods as the workload runner runs them (none when workloads are not run). */
  async localPods(): Promise<PodRuntimeInfo[]> {
    return this.pods ? this.pods.describe() : [];
  }

  /** The DNS proxy's latest decisions, oldest first. */
  dnsRecords(): readonly DnsProxyRecord[] {
    return [...this.dnsLog];
  }

  private readonly dnsLog: DnsProxyRecord[] = [];

  /** Network policy enforcement on this node (the datapath and endpoint manager), or why it is off. */
  nodeEnforcement(): NodeEnforcement | undefined {
    return this.enforcement;
  }

  private enforcementManager(): Extract<NodeEnforcement, { enabled: true }>['manager'] | undefined {
    return this.enforcement?.enabled ? this.enforcement.manager : undefined;
  }

  /** Opens the datapath and starts the endpoint manager when pods get namespaces of their own (root); otherwise says why not. */
  private async startEnforcement(): Promise<void> {
    if (!this.pods) return;
    this.enforcement = await startNodeEnforcement({
      podNetwork: this.pods.networkMode,
      datapath: this.opts.datapath,
      store: this.store,
      localPods: () => this.pods?.describe({ pids: false }) ?? [],
      logger: this.opts.logger,
      proxyPort: fixedProxyPorts(this.opts.proxyPorts),
      sourceErrors: () => this.sourceErrors.map((e) => ({ object: e.object, message: e.message })),
      // The node proxy's redirect listeners follow the endpoints' L7 ports.
      onProxyRedirectsChange: () => this.scheduleTranslation(),
      meshProxyPort: this.opts.meshProxyPort ?? DEFAULT_MESH_PROXY_PORT,
      // Mesh routes are keyed by ClusterIPs, which the endpoint manager allocates.
      onClusterIpsChange: () => this.scheduleTranslation(),
      ...(this.opts.fqdn ? { fqdn: this.opts.fqdn } : {}),
      ...(this.opts.fqdnConntrackCheckIntervalMs !== undefined ? { fqdnConntrackCheckIntervalMs: this.opts.fqdnConntrackCheckIntervalMs } : {}),
    });
    if (this.enforcement.enabled) {
      this.opts.logger.info({ pinDir: this.opts.datapath?.pinDir ?? '/sys/fs/bpf/tendril' }, 'network policy enforced in eBPF');
      const manager = this.enforcement.manager;
      try {
        // Cilium's in-agent DNS proxy: the datapath steers egress DNS with `rules.dns` to this port.
        this.dnsProxy = await DnsProxy.start({
          port: (this.opts.proxyPorts ?? DEFAULT_PROXY_PORTS).dns.egress,
          clientOf: (ip) => manager.dnsClientOf(ip),
          identityOf: (ip) => manager.identityOfAddress(ip),
          // toFQDNs: the answer is held until its addresses are in the datapath.
          beforeRelay: (answer, client) => manager.learnDnsAnswer(answer, client.pod),
          ...(this.opts.dnsRejectResponseCode ? { rejectResponseCode: this.opts.dnsRejectResponseCode } : {}),
          logger: this.opts.logger,
          onRecord: (record) => {
            this.dnsLog.push(record);
            if (this.dnsLog.length > DNS_LOG_LENGTH) this.dnsLog.shift();
            this.opts.onDnsRecord?.(record);
          },
        });
      } catch (err) {
        // Fails closed: queries the datapath redirects find no socket and are dropped (proxyUnavailable).
        this.opts.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'DNS proxy not started; DNS with rules.dns is dropped');
      }
    } else this.opts.logger.warn({}, this.enforcement.notice);
  }

  configDump(): unknown {
    return this.lastResult?.envoy ?? {};
  }
}
