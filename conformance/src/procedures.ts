import type { Condition, KubeObject } from '@tendril/api-k8s';
import { randomUUID } from 'node:crypto';
import type { HttpCheck } from './checks';
import type { ExpectedCondition, ObjectRef, StatusAssertion } from './status-checks';
import type { TcpEchoExpectation } from './tcp-echo-traffic';
import { httpRouteCors } from './cors-procedure';
import { gatewayInfrastructure } from './infrastructure-procedure';
import { LISTENER_SET_PROCEDURES } from './listenerset-procedures';
import { BACKEND_TLS_POLICY_PROCEDURES } from './backend-tls-procedures';
import { FRONTEND_TLS_PROCEDURES } from './frontend-tls-procedures';
import { TLS_TERMINATE_PROCEDURES } from './tls-terminate-procedures';
import { SUPPORTED_FEATURES } from '@tendril/gateway';
import { TCP_ROUTE_PROCEDURES } from './tcp-procedures';
import { UDP_ROUTE_PROCEDURES } from './udp-procedures';
import { mirrorRound, type GatewayTarget, type PodSampler } from './traffic';

/**
 * What a runtime procedure can do to the cluster-in-a-process: the same create / patch / delete
 * steps an upstream test makes with its Kubernetes client, on the test's own objects (each change
 * rewrites the test's file in the directory the agent watches), and the upstream waits.
 */
export interface ProcedureContext {
  /** Replaces one of the test's objects by what `mutate` makes of a copy of it (a merge patch upstream). */
  patch(kind: string, namespace: string | undefined, name: string, mutate: (o: KubeObject) => void): void;
  /**
   * Upstream NamespacesMustBeReady for the pods: every pod in `namespaces` Ready, and every
   * Deployment the test brings there running its pods. Undefined when they are, else what is missing.
   */
  podsReady(namespaces: string[]): Promise<string | undefined>;
  /** Adds an object to the test's objects (created with the suite's client upstream; deleted with the test's). */
  create(object: KubeObject): void;
  /** Deletes one of the test's objects. */
  remove(kind: string, namespace: string | undefined, name: string): void;
  /** The object as the agent's store holds it now (with metadata.generation and status). */
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(kind: string, namespace?: string): readonly KubeObject[];
  /** An upstream status wait: polls the assertion until it holds, within the upstream timeout of its kind. */
  status(assertion: StatusAssertion): Promise<string | undefined>;
  /** Polls `check` (undefined: holds) every 100 ms until it holds, within `timeoutMs`; returns the last difference. */
  eventually(what: string, timeoutMs: number, check: () => string | undefined): Promise<string | undefined>;
  /** An HTTP check under the upstream consistency rules, against the test's first route's Gateway. */
  traffic(check: HttpCheck): Promise<string | undefined>;
  /**
   * Upstream AwaitConvergence against the test's first route's Gateway: `tryOnce` (undefined: it
   * held) repeated until it held 3 times in a row within the consistency window; for checks that
   * are not HTTP (gRPC calls). `timeoutMs` is the per-request timeout.
   */
  converge(label: string, tryOnce: (target: GatewayTarget, timeoutMs: number) => Promise<string | undefined>): Promise<string | undefined>;
  /** Where the test's first route's Gateway listens (waits until it is Programmed with an address). */
  gatewayTarget(): Promise<GatewayTarget>;
  /**
   * Upstream MakeTLSConnectionAndExpectEventuallyConnectionRejection against the test's first
   * route's Gateway: TLS dials with this SNI until one is reset or closed before the handshake
   * completes, within the consistency window. Undefined when rejected, else the last outcome.
   */
  tlsRejection(serverName: string, gateway?: ObjectRef): Promise<string | undefined>;
  /**
   * Upstream MakeTCPRequestAndExpectEventuallyValidResponse over TLS: the TCP echo conversation
   * through `gateway` with this SNI, trusting only the CA ConfigMap `caName` the setup made, until
   * one answers as `expected` within the consistency window.
   */
  tlsEcho(gateway: ObjectRef, serverName: string, caName: string, expected: TcpEchoExpectation): Promise<string | undefined>;
  /**
   * Upstream MakeTCPRequestAndExpectEventuallyValidResponse in plain TCP: the TCP echo conversation
   * through the listener named `listener` of `gateway` (its status address, the listener's port),
   * until one answers as `expected` within the consistency window.
   */
  tcpEcho(gateway: ObjectRef, listener: string, expected: TcpEchoExpectation): Promise<string | undefined>;
  /** Upstream tcp.EchoSendOnce through that listener, as a sampler: each call one connection, resolving with the answering pod's name. */
  tcpEchoSampler(gateway: ObjectRef, listener: string): Promise<PodSampler>;
  /** Lines printed since `sinceMs` by the pods of Deployment `app` in `namespace` (`kubectl logs -l app=…`). */
  backendLogs(namespace: string, app: string, sinceMs: number): string[];
}

/** Runs an upstream test's steps; resolves with its failures (none: passed). */
export type RuntimeProcedure = (ctx: ProcedureContext) => Promise<string[]>;

const INFRA = 'gateway-conformance-infra';
const SAME_NAMESPACE: ObjectRef = { namespace: INFRA, name: 'same-namespace' };
/** Upstream GatewayClass condition wait (GWCMustHaveAcceptedConditionAny). */
const GATEWAY_CLASS_TIMEOUT_MS = 60_000;

function httpCheck(path: string, expect: Partial<HttpCheck['expect']>, headers: Record<string, string> = {}): HttpCheck {
  return {
    request: { path, method: 'GET', headers, backendSetsResponseHeaders: {} },
    expect: { status: [200], requestHeadersSeenByBackend: {}, absentRequestHeaders: [], responseHeaders: {}, absentResponseHeaders: [], ...expect },
    label: `GET <gateway>${path}`,
  };
}

function conditionsOf(o: KubeObject | undefined): Condition[] {
  return ((o?.status ?? {}) as { conditions?: Condition[] }).conditions ?? [];
}

/** Upstream ConditionsHaveLatestObservedGeneration: every condition at metadata.generation (and some condition at all). */
function staleConditions(what: string, o: KubeObject | undefined, conditions: readonly Condition[]): string | undefined {
  if (!o) return `${what} not found`;
  if (conditions.length === 0) return `${what} has no conditions yet`;
  const stale = conditions.filter((c) => c.observedGeneration !== o.metadata.generation);
  return stale.length ? `${what}: ${stale.map((c) => `${c.type} at observedGeneration ${c.observedGeneration ?? 'absent'}`).join(', ')}, want metadata.generation ${o.metadata.generation}` : undefined;
}

function routeParentConditions(route: KubeObject | undefined): Condition[] {
  return (((route?.status ?? {}) as { parents?: Array<{ conditions?: Condition[] }> }).parents ?? []).flatMap((p) => p.conditions ?? []);
}

/** Upstream NamespacesMustBeReady for the Gateways a test brings: each Accepted and Programmed. */
function gatewayReady(gateway: ObjectRef): StatusAssertion {
  return { clause: `Gateway ${gateway.name} Accepted and Programmed`, gateway, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True' }] };
}

function generationIncreased(what: string, before: number | undefined, after: number | undefined): string | undefined {
  return before !== undefined && after !== undefined && after > before ? undefined : `${what}: metadata.generation ${before ?? 'absent'} → ${after ?? 'absent'}, want it increased`;
}

const failuresOf = (results: Array<string | undefined>): string[] => results.filter((r): r is string => r !== undefined);

/** GatewayClassObservedGenerationBump: patch spec.description; the Accepted condition follows the new generation. */
async function gatewayClassObservedGenerationBump(ctx: ProcedureContext): Promise<string[]> {
  const name = 'gatewayclass-observed-generation-bump';
  const what = `GatewayClass ${name}`;
  const acceptedAtLatest = (): string | undefined => {
    const gc = ctx.get('GatewayClass', undefined, name);
    const accepted = conditionsOf(gc).find((c) => c.type === 'Accepted');
    if (!accepted) return `${what} has no Accepted condition`;
    return staleConditions(what, gc, conditionsOf(gc));
  };
  const first = await ctx.eventually(`${what} Accepted at its generation`, GATEWAY_CLASS_TIMEOUT_MS, acceptedAtLatest);
  if (first) return [first];
  const before = ctx.get('GatewayClass', undefined, name)?.metadata.generation;
  ctx.patch('GatewayClass', undefined, name, (o) => {
    o.spec = { ...(o.spec as object), description: 'new' };
  });
  const after = await ctx.eventually(`${what} Accepted at its new generation`, GATEWAY_CLASS_TIMEOUT_MS, () => {
    const generation = ctx.get('GatewayClass', undefined, name)?.metadata.generation;
    return generation === before ? `${what}: metadata.generation still ${before}` : acceptedAtLatest();
  });
  return failuresOf([after, after ? undefined : generationIncreased(what, before, ctx.get('GatewayClass', undefined, name)?.metadata.generation)]);
}

/** GatewayObservedGenerationBump: append a listener; every Gateway condition follows the new generation. */
async function gatewayObservedGenerationBump(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'gateway-observed-generation-bump' };
  const what = `Gateway ${gateway.namespace}/${gateway.name}`;
  const latest = (): string | undefined => {
    const gw = ctx.get('Gateway', gateway.namespace, gateway.name);
    return staleConditions(what, gw, conditionsOf(gw));
  };
  const ready = await ctx.status(gatewayReady(gateway));
  if (ready) return [ready];
  const first = await ctx.eventually(`${what} conditions at its generation`, 180_000, latest);
  if (first) return [first];
  const before = ctx.get('Gateway', gateway.namespace, gateway.name)?.metadata.generation;
  ctx.patch('Gateway', gateway.namespace, gateway.name, (o) => {
    const spec = o.spec as { listeners: unknown[] };
    spec.listeners = [...spec.listeners, { name: 'alternate', port: 80, protocol: 'HTTP', hostname: 'foo.com', allowedRoutes: { namespaces: { from: 'All' } } }];
  });
  const bumped = await ctx.eventually(`${what} at a new generation`, 30_000, () => (ctx.get('Gateway', gateway.namespace, gateway.name)?.metadata.generation === before ? `${what}: metadata.generation still ${before}` : undefined));
  if (bumped) return [bumped];
  const readyAgain = await ctx.status(gatewayReady(gateway));
  const after = await ctx.eventually(`${what} conditions at its new generation`, 180_000, latest);
  return failuresOf([readyAgain, after, generationIncreased(what, before, ctx.get('Gateway', gateway.namespace, gateway.name)?.metadata.generation)]);
}

/** HTTPRouteObservedGenerationBump: repoint the backendRef; the route's parent conditions follow the new generation. */
async function httpRouteObservedGenerationBump(ctx: ProcedureContext): Promise<string[]> {
  const route: ObjectRef = { namespace: INFRA, name: 'observed-generation-bump' };
  const what = `HTTPRoute ${route.namespace}/${route.name}`;
  const latest = (): string | undefined => {
    const r = ctx.get('HTTPRoute', route.namespace, route.name);
    return staleConditions(`${what} parents`, r, routeParentConditions(r));
  };
  const ready = await ctx.status(gatewayReady(SAME_NAMESPACE));
  if (ready) return [ready];
  const first = await ctx.eventually(`${what} parent conditions at its generation`, 60_000, latest);
  if (first) return [first];
  const before = ctx.get('HTTPRoute', route.namespace, route.name)?.metadata.generation;
  ctx.patch('HTTPRoute', route.namespace, route.name, (o) => {
    const spec = o.spec as { rules: Array<{ backendRefs: Array<{ name: string }> }> };
    spec.rules[0].backendRefs[0].name = 'infra-backend-v2';
  });
  const bumped = await ctx.eventually(`${what} at a new generation`, 30_000, () => (ctx.get('HTTPRoute', route.namespace, route.name)?.metadata.generation === before ? `${what}: metadata.generation still ${before}` : undefined));
  if (bumped) return [bumped];
  const accepted = await ctx.status({ clause: 'route Accepted (any reason) after the patch', route, routeKind: 'HTTPRoute', parent: SAME_NAMESPACE, conditions: [{ type: 'Accepted', status: 'True' }] });
  const resolved = await ctx.status({ clause: 'route ResolvedRefs=True after the patch', route, routeKind: 'HTTPRoute', parent: SAME_NAMESPACE, conditions: [{ type: 'ResolvedRefs', status: 'True' }] });
  const after = await ctx.eventually(`${what} parent conditions at its new generation`, 60_000, latest);
  return failuresOf([accepted, resolved, after, generationIncreased(what, before, ctx.get('HTTPRoute', route.namespace, route.name)?.metadata.generation)]);
}

/** HTTPRouteReferenceGrant: traffic reaches the other namespace's backend while the grant exists, and stops (500) once it is deleted. */
async function httpRouteReferenceGrant(ctx: ProcedureContext): Promise<string[]> {
  const route: ObjectRef = { namespace: INFRA, name: 'reference-grant' };
  const statuses = failuresOf([
    await ctx.status({ clause: 'route Accepted=True', route, routeKind: 'HTTPRoute', parent: SAME_NAMESPACE, conditions: [{ type: 'Accepted', status: 'True' }] }),
    await ctx.status({ clause: 'route ResolvedRefs=True while the grant exists', route, routeKind: 'HTTPRoute', parent: SAME_NAMESPACE, conditions: [{ type: 'ResolvedRefs', status: 'True' }] }),
  ]);
  if (statuses.length) return statuses;
  const granted = await ctx.traffic(httpCheck('/', { backend: 'web-backend', namespace: 'gateway-conformance-web-backend' }));
  if (granted) return [granted];
  ctx.remove('ReferenceGrant', 'gateway-conformance-web-backend', 'reference-grant');
  const revoked = await ctx.traffic(httpCheck('/', { status: [500] }));
  return failuresOf([revoked && `after deleting ReferenceGrant gateway-conformance-web-backend/reference-grant: ${revoked}`]);
}

interface PodView {
  metadata: { name?: string; labels?: Record<string, string> };
  status?: { podIP?: string; conditions?: Condition[] };
}

/**
 * HTTPRouteServiceTypes: selector-less Services whose EndpointSlices the test fills with the
 * infra-backend-v1 pods' IPs (port 3000), and a headless Service; each must route to those pods.
 */
async function httpRouteServiceTypes(ctx: ProcedureContext): Promise<string[]> {
  const route: ObjectRef = { namespace: INFRA, name: 'service-types' };
  const statuses = failuresOf([
    await ctx.status({ gatewayAddress: SAME_NAMESPACE, clause: 'Gateway same-namespace address' }),
    await ctx.status({ clause: 'route Accepted=True', route, routeKind: 'HTTPRoute', parent: SAME_NAMESPACE, conditions: [{ type: 'Accepted', status: 'True' }] }),
    await ctx.status({ clause: 'route ResolvedRefs=True', route, routeKind: 'HTTPRoute', parent: SAME_NAMESPACE, conditions: [{ type: 'ResolvedRefs', status: 'True' }] }),
  ]);
  if (statuses.length) return statuses;
  const pods = (ctx.list('Pod', INFRA) as readonly PodView[]).filter((p) => p.metadata.labels?.['app'] === 'infra-backend-v1' && p.status?.podIP);
  if (pods.length === 0) return ['infra-backend-v1 has no running pods'];
  for (const service of ['manual-endpointslices', 'headless-manual-endpointslices']) {
    // Upstream patches the IPv4 slice; the pods have IPv4 addresses.
    ctx.patch('EndpointSlice', INFRA, `${service}-ip4`, (slice) => {
      (slice as KubeObject & { endpoints?: unknown[] }).endpoints = pods.map((p) => ({
        addresses: [p.status?.podIP],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', name: p.metadata.name, namespace: INFRA },
      }));
    });
  }
  const failures: string[] = [];
  for (const path of ['/manual-endpointslices', '/headless', '/headless-manual-endpointslices']) {
    const failure = await ctx.traffic(httpCheck(path, { backend: 'infra-backend-v1', namespace: INFRA }));
    if (failure) failures.push(failure);
  }
  return failures;
}

/**
 * GatewayStaticAddresses: with an address of an unsupported type the Gateway is not Accepted; without
 * it, Accepted but not Programmed (AddressNotUsable) while an unusable address remains; with only the
 * usable one, Programmed, its one http listener ready with no routes, and that address in status.
 */
async function gatewayStaticAddresses(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'gateway-static-addresses' };
  const what = `Gateway ${gateway.namespace}/${gateway.name}`;
  const latest = (): string | undefined => {
    const gw = ctx.get('Gateway', gateway.namespace, gateway.name);
    return staleConditions(what, gw, conditionsOf(gw));
  };
  const condition = (type: string, status: 'True' | 'False', reason: string): StatusAssertion => ({ clause: `${type}=${status} reason ${reason}`, gateway, conditions: [{ type, status, reason }] });
  const addresses = (): Array<{ type?: string; value?: string }> => ((ctx.get('Gateway', gateway.namespace, gateway.name)?.spec ?? {}) as { addresses?: Array<{ type?: string; value?: string }> }).addresses ?? [];
  const removeAddress = (value: string | undefined): void =>
    ctx.patch('Gateway', gateway.namespace, gateway.name, (o) => {
      const spec = o.spec as { addresses: Array<{ value?: string }> };
      spec.addresses = spec.addresses.filter((a) => a.value !== value);
    });
  const first = await ctx.eventually(`${what} conditions at its generation`, 180_000, latest);
  if (first) return [first];
  const [invalid, unusable, usable] = addresses();
  if (addresses().length !== 3) return [`${what}: ${addresses().length} spec.addresses, want 3 (invalid, unusable, usable)`];
  const unsupported = await ctx.status(condition('Accepted', 'False', 'UnsupportedAddress'));
  if (unsupported) return [unsupported];
  removeAddress(invalid.value);
  const failures: string[] = [];
  const step2 = failuresOf([
    await ctx.eventually(`${what} conditions at its new generation`, 180_000, () => (addresses().length === 2 ? latest() : `${what}: the patch is not in the store yet`)),
    await ctx.status(condition('Accepted', 'True', 'Accepted')),
    await ctx.status(condition('Programmed', 'False', 'AddressNotUsable')),
  ]);
  failures.push(...step2.map((f) => `with the unusable address ${unusable.value}: ${f}`));
  removeAddress(unusable.value);
  const step3 = failuresOf([
    await ctx.eventually(`${what} conditions at its new generation`, 180_000, () => (addresses().length === 1 ? latest() : `${what}: the patch is not in the store yet`)),
    await ctx.status(condition('Accepted', 'True', 'Accepted')),
    await ctx.status(condition('Programmed', 'True', 'Programmed')),
    await ctx.status({ clause: 'listeners exactly [http]', listenersOf: gateway, conditions: [], count: 1 }),
    await ctx.status({ clause: 'listener http ready, no routes', listener: 'http', of: gateway, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }], attachedRoutes: 0, supportedKinds: ['HTTPRoute'] }),
    await ctx.eventually(`${what} status.addresses = [the usable address]`, 60_000, () => {
      const status = ((ctx.get('Gateway', gateway.namespace, gateway.name)?.status ?? {}) as { addresses?: Array<{ type?: string; value?: string }> }).addresses ?? [];
      return status.length === 1 && status[0].type === usable.type && status[0].value === usable.value ? undefined : `${what}: status.addresses ${JSON.stringify(status)}, want [${JSON.stringify(usable)}]`;
    }),
  ]);
  failures.push(...step3.map((f) => `with only the usable address ${usable.value}: ${f}`));
  return failures;
}

/** Upstream GatewayStatusMustHaveListeners: exactly these listeners, each Accepted and ResolvedRefs (any reason), HTTPRoute supported, with its routes. */
async function listenersExactly(ctx: ProcedureContext, gateway: ObjectRef, attached: Record<string, number>): Promise<string[]> {
  const names = Object.keys(attached);
  return failuresOf([
    await ctx.status({ clause: `listeners exactly [${names.join(', ')}]`, listenersOf: gateway, conditions: [], count: names.length }),
    ...(await Promise.all(
      names.map((listener) =>
        ctx.status({ clause: `listener ${listener}`, listener, of: gateway, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }], attachedRoutes: attached[listener], supportedKinds: ['HTTPRoute'] }),
      ),
    )),
  ]);
}

/**
 * GatewayModifyListeners: add an http listener to a Gateway that has only https, then remove https
 * from one that has both; each time the listener status follows and the conditions the new generation.
 */
async function gatewayModifyListeners(ctx: ProcedureContext): Promise<string[]> {
  const step = async (name: string, change: (listeners: Array<{ name: string }>) => Array<{ name: string }>, attached: Record<string, number>): Promise<string[]> => {
    const gateway: ObjectRef = { namespace: INFRA, name };
    const what = `Gateway ${INFRA}/${name}`;
    const latest = (): string | undefined => {
      const gw = ctx.get('Gateway', INFRA, name);
      return staleConditions(what, gw, conditionsOf(gw));
    };
    const ready = await ctx.status(gatewayReady(gateway));
    if (ready) return [ready];
    const first = await ctx.eventually(`${what} conditions at its generation`, 180_000, latest);
    if (first) return [first];
    const before = ctx.get('Gateway', INFRA, name)?.metadata.generation;
    ctx.patch('Gateway', INFRA, name, (o) => {
      const spec = o.spec as { listeners: Array<{ name: string }> };
      spec.listeners = change(spec.listeners);
    });
    const bumped = await ctx.eventually(`${what} at a new generation`, 30_000, () => (ctx.get('Gateway', INFRA, name)?.metadata.generation === before ? `${what}: metadata.generation still ${before}` : undefined));
    if (bumped) return [bumped];
    const failures = failuresOf([await ctx.status(gatewayReady(gateway)), ...(await listenersExactly(ctx, gateway, attached)), await ctx.eventually(`${what} conditions at its new generation`, 180_000, latest)]);
    return failures.map((f) => `${name}: ${f}`);
  };
  const added = await step(
    'gateway-add-listener',
    (listeners) => [...listeners, { name: 'http', port: 80, protocol: 'HTTP', hostname: 'data.test.com', allowedRoutes: { namespaces: { from: 'All' } } } as { name: string }],
    { https: 1, http: 1 },
  );
  const removed = await step('gateway-remove-listener', (listeners) => listeners.filter((l) => l.name === 'http'), { http: 1 });
  return [...added, ...removed];
}

/**
 * The certificateRef tests (GatewaySecret*, GatewayInvalidTLSConfiguration): each Gateway's status
 * lists exactly its one https listener, HTTPRoute supported, no routes, with these conditions.
 * They are status procedures only because their prose names listeners in a shape the parser lacks.
 */
function httpsListenerStatus(gateways: string[], conditions: ExpectedCondition[]): RuntimeProcedure {
  return async (ctx) => {
    const failures: string[] = [];
    for (const name of gateways) {
      const gateway: ObjectRef = { namespace: INFRA, name };
      const found = failuresOf([
        await ctx.status({ clause: 'listeners exactly [https]', listenersOf: gateway, conditions: [], count: 1 }),
        await ctx.status({ clause: `listener https ${conditions.map((c) => `${c.type}=${c.status}${c.reason ? ` reason ${c.reason}` : ''}`).join(', ')}`, listener: 'https', of: gateway, conditions, attachedRoutes: 0, supportedKinds: ['HTTPRoute'] }),
      ]);
      failures.push(...found);
    }
    return failures;
  };
}

const REF_NOT_PERMITTED: ExpectedCondition[] = [{ type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' }];
const CERTIFICATE_GRANTED: ExpectedCondition[] = [
  { type: 'Programmed', status: 'True', reason: 'Programmed' },
  { type: 'ResolvedRefs', status: 'True' },
];

/** The header filter the mirror tests' "-and-modify-headers" rules apply, and what the backend then sees. */
const MODIFY_HEADERS_REQUEST = { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' };
const MODIFY_HEADERS_SEEN = {
  requestHeadersSeenByBackend: { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' },
  absentRequestHeaders: ['X-Header-Remove'],
};

/** Upstream mirror presence: the mirror backends' logs since (now − 30 s), read every 1 s for up to 10 s. */
const MIRROR_LOG_LOOKBACK_MS = 30_000;
const MIRROR_LOG_TIMEOUT_MS = 10_000;

function echoLine(path: string): string {
  return `Echoing back request made to ${path} to client`;
}

interface MirrorCase {
  path: string;
  headers?: Record<string, string>;
  mirroredTo: string[];
}

/**
 * HTTPRouteRequestMirror / HTTPRouteRequestMultipleMirrors: each request is answered by
 * infra-backend-v1 and a copy (same path and query) shows in every mirror backend's log. A fresh
 * request id in the query makes the log line this case's own.
 */
function mirrorProcedure(routeName: string, cases: MirrorCase[]): RuntimeProcedure {
  return async (ctx) => {
    const route: ObjectRef = { namespace: INFRA, name: routeName };
    const accepted = await ctx.status({ clause: `route ${routeName} Accepted`, route, routeKind: 'HTTPRoute', parent: SAME_NAMESPACE, conditions: [{ type: 'Accepted', status: 'True' }] });
    if (accepted) return [accepted];
    const failures: string[] = [];
    for (const c of cases) {
      const path = `${c.path}?gateway-api-conformance-request-id=${randomUUID()}`;
      const seen = c.headers ? MODIFY_HEADERS_SEEN : {};
      const answered = await ctx.traffic(httpCheck(path, { backend: 'infra-backend-v1', namespace: INFRA, ...seen }, c.headers));
      if (answered) {
        failures.push(answered);
        continue;
      }
      const since = Date.now() - MIRROR_LOG_LOOKBACK_MS;
      for (const mirror of c.mirroredTo) {
        const missing = await ctx.eventually(`the mirrored ${path} in ${mirror}'s log`, MIRROR_LOG_TIMEOUT_MS, () =>
          ctx.backendLogs(INFRA, mirror, since).some((l) => l.includes(echoLine(path))) ? undefined : `no "${echoLine(path)}" line in the logs of ${INFRA}/${mirror}`,
        );
        if (missing) failures.push(missing);
      }
    }
    return failures;
  };
}

/** The upstream percentage-mirror rounds: 500 requests each, 10 at a time, up to 5 rounds. */
export const UPSTREAM_PERCENTAGE_MIRROR = { requests: 500, concurrency: 10, rounds: 5 };

/** Upstream band for a mirrored count: within 3 standard deviations of the binomial mean. */
export function mirrorCountProblem(count: number, requests: number, share: number): string | undefined {
  const mean = requests * share;
  const band = 3 * Math.sqrt(requests * share * (1 - share));
  return Math.abs(count - mean) <= band ? undefined : `${count} of ${requests} requests mirrored, want ${mean.toFixed(0)} ± ${band.toFixed(1)} (${share * 100}%)`;
}

/**
 * HTTPRouteRequestPercentageMirror: per path, first an eventually consistent answer from
 * infra-backend-v1; then rounds of requests carrying one fresh request id, the copies counted in
 * infra-backend-v2's log, until a round's count is within the band.
 */
async function httpRouteRequestPercentageMirror(ctx: ProcedureContext): Promise<string[]> {
  const cases: Array<{ path: string; share: number; headers?: Record<string, string> }> = [
    { path: '/percent-mirror', share: 0.2 },
    { path: '/percent-mirror-fraction', share: 0.5 },
    { path: '/percent-mirror-and-modify-headers', share: 0.35, headers: MODIFY_HEADERS_REQUEST },
  ];
  const failures: string[] = [];
  for (const c of cases) {
    const answered = await ctx.traffic(httpCheck(c.path, { backend: 'infra-backend-v1', namespace: INFRA, ...(c.headers ? MODIFY_HEADERS_SEEN : {}) }, c.headers));
    if (answered) {
      failures.push(answered);
      continue;
    }
    const target = await ctx.gatewayTarget();
    let last = '';
    for (let round = 1; round <= UPSTREAM_PERCENTAGE_MIRROR.rounds; round++) {
      const path = `${c.path}?gateway-api-conformance-request-id=${randomUUID()}`;
      const since = Date.now();
      const sent = await mirrorRound(target, path, c.headers ?? {}, UPSTREAM_PERCENTAGE_MIRROR);
      if (sent) {
        last = sent;
        continue;
      }
      // Copies are sent beside the answers, so the last may print a moment after the round ends.
      const count = await settledCount(() => ctx.backendLogs(INFRA, 'infra-backend-v2', since).filter((l) => l.includes(echoLine(path))).length);
      const problem = mirrorCountProblem(count, UPSTREAM_PERCENTAGE_MIRROR.requests, c.share);
      if (!problem) {
        last = '';
        break;
      }
      last = problem;
    }
    if (last) failures.push(`${c.path}: ${last} (after ${UPSTREAM_PERCENTAGE_MIRROR.rounds} rounds)`);
  }
  return failures;
}

/** A count that has stopped changing for 500 ms (at most 5 s). */
async function settledCount(count: () => number): Promise<number> {
  let previous = count();
  for (let waited = 0; waited < 5_000; waited += 500) {
    await new Promise((r) => setTimeout(r, 500));
    const now = count();
    if (now === previous) return now;
    previous = now;
  }
  return previous;
}

/**
 * The upstream tests that change resources while they run or read backend logs, as procedures: the
 * steps of each test's Go source, in order, with its waits. Such a test without a procedure here is
 * not run.
 */
const routeAccepted = (route: string, gateway: ObjectRef, conditions: ExpectedCondition[]): StatusAssertion => ({
  clause: `TLSRoute ${route} ${conditions.map((c) => `${c.type}=${c.status}${c.reason ? ` reason ${c.reason}` : ''}`).join(', ')} on ${gateway.name}`,
  route: { namespace: INFRA, name: route },
  routeKind: 'TLSRoute',
  parent: gateway,
  conditions,
});

/**
 * TLSRouteInvalidNoMatchingListener / TLSRouteInvalidNoMatchingListenerHostname: the test's
 * Gateways ready; each TLSRoute refused by its Gateway with the reason, and attached nowhere; the
 * Gateways that refuse them have no routes attached.
 */
function tlsRoutesRefused(refusals: Array<{ route: string; gateway: string; reason: string }>, emptyGateways: string[]): RuntimeProcedure {
  return async (ctx) => {
    const gateways = [...new Set(refusals.map((r) => r.gateway))].map((name) => ({ namespace: INFRA, name }));
    return failuresOf([
      ...(await Promise.all(gateways.map((g) => ctx.status(gatewayReady(g))))),
      ...(await Promise.all(refusals.map((r) => ctx.status(routeAccepted(r.route, { namespace: INFRA, name: r.gateway }, [{ type: 'Accepted', status: 'False', reason: r.reason }]))))),
      ...(await Promise.all(refusals.map((r) => ctx.status({ clause: `TLSRoute ${r.route} has no accepted parents`, routeNotAttached: { namespace: INFRA, name: r.route }, routeKind: 'TLSRoute' })))),
      ...(await Promise.all(emptyGateways.map((name) => ctx.status({ clause: `Gateway ${name} has zero attached routes`, zeroAttachedRoutes: { namespace: INFRA, name } })))),
    ]);
  };
}

/**
 * TLSRouteInvalidBackendRefNonexistent / …UnknownKind: Gateway and TLSRoute accepted, the route's
 * ResolvedRefs False with the reason, and a TLS connection with the route's hostname as SNI is
 * eventually rejected (reset or closed before the handshake completes).
 */
function tlsRouteInvalidBackend(gatewayName: string, routeName: string, reason: string): RuntimeProcedure {
  return async (ctx) => {
    const gateway: ObjectRef = { namespace: INFRA, name: gatewayName };
    const status = failuresOf([
      await ctx.status(gatewayReady(gateway)),
      await ctx.status({ clause: `Gateway ${gatewayName} has an address`, gatewayAddress: gateway }),
      await ctx.status(routeAccepted(routeName, gateway, [{ type: 'Accepted', status: 'True' }])),
      await ctx.status(routeAccepted(routeName, gateway, [{ type: 'ResolvedRefs', status: 'False', reason }])),
    ]);
    if (status.length > 0) return status;
    const hostname = ((ctx.get('TLSRoute', INFRA, routeName)?.spec ?? {}) as { hostnames?: string[] }).hostnames?.[0];
    if (!hostname) return [`TLSRoute ${routeName} has no hostname to send as SNI`];
    const failure = await ctx.tlsRejection(hostname);
    return failure ? [failure] : [];
  };
}

/** Upstream GatewayAndTLSRoutesMustBeAccepted, and TLSRouteMustHaveResolvedRefsConditionsTrue for each route. */
async function tlsRoutesServed(ctx: ProcedureContext, gateway: ObjectRef, routes: string[]): Promise<string[]> {
  return failuresOf([
    await ctx.status(gatewayReady(gateway)),
    await ctx.status({ clause: `Gateway ${gateway.name} has an address`, gatewayAddress: gateway }),
    ...(await Promise.all(routes.map((r) => ctx.status(routeAccepted(r, gateway, [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }]))))),
  ]);
}

/** TLSRouteSimpleSameNamespace: a TLS connection with the route's hostname passes through to tcp-backend, which sees that SNI. */
async function tlsRouteSimpleSameNamespace(ctx: ProcedureContext): Promise<string[]> {
  const gateway: ObjectRef = { namespace: INFRA, name: 'gateway-tlsroute' };
  const route = 'gateway-conformance-infra-test';
  const status = await tlsRoutesServed(ctx, gateway, [route]);
  if (status.length > 0) return status;
  const hostnames = ((ctx.get('TLSRoute', INFRA, route)?.spec ?? {}) as { hostnames?: string[] }).hostnames ?? [];
  if (hostnames.length !== 1) return [`TLSRoute ${route} has ${hostnames.length} hostnames; the test needs exactly one`];
  const failure = await ctx.tlsEcho(gateway, hostnames[0], 'tls-checks-ca-certificate', { backendIsTLS: true, backend: 'tcp-backend', namespace: INFRA, hostname: hostnames[0] });
  return failure ? [failure] : [];
}

/**
 * TLSRouteHostnameIntersection: four Gateways whose TLS listener hostname is exact, a more or less
 * specific wildcard, or absent; on each, HTTPS (passed through to tls-backend / tls-backend-2, whose
 * certificate is trusted) reaches the route whose hostnames intersect the SNI, and an SNI no route
 * takes is rejected.
 */
async function tlsRouteHostnameIntersection(ctx: ProcedureContext): Promise<string[]> {
  const groups: Array<{ gateway: string; routes: string[]; other: boolean; unmatched: string }> = [
    { gateway: 'gw-tlsroute-exact-hostname-x-1', routes: ['tlsroute-more-specific-wc-hostname-x-1'], other: false, unmatched: 'non.matching.com' },
    { gateway: 'gw-tlsroute-more-specific-wc-hostname-x-2', routes: ['tlsroute-exact-hostname-x-2', 'tlsroute-less-specific-wc-hostname-x-2'], other: true, unmatched: 'non.matching.com' },
    { gateway: 'gw-tlsroute-less-specific-wc-hostname-x-3', routes: ['tlsroute-exact-hostname-x-3', 'tlsroute-more-specific-wc-hostname-x-3'], other: true, unmatched: 'non.matching.com' },
    { gateway: 'gw-tlsroute-empty-hostname-x-4', routes: ['tlsroute-exact-hostname-x-4', 'tlsroute-less-specific-wc-hostname-x-4'], other: true, unmatched: 'non.matching.org' },
  ];
  const https = (gateway: string, host: string, backend: string): HttpCheck => ({
    gateway,
    request: { protocol: 'https', host, path: '/', method: 'GET', headers: {}, backendSetsResponseHeaders: {}, trustSecret: 'tls-checks-certificate' },
    expect: { status: [200], backend, namespace: INFRA, requestHeadersSeenByBackend: {}, absentRequestHeaders: [], responseHeaders: {}, absentResponseHeaders: [] },
    label: `GET https://${host}/ via ${gateway}`,
  });
  const failures: string[] = [];
  for (const group of groups) {
    const gateway: ObjectRef = { namespace: INFRA, name: group.gateway };
    const status = await tlsRoutesServed(ctx, gateway, group.routes);
    if (status.length > 0) {
      failures.push(...status);
      continue;
    }
    failures.push(
      ...failuresOf([
        await ctx.traffic(https(group.gateway, 'abc.example.com', 'tls-backend')),
        group.other ? await ctx.traffic(https(group.gateway, 'other.example.com', 'tls-backend-2')) : undefined,
        await ctx.tlsRejection(group.unmatched, gateway),
      ]).map((f) => `${group.gateway}: ${f}`),
    );
  }
  return failures;
}

export const RUNTIME_PROCEDURES: Readonly<Record<string, RuntimeProcedure>> = {
  GatewayClassObservedGenerationBump: gatewayClassObservedGenerationBump,
  GatewayObservedGenerationBump: gatewayObservedGenerationBump,
  HTTPRouteObservedGenerationBump: httpRouteObservedGenerationBump,
  HTTPRouteReferenceGrant: httpRouteReferenceGrant,
  HTTPRouteServiceTypes: httpRouteServiceTypes,
  GatewayStaticAddresses: gatewayStaticAddresses,
  GatewayModifyListeners: gatewayModifyListeners,
  HTTPRouteCORS: httpRouteCors,
  GatewayInfrastructure: gatewayInfrastructure,
  GatewaySecretInvalidReferenceGrant: httpsListenerStatus(['gateway-secret-invalid-reference-grant'], REF_NOT_PERMITTED),
  GatewaySecretMissingReferenceGrant: httpsListenerStatus(['gateway-secret-missing-reference-grant'], REF_NOT_PERMITTED),
  GatewaySecretReferenceGrantAllInNamespace: httpsListenerStatus(['gateway-secret-reference-grant-all-in-namespace'], CERTIFICATE_GRANTED),
  GatewaySecretReferenceGrantSpecific: httpsListenerStatus(['gateway-secret-reference-grant-specific'], CERTIFICATE_GRANTED),
  GatewayInvalidTLSConfiguration: httpsListenerStatus(
    ['gateway-certificate-nonexistent-secret', 'gateway-certificate-unsupported-group', 'gateway-certificate-unsupported-kind', 'gateway-certificate-malformed-secret'],
    [{ type: 'ResolvedRefs', status: 'False', reason: 'InvalidCertificateRef' }],
  ),
  // Tests that read backend logs.
  HTTPRouteRequestMirror: mirrorProcedure('request-mirror', [
    { path: '/mirror', mirroredTo: ['infra-backend-v2'] },
    { path: '/mirror-and-modify-headers', headers: MODIFY_HEADERS_REQUEST, mirroredTo: ['infra-backend-v2'] },
  ]),
  HTTPRouteRequestMultipleMirrors: mirrorProcedure('request-multiple-mirrors', [
    { path: '/multi-mirror', mirroredTo: ['infra-backend-v2', 'infra-backend-v3'] },
    { path: '/multi-mirror-and-modify-request-headers', headers: MODIFY_HEADERS_REQUEST, mirroredTo: ['infra-backend-v2', 'infra-backend-v3'] },
  ]),
  HTTPRouteRequestPercentageMirror: httpRouteRequestPercentageMirror,
  // TLSRoute tests whose checks inventory.json gives as prose, written out from their Go sources.
  TLSRouteInvalidNoMatchingListener: tlsRoutesRefused(
    [
      { route: 'tlsroute-not-allowed-protocol-http', gateway: 'gateway-tlsroute-http-only', reason: 'NotAllowedByListeners' },
      { route: 'tlsroute-not-allowed-protocol-https', gateway: 'gateway-tlsroute-https-only', reason: 'NotAllowedByListeners' },
      { route: 'tlsroute-no-matching-section-name', gateway: 'gateway-tlsroute-tls-passthrough-only', reason: 'NoMatchingParent' },
    ],
    ['gateway-tlsroute-http-only', 'gateway-tlsroute-https-only'],
  ),
  TLSRouteInvalidNoMatchingListenerHostname: tlsRoutesRefused(
    [
      { route: 'tlsroute-hostname-mismatch-1', gateway: 'gateway-tls-exact-hostname', reason: 'NoMatchingListenerHostname' },
      { route: 'tlsroute-hostname-mismatch-2', gateway: 'gateway-tls-wildcard-hostname', reason: 'NoMatchingListenerHostname' },
    ],
    ['gateway-tls-exact-hostname', 'gateway-tls-wildcard-hostname'],
  ),
  // Upstream returns at once when the implementation claims TLSRouteModeTerminate; tendril does not.
  TLSRouteListenerTerminateNotSupported: async (ctx) => {
    // Upstream's body returns at once when the suite claims TLSRouteModeTerminate: the check is for implementations without it.
    if (SUPPORTED_FEATURES.includes('TLSRouteModeTerminate')) return [];
    const gateway: ObjectRef = { namespace: INFRA, name: 'gateway-tlsroute-terminate-unsupported' };
    return failuresOf([
      await ctx.status({ clause: 'listeners exactly [tls-terminate]', listenersOf: gateway, conditions: [], count: 1 }),
      await ctx.status({ clause: 'listener tls-terminate Accepted=False reason UnsupportedValue', listener: 'tls-terminate', of: gateway, conditions: [{ type: 'Accepted', status: 'False', reason: 'UnsupportedValue' }], attachedRoutes: 0, supportedKinds: [] }),
    ]);
  },
  TLSRouteInvalidBackendRefNonexistent: tlsRouteInvalidBackend('gateway-tlsroute-invalid-backend-ref-nonexistent', 'invalid-backend-ref-nonexistent', 'BackendNotFound'),
  TLSRouteSimpleSameNamespace: tlsRouteSimpleSameNamespace,
  TLSRouteHostnameIntersection: tlsRouteHostnameIntersection,
  TLSRouteInvalidBackendRefUnknownKind: tlsRouteInvalidBackend('gateway-tlsroute-invalid-backend-ref-unknown-kind', 'invalid-backend-ref-unknown-kind', 'InvalidKind'),
  ...TCP_ROUTE_PROCEDURES,
  ...UDP_ROUTE_PROCEDURES,
  ...LISTENER_SET_PROCEDURES,
  ...BACKEND_TLS_POLICY_PROCEDURES,
  ...FRONTEND_TLS_PROCEDURES,
  ...TLS_TERMINATE_PROCEDURES,
};
