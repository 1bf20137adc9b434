import type { Condition, KubeObject } from '@tendril/api-k8s';

/**
 * inventory.json `statusChecks` are prose ("route ResolvedRefs=False reason InvalidKind"). They are
 * read clause by clause (clauses are separated by `;` and ` + `) with a small grammar covering the
 * phrasings of the upstream helpers; a clause outside it is reported as unsupported, never passed.
 */

export interface ExpectedCondition {
  type: string;
  /** Absent: any status (upstream: an empty status matches any). */
  status?: 'True' | 'False' | 'Unknown';
  /** Absent: any reason (upstream: an empty reason matches any). */
  reason?: string;
}

export interface ObjectRef {
  namespace: string;
  name: string;
}

export type StatusAssertion =
  | { clause: string; gatewayAddress: ObjectRef }
  | {
      clause: string;
      gateway: ObjectRef;
      conditions: ExpectedCondition[];
      /** Every condition of the Gateway is at its metadata.generation ("conditions at latest observedGeneration"). */
      allConditionsCurrent?: boolean;
    }
  | {
      clause: string;
      /** One listener's status: its conditions, attachedRoutes and supportedKinds (`[]`: must be empty). */
      listener: string;
      of: ObjectRef;
      conditions: ExpectedCondition[];
      attachedRoutes?: number;
      supportedKinds?: string[];
    }
  | {
      clause: string;
      /** Every listener of this Gateway has the conditions (and, when given, the listener count, attached routes and kinds). */
      listenersOf: ObjectRef;
      conditions: ExpectedCondition[];
      count?: number;
      attachedRoutes?: Record<string, number>;
      supportedKinds?: string[];
    }
  | { clause: string; route: ObjectRef; routeKind: string; parent: ObjectRef; conditions: ExpectedCondition[] }
  /** Upstream "not attached": no status.parents, or exactly one with Accepted=False. */
  | { clause: string; routeNotAttached: ObjectRef; routeKind: string }
  /** Every listener of the Gateway in status has attachedRoutes 0 (a Gateway with no listeners in status too). */
  | { clause: string; zeroAttachedRoutes: ObjectRef };

export interface UnsupportedStatusCheck {
  unsupportedStatus: string;
}

export type ParsedStatusCheck = StatusAssertion | UnsupportedStatusCheck;

export function isUnsupportedStatus(check: ParsedStatusCheck): check is UnsupportedStatusCheck {
  return 'unsupportedStatus' in check;
}

/** Upstream status-wait timeouts (summary.md §1.7); each is polled every 100 ms. */
export const UPSTREAM_STATUS_TIMEOUTS = {
  gatewayMs: 180_000,
  listenerMs: 60_000,
  routeMs: 60_000,
  pollIntervalMs: 100,
};
export type StatusTimeouts = typeof UPSTREAM_STATUS_TIMEOUTS;

/** Where the upstream test Gateways live when a clause names one without a namespace. */
const INFRA_NAMESPACE = 'gateway-conformance-infra';
const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const ROUTE_KINDS = new Set(['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute']);
const CONDITION_ABBREVIATIONS: Record<string, string> = { RR: 'ResolvedRefs' };
const LISTENERS_READY: ExpectedCondition[] = [
  { type: 'ResolvedRefs', status: 'True' },
  { type: 'Accepted', status: 'True' },
  { type: 'Programmed', status: 'True' },
];

interface GatewayParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
}

/** The routes and Gateways of one test: what "route", "the gateway" and "every listener" refer to. */
interface TestContext {
  routes: KubeObject[];
  gateways: ObjectRef[];
}

function refOf(o: KubeObject): ObjectRef {
  return { namespace: o.metadata.namespace ?? 'default', name: o.metadata.name ?? '' };
}

function key(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

function gatewayParents(route: KubeObject): ObjectRef[] {
  const refs = ((route.spec ?? {}) as { parentRefs?: GatewayParentRef[] }).parentRefs ?? [];
  const parents = refs
    .filter((r) => (r.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && (r.kind ?? 'Gateway') === 'Gateway')
    .map((r) => ({ namespace: r.namespace ?? route.metadata.namespace ?? 'default', name: r.name }));
  return [...new Map(parents.map((p) => [key(p), p])).values()];
}

function contextOf(objects: readonly KubeObject[]): TestContext {
  const routes = objects.filter((o) => ROUTE_KINDS.has(o.kind ?? ''));
  const gateways = new Map<string, ObjectRef>();
  for (const g of objects.filter((o) => o.kind === 'Gateway')) gateways.set(key(refOf(g)), refOf(g));
  for (const r of routes) for (const p of gatewayParents(r)) gateways.set(key(p), p);
  return { routes, gateways: [...gateways.values()] };
}

/** `Accepted=True(reason Accepted)`, `ResolvedRefs=False reason InvalidKind`, `RR/Accepted/Programmed`, `Accepted` (True). */
function parseConditions(text: string): ExpectedCondition[] | undefined {
  const parts = text
    .split(/\s*(?:,|\/|\band\b)\s*/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) return undefined;
  const out: ExpectedCondition[] = [];
  for (const part of parts) {
    const m = /^([A-Za-z]+)(?:=(True|False|Unknown))?(?:\s*\(?reason (\w+)\)?)?$/.exec(part);
    if (!m) return undefined;
    const type = CONDITION_ABBREVIATIONS[m[1]] ?? m[1];
    if (!/^[A-Z]/.test(type)) return undefined;
    out.push({ type, status: (m[2] as ExpectedCondition['status']) ?? 'True', ...(m[3] ? { reason: m[3] } : {}) });
  }
  return out;
}

/** Drops explanatory notes in parentheses; keeps `(reason X)` and a namespace such as `(gateway-conformance-infra)`. */
function withoutNotes(clause: string): string {
  return clause
    .replace(/\s*\((?!reason |gateway-conformance-[a-z-]+\))[^()]*\)/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function gatewayNamed(ctx: TestContext, name: string, namespace?: string): ObjectRef {
  return ctx.gateways.find((g) => g.name === name && (!namespace || g.namespace === namespace)) ?? { namespace: namespace ?? INFRA_NAMESPACE, name };
}

const CONDITION_TYPE = '(?:Accepted|ResolvedRefs|Programmed|RR)\\b';

/**
 * Which routes a clause's subject names: "route" / "each route" / "both routes" (every route of the
 * test), "route NAME", "routes A, B, C", "shared route" (routes with several Gateway parents),
 * "dedicated routes" (routes with one), "N <adjective> routes" (the N routes on the clause's Gateway
 * that no other clause names), "GRPCRoute" (every route of that kind), "GRPCRoutes A, B" (named routes).
 */
function routesOf(rawSubject: string, ctx: TestContext, parentName: string | undefined, namedElsewhere: ReadonlySet<string>): KubeObject[] | undefined {
  // "routes A, B, C each …": the same routes.
  const subject = rawSubject.replace(/ each$/, '');
  // "for each gateway: all 4 routes": every route, when each Gateway of the test has that many.
  const all = /^for each gateway: all (\d+) routes$/.exec(subject);
  if (all) return ctx.routes.length === Number(all[1]) * ctx.gateways.length ? ctx.routes : undefined;
  if (subject === '' || /^(?:route|each route|both routes|every route)$/.test(subject)) return ctx.routes;
  // "4 routes …": every route of the test, when it has that many.
  const counted = /^(\d+) routes$/.exec(subject);
  if (counted) return ctx.routes.length === Number(counted[1]) ? ctx.routes : undefined;
  // "GRPCRoute …": every route of that kind.
  if (ROUTE_KINDS.has(subject)) return ctx.routes.filter((r) => r.kind === subject);
  if (subject === 'shared route') return ctx.routes.filter((r) => gatewayParents(r).length > 1);
  if (subject === 'dedicated routes') return ctx.routes.filter((r) => gatewayParents(r).length === 1);
  let m = /^(?:routes?|[A-Z][A-Za-z]*Routes?) ([a-z0-9.-]+(?:, [a-z0-9.-]+)*)$/.exec(subject);
  if (m) {
    const names = m[1].split(', ');
    const routes = ctx.routes.filter((r) => names.includes(r.metadata.name ?? ''));
    return routes.length === names.length ? routes : undefined;
  }
  m = /^(\d+) [a-z-]+ routes$/.exec(subject);
  if (m && parentName) {
    const routes = ctx.routes.filter((r) => !namedElsewhere.has(r.metadata.name ?? '') && gatewayParents(r).some((p) => p.name === parentName));
    return routes.length === Number(m[1]) ? routes : undefined;
  }
  return undefined;
}

function parseRouteClause(raw: string, clause: string, ctx: TestContext, namedElsewhere: ReadonlySet<string>): ParsedStatusCheck[] | undefined {
  // "SUBJECT CONDITIONS [for the gateway parentRef | on [gateway] NAME | for both gateways | on their gateway][, CONDITIONS]"
  const m = new RegExp(
    `^(.*?):? ?(?:has )?(${CONDITION_TYPE}.*?)(?: (?:for the gateway parentRef|for the gateway|on the gateway|on it|for both gateways|on their gateway|for each route|(?:on|for) (?:gateway |parent )?([a-z0-9.-]+)))?(?:, (.+))?$`,
  ).exec(clause);
  if (!m) return undefined;
  const [, subject, first, parentName, more] = m;
  const conditions = parseConditions(first);
  const extra = more === undefined ? [] : parseConditions(more);
  const routes = routesOf(subject.replace(/ parent status$/, ''), ctx, parentName, namedElsewhere);
  if (!conditions || !extra || !routes || routes.length === 0) return undefined;
  const out: StatusAssertion[] = [];
  for (const route of routes) {
    const parents = gatewayParents(route).filter((p) => !parentName || p.name === parentName);
    if (parents.length === 0) return undefined;
    for (const parent of parents) out.push({ clause: raw, route: refOf(route), routeKind: route.kind ?? 'HTTPRoute', parent, conditions: [...conditions, ...extra] });
  }
  return out;
}

const NUMBER_WORDS: Record<string, number> = { two: 2, three: 3, four: 4, five: 5 };

/**
 * "three gateways (a, b, c) each with address, their route CONDITIONS, listeners CONDITIONS": per
 * named Gateway its address, the conditions of the routes whose parent it is, and its listeners'.
 */
function parseGatewaysEach(raw: string, ctx: TestContext): ParsedStatusCheck[] | undefined {
  const m = /^(\w+) gateways \(([a-z0-9.-]+(?:, [a-z0-9.-]+)*)\) each with address, their routes? (.+?), listeners (.+)$/.exec(raw);
  if (!m) return undefined;
  const names = m[2].split(', ');
  const routeConditions = parseConditions(m[3]);
  const listenerConditions = m[4] === 'ready' ? LISTENERS_READY : parseConditions(m[4]);
  if (NUMBER_WORDS[m[1]] !== names.length || !routeConditions || !listenerConditions) return undefined;
  const out: StatusAssertion[] = [];
  for (const name of names) {
    const gateway = gatewayNamed(ctx, name);
    const routes = ctx.routes.filter((r) => gatewayParents(r).some((p) => key(p) === key(gateway)));
    if (routes.length === 0) return undefined;
    out.push({ clause: raw, gatewayAddress: gateway });
    for (const route of routes) out.push({ clause: raw, route: refOf(route), routeKind: route.kind ?? 'HTTPRoute', parent: gateway, conditions: routeConditions });
    out.push({ clause: raw, listenersOf: gateway, conditions: listenerConditions });
  }
  return out;
}

function parseClause(rawClause: string, ctx: TestContext, namedElsewhere: ReadonlySet<string>): ParsedStatusCheck[] {
  const raw = rawClause.trim();
  const clause = withoutNotes(raw);
  const unsupported = [{ unsupportedStatus: raw }];

  const gatewaysEach = parseGatewaysEach(raw, ctx);
  if (gatewaysEach) return gatewaysEach;

  let m = /^Gateway ([a-z0-9.-]+)(?: \(([a-z0-9-]+)\))? (?:must have an )?address$/.exec(clause);
  if (m) return [{ clause: raw, gatewayAddress: gatewayNamed(ctx, m[1], m[2]) }];

  // "Gateway NAME + route … Accepted": the Gateway half of a joined clause.
  m = /^Gateway ([a-z0-9.-]+)$/.exec(clause);
  if (m) return [{ clause: raw, gateway: gatewayNamed(ctx, m[1]), conditions: [{ type: 'Accepted', status: 'True' }] }];

  // GatewayMustHaveLatestConditions: "… : all status conditions have observedGeneration == generation", "NAME conditions at latest generation".
  if (/^(?:Gateway[^:]*: )?all status conditions have observedGeneration == generation$/.test(clause)) {
    if (ctx.gateways.length === 0) return unsupported;
    return ctx.gateways.map((gateway) => ({ clause: raw, gateway, conditions: [], allConditionsCurrent: true }));
  }
  m = /^([a-z0-9.-]+) conditions at latest (?:observed)?[gG]eneration$/.exec(clause);
  if (m && ctx.gateways.some((g) => g.name === m?.[1])) return [{ clause: raw, gateway: gatewayNamed(ctx, m[1]), conditions: [], allConditionsCurrent: true }];

  if (/^status\.addresses gets at least one entry with a type set$/.test(clause)) {
    if (ctx.gateways.length === 0) return unsupported;
    return ctx.gateways.map((gatewayAddress) => ({ clause: raw, gatewayAddress }));
  }

  m = /^(?:that|the) gateway has zero attached routes$/.exec(clause);
  if (m) return ctx.gateways.length === 1 ? [{ clause: raw, zeroAttachedRoutes: ctx.gateways[0] }] : unsupported;

  if (/^namespace ready$/.test(clause)) {
    if (ctx.gateways.length === 0) return unsupported;
    return ctx.gateways.map((gateway) => ({ clause: raw, gateway, conditions: [{ type: 'Accepted', status: 'True' }, { type: 'Programmed', status: 'True' }] }));
  }

  if (/^(?:no parents or one parent with Accepted=False|no accepted parents)$/.test(clause)) {
    if (ctx.routes.length === 0) return unsupported;
    return ctx.routes.map((r) => ({ clause: raw, routeNotAttached: refOf(r), routeKind: r.kind ?? 'HTTPRoute' }));
  }

  m = /^Gateway ([a-z0-9.-]+):? (?:zero attached routes|0 listeners in status or 1 listener with attachedRoutes=0)$/.exec(clause);
  if (m) return [{ clause: raw, zeroAttachedRoutes: gatewayNamed(ctx, m[1]) }];

  m = /^(?:every listener|all (?:(\d+) )?listeners|listeners)(?: (.+))?$/.exec(clause);
  if (m) {
    const conditions = m[2] === undefined || m[2] === 'ready' ? LISTENERS_READY : parseConditions(m[2]);
    // "all 4 listeners": the one Gateway of the test, which must have exactly that many.
    if (!conditions || ctx.gateways.length === 0 || (m[1] !== undefined && ctx.gateways.length !== 1)) return unsupported;
    return ctx.gateways.map((listenersOf) => ({ clause: raw, listenersOf, conditions, ...(m?.[1] !== undefined ? { count: Number(m[1]) } : {}) }));
  }

  return parseRouteClause(raw, clause, ctx, namedElsewhere) ?? unsupported;
}

/**
 * "Gateway status listeners exactly N: NAME attachedRoutes=K, …; each supportedKinds includes KIND;
 * CONDITIONS": the listeners of the one test Gateway with N listeners.
 */
function parseListenerStatus(check: string, objects: readonly KubeObject[]): ParsedStatusCheck[] | undefined {
  const m = /^Gateway status listeners exactly (\d+): (.+)$/.exec(check.trim());
  if (!m) return undefined;
  const count = Number(m[1]);
  const unsupported = [{ unsupportedStatus: check.trim() }];
  const candidates = objects.filter((o) => o.kind === 'Gateway' && (((o.spec ?? {}) as { listeners?: unknown[] }).listeners ?? []).length === count);
  if (candidates.length !== 1) return unsupported;
  const attachedRoutes: Record<string, number> = {};
  let supportedKinds: string[] | undefined;
  let conditions: ExpectedCondition[] = [];
  const [items, ...rest] = m[2].split(/\s*;\s*/).map(withoutNotes);
  for (const item of items.split(/\s*,\s*/)) {
    const a = /^([a-z0-9.-]+) attachedRoutes=(\d+)$/.exec(item);
    if (!a) return unsupported;
    attachedRoutes[a[1]] = Number(a[2]);
  }
  for (const part of rest) {
    const kinds = /^each supportedKinds includes ([A-Za-z, ]+)$/.exec(part);
    const parsed = kinds ? undefined : parseConditions(part);
    if (kinds) supportedKinds = kinds[1].split(/\s*,\s*/);
    else if (parsed) conditions = [...conditions, ...parsed];
    else return unsupported;
  }
  return [{ clause: check.trim(), listenersOf: refOf(candidates[0]), conditions, count, attachedRoutes, ...(supportedKinds ? { supportedKinds } : {}) }];
}

/** Splits on `sep` outside square brackets. */
function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === sep && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else current += ch;
  }
  parts.push(current.trim());
  return parts.filter(Boolean);
}

/** "supportedKinds EMPTY, ResolvedRefs=False reason InvalidRouteKinds, attachedRoutes 0" for one listener. */
function parseListenerItems(clause: string, listener: string, of: ObjectRef, items: string): StatusAssertion | undefined {
  let conditions: ExpectedCondition[] = [];
  let attachedRoutes: number | undefined;
  let supportedKinds: string[] | undefined;
  for (const item of items.split(/\s*,\s*/)) {
    const kinds = /^supportedKinds(?: (?:includes|contains))? ([A-Za-z]+)$/.exec(item);
    const attached = /^attachedRoutes[ =](\d+)$/.exec(item);
    if (kinds) supportedKinds = /^empty$/i.test(kinds[1]) ? [] : [...(supportedKinds ?? []), kinds[1]];
    else if (attached) attachedRoutes = Number(attached[1]);
    else {
      const parsed = parseConditions(item);
      if (!parsed) return undefined;
      conditions = [...conditions, ...parsed];
    }
  }
  return { clause, listener, of, conditions, ...(attachedRoutes !== undefined ? { attachedRoutes } : {}), ...(supportedKinds ? { supportedKinds } : {}) };
}

/**
 * "GATEWAY (note): part; part; …" about one of the test's Gateways, each part one of "[Gateway]
 * CONDITIONS", "[status.]listeners exactly [NAME: ITEMS; NAME: ITEMS]", "listener NAME ITEMS",
 * "[conditions at] latest observedGeneration", or a route clause ("route NAME CONDITIONS").
 */
function parseGatewayStatement(check: string, objects: readonly KubeObject[], namedElsewhere: ReadonlySet<string>): ParsedStatusCheck[] | undefined {
  const m = /^([a-z0-9.-]+)(?: \([^()]*\))?: (.+)$/.exec(check.trim());
  const gateway = m && objects.find((o) => o.kind === 'Gateway' && o.metadata.name === m[1]);
  if (!m || !gateway) return undefined;
  const clause = check.trim();
  const of = refOf(gateway);
  const out: ParsedStatusCheck[] = [];
  for (const part of splitTopLevel(withoutNotes(m[2]), ';')) {
    const gatewayConditions = /^Gateway (.+)$/.exec(part);
    const exactly = /^(?:status\.)?listeners exactly \[(.+)\](?:, each (.+))?$/.exec(part);
    const one = /^listener ([a-z0-9.-]+) (.+)$/.exec(part);
    const bare = parseConditions(part);
    if (bare) out.push({ clause, gateway: of, conditions: bare });
    // "route NAME … and is not counted": the count is the listener's attachedRoutes, asserted apart.
    else if (part.startsWith('route ')) out.push(...parseClause(part.replace(/ and is not counted$/, ''), contextOf(objects), namedElsewhere));
    else if (/^(?:conditions at )?latest observedGeneration$/.test(part)) out.push({ clause, gateway: of, conditions: [], allConditionsCurrent: true });
    else if (gatewayConditions && parseConditions(gatewayConditions[1])) out.push({ clause, gateway: of, conditions: parseConditions(gatewayConditions[1]) ?? [] });
    else if (exactly) {
      // "[a: ITEMS; b: ITEMS]", or "[a attachedRoutes 0, b attachedRoutes 1], each ITEMS" (ITEMS true of every listener).
      const items = exactly[1].includes(';') || exactly[2] === undefined ? splitTopLevel(exactly[1], ';') : exactly[1].split(/\s*,\s*/);
      const listeners = items.map((l) => /^([a-z0-9.-]+):? (.+)$/.exec(l));
      out.push({ clause, listenersOf: of, conditions: [], count: listeners.length });
      for (const l of listeners) out.push((l && parseListenerItems(clause, l[1], of, exactly[2] === undefined ? l[2] : `${l[2]}, ${exactly[2]}`)) || { unsupportedStatus: `${clause} (${part})` });
    } else if (one) out.push(parseListenerItems(clause, one[1], of, one[2]) ?? { unsupportedStatus: `${clause} (${part})` });
    else out.push({ unsupportedStatus: `${clause} (${part})` });
  }
  return out;
}

/** Splits a statement into clauses at `;` and ` + `, except inside parentheses (notes may hold a `+`). */
function clausesOf(check: string): string[] {
  const clauses: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < check.length; i++) {
    const ch = check[i];
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if (depth === 0 && ch === ';') {
      clauses.push(current);
      current = '';
    } else if (depth === 0 && check.startsWith(' + ', i)) {
      clauses.push(current);
      current = '';
      i += 2;
    } else current += ch;
  }
  clauses.push(current);
  return clauses.map((c) => c.trim());
}

/** A clause that only explains what the upstream helper compares ("… are compared, so …") asserts nothing itself. */
function isHelperNote(clause: string): boolean {
  return /\b(?:is|are) compared\b/.test(clause);
}

/**
 * Reads a test's `statusChecks` against its manifests: "route" means every route of the test,
 * "the gateway" every Gateway a route's parentRefs name, "every listener" the listeners of those
 * Gateways and of the test's own Gateways.
 */
export function parseStatusChecks(statusChecks: readonly string[], testObjects: readonly KubeObject[]): ParsedStatusCheck[] {
  const ctx = contextOf(testObjects);
  const namedElsewhere = new Set(
    statusChecks.flatMap((c) => [...c.matchAll(/\broute ([a-z0-9.-]+)/g)].map((x) => x[1]).filter((n) => ctx.routes.some((r) => r.metadata.name === n))),
  );
  const out: ParsedStatusCheck[] = [];
  for (const check of statusChecks) {
    const listeners = parseListenerStatus(check, testObjects) ?? parseGatewayStatement(check, testObjects, namedElsewhere);
    if (listeners) {
      out.push(...listeners);
      continue;
    }
    let previous: ParsedStatusCheck[] = [];
    for (const clause of clausesOf(check).filter((c) => c.trim() && !isHelperNote(c))) {
      // "…; ResolvedRefs=True each": the routes and parents of the clause before.
      const each = /^(.+) each$/.exec(withoutNotes(clause));
      const eachConditions = each ? parseConditions(each[1]) : undefined;
      const previousRoutes = previous.filter((p): p is Extract<StatusAssertion, { route: ObjectRef }> => 'route' in p);
      const parsed: ParsedStatusCheck[] =
        eachConditions && previousRoutes.length > 0 && previousRoutes.length === previous.length
          ? previousRoutes.map((p) => ({ ...p, clause: clause.trim(), conditions: eachConditions }))
          : parseClause(clause, ctx, namedElsewhere);
      out.push(...parsed);
      previous = parsed;
    }
  }
  return out;
}

/** Reads objects as the runner sees them (the agent's store). */
export type StatusSource = (kind: string, namespace: string, name: string) => KubeObject | undefined;

function describeCondition(c: ExpectedCondition): string {
  return `${c.type}=${c.status ?? 'any'}${c.reason ? ` reason ${c.reason}` : ''}`;
}

/** The first way `conditions` misses an expected condition, as the upstream helpers match them. */
function conditionMismatch(conditions: readonly Condition[] | undefined, expected: readonly ExpectedCondition[], generation: number | undefined): string | undefined {
  for (const want of expected) {
    const got = (conditions ?? []).find((c) => c.type === want.type);
    if (!got) return `condition ${want.type}: want ${describeCondition(want)}, got none (conditions: ${(conditions ?? []).map((c) => c.type).join(', ') || 'none'})`;
    if ((want.status && got.status !== want.status) || (want.reason && got.reason !== want.reason)) {
      return `condition ${want.type}: want ${describeCondition(want)}, got ${got.type}=${got.status} reason ${got.reason}${got.message ? ` ("${got.message}")` : ''}`;
    }
    if (generation !== undefined && got.observedGeneration !== generation) {
      return `condition ${want.type}: observedGeneration ${got.observedGeneration ?? 'absent'}, want metadata.generation ${generation}`;
    }
  }
  return undefined;
}

interface RouteParentStatus {
  parentRef?: GatewayParentRef & { sectionName?: string; port?: number };
  controllerName?: string;
  conditions?: Condition[];
}

/** One evaluation of an assertion against the store: undefined when it holds, else what differs. */
export function evaluateStatus(assertion: StatusAssertion, get: StatusSource, controllerName: string): string | undefined {
  if ('gatewayAddress' in assertion) {
    const gw = get('Gateway', assertion.gatewayAddress.namespace, assertion.gatewayAddress.name);
    if (!gw) return `Gateway ${key(assertion.gatewayAddress)} not found`;
    const addresses = ((gw.status ?? {}) as { addresses?: Array<{ value?: string }> }).addresses ?? [];
    return addresses.some((a) => a.value) ? undefined : `Gateway ${key(assertion.gatewayAddress)}: status.addresses is empty, want an address`;
  }
  if ('gateway' in assertion) {
    const gw = get('Gateway', assertion.gateway.namespace, assertion.gateway.name);
    if (!gw) return `Gateway ${key(assertion.gateway)} not found`;
    const conditions = ((gw.status ?? {}) as { conditions?: Condition[] }).conditions ?? [];
    if (assertion.allConditionsCurrent && conditions.length === 0) return `Gateway ${key(assertion.gateway)}: no status conditions yet`;
    const stale = assertion.allConditionsCurrent ? conditions.find((c) => c.observedGeneration !== gw.metadata.generation) : undefined;
    if (stale) return `Gateway ${key(assertion.gateway)}: condition ${stale.type}: observedGeneration ${stale.observedGeneration ?? 'absent'}, want metadata.generation ${gw.metadata.generation}`;
    const mismatch = conditionMismatch(conditions, assertion.conditions, gw.metadata.generation);
    return mismatch && `Gateway ${key(assertion.gateway)}: ${mismatch}`;
  }
  if ('listener' in assertion) {
    const gw = get('Gateway', assertion.of.namespace, assertion.of.name);
    const what = `Gateway ${key(assertion.of)} listener ${assertion.listener}`;
    if (!gw) return `Gateway ${key(assertion.of)} not found`;
    const listeners = ((gw.status ?? {}) as { listeners?: Array<{ name: string; attachedRoutes?: number; supportedKinds?: Array<{ kind: string }>; conditions?: Condition[] }> }).listeners ?? [];
    const listener = listeners.find((l) => l.name === assertion.listener);
    if (!listener) return `${what}: not in status.listeners (${listeners.map((l) => l.name).join(', ') || 'none'})`;
    const kinds = (listener.supportedKinds ?? []).map((k) => k.kind);
    if (assertion.supportedKinds?.length === 0 && kinds.length > 0) return `${what}: supportedKinds [${kinds.join(', ')}], want none`;
    const missing = (assertion.supportedKinds ?? []).filter((k) => !kinds.includes(k));
    if (missing.length > 0) return `${what}: supportedKinds [${kinds.join(', ')}], want it to include ${missing.join(', ')}`;
    if (assertion.attachedRoutes !== undefined && listener.attachedRoutes !== assertion.attachedRoutes) return `${what}: attachedRoutes ${listener.attachedRoutes ?? 'absent'}, want ${assertion.attachedRoutes}`;
    const mismatch = conditionMismatch(listener.conditions, assertion.conditions, gw.metadata.generation);
    return mismatch && `${what}: ${mismatch}`;
  }
  if ('listenersOf' in assertion) {
    const gw = get('Gateway', assertion.listenersOf.namespace, assertion.listenersOf.name);
    if (!gw) return `Gateway ${key(assertion.listenersOf)} not found`;
    const specListeners = ((gw.spec ?? {}) as { listeners?: Array<{ name: string }> }).listeners ?? [];
    const statusListeners = ((gw.status ?? {}) as { listeners?: Array<{ name: string; attachedRoutes?: number; supportedKinds?: Array<{ kind: string }>; conditions?: Condition[] }> }).listeners ?? [];
    const what = `Gateway ${key(assertion.listenersOf)}`;
    const wantCount = assertion.count ?? specListeners.length;
    if (statusListeners.length !== wantCount) return `${what}: ${statusListeners.length} listeners in status, want ${wantCount}`;
    for (const [name, want] of Object.entries(assertion.attachedRoutes ?? {})) {
      const listener = statusListeners.find((l) => l.name === name);
      if (!listener) return `${what}: no status for listener ${name}`;
      if (listener.attachedRoutes !== want) return `${what} listener ${name}: attachedRoutes ${listener.attachedRoutes ?? 'absent'}, want ${want}`;
    }
    for (const listener of statusListeners) {
      const kinds = (listener.supportedKinds ?? []).map((k) => k.kind);
      const missing = (assertion.supportedKinds ?? []).filter((k) => !kinds.includes(k));
      if (missing.length > 0) return `${what} listener ${listener.name}: supportedKinds [${kinds.join(', ')}], want it to include ${missing.join(', ')}`;
      const mismatch = conditionMismatch(listener.conditions, assertion.conditions, gw.metadata.generation);
      if (mismatch) return `${what} listener ${listener.name}: ${mismatch}`;
    }
    return undefined;
  }
  if ('zeroAttachedRoutes' in assertion) {
    const gw = get('Gateway', assertion.zeroAttachedRoutes.namespace, assertion.zeroAttachedRoutes.name);
    if (!gw) return `Gateway ${key(assertion.zeroAttachedRoutes)} not found`;
    const listeners = ((gw.status ?? {}) as { listeners?: Array<{ name: string; attachedRoutes?: number }> }).listeners ?? [];
    const attached = listeners.filter((l) => (l.attachedRoutes ?? 0) !== 0);
    return attached.length === 0 ? undefined : `Gateway ${key(assertion.zeroAttachedRoutes)}: ${attached.map((l) => `listener ${l.name} attachedRoutes ${l.attachedRoutes}`).join(', ')}, want 0`;
  }
  if ('routeNotAttached' in assertion) {
    const what = `${assertion.routeKind} ${key(assertion.routeNotAttached)}`;
    const route = get(assertion.routeKind, assertion.routeNotAttached.namespace, assertion.routeNotAttached.name);
    if (!route) return `${what} not found`;
    const parents = ((route.status ?? {}) as { parents?: RouteParentStatus[] }).parents ?? [];
    if (parents.length === 0) return undefined;
    if (parents.length > 1) return `${what}: ${parents.length} status.parents entries, want none or one with Accepted=False`;
    const accepted = parents[0].conditions?.find((c) => c.type === 'Accepted');
    return accepted?.status === 'False' ? undefined : `${what}: parent ${parents[0].parentRef?.name} Accepted=${accepted?.status ?? 'absent'}, want no parents or one with Accepted=False`;
  }
  const { route: ref, routeKind, parent } = assertion;
  const route = get(routeKind, ref.namespace, ref.name);
  const what = `${routeKind} ${key(ref)} parent Gateway ${key(parent)}`;
  if (!route) return `${routeKind} ${key(ref)} not found`;
  const parents = ((route.status ?? {}) as { parents?: RouteParentStatus[] }).parents ?? [];
  // As upstream: group and kind spelled out, namespace required when it differs from the route's.
  const entry = parents.find(
    (p) =>
      p.controllerName === controllerName &&
      p.parentRef?.group === GATEWAY_GROUP &&
      p.parentRef.kind === 'Gateway' &&
      p.parentRef.name === parent.name &&
      (p.parentRef.namespace ?? ref.namespace) === parent.namespace,
  );
  if (!entry) {
    const seen = parents.map((p) => `${p.controllerName ?? '?'} ${p.parentRef?.group ?? '(no group)'}/${p.parentRef?.kind ?? '(no kind)'} ${p.parentRef?.namespace ?? '(no namespace)'}/${p.parentRef?.name}`);
    return `${what}: no status.parents entry with controllerName ${controllerName}, group ${GATEWAY_GROUP}, kind Gateway (parents: ${seen.join('; ') || 'none'})`;
  }
  const mismatch = conditionMismatch(entry.conditions, assertion.conditions, route.metadata.generation);
  return mismatch && `${what}: ${mismatch}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function timeoutFor(assertion: StatusAssertion, timeouts: StatusTimeouts): number {
  if ('route' in assertion || 'routeNotAttached' in assertion) return timeouts.routeMs;
  if ('listenersOf' in assertion || 'listener' in assertion) return timeouts.listenerMs;
  return timeouts.gatewayMs;
}

/**
 * The upstream eventual-consistency rule for status: poll until the assertion holds, within the
 * upstream timeout of its kind. Returns the last difference when it never held.
 */
export async function statusEventually(assertion: StatusAssertion, get: StatusSource, controllerName: string, timeouts: StatusTimeouts = UPSTREAM_STATUS_TIMEOUTS): Promise<string | undefined> {
  const timeoutMs = timeoutFor(assertion, timeouts);
  const deadline = Date.now() + timeoutMs;
  // Upstream sees "not attached" twice before it believes it: an empty status may just be unwritten yet.
  const required = 'routeNotAttached' in assertion ? 2 : 1;
  let holds = 0;
  for (;;) {
    const failure = evaluateStatus(assertion, get, controllerName);
    holds = failure === undefined ? holds + 1 : 0;
    if (holds >= required) return undefined;
    if (failure === undefined) {
      await sleep(timeouts.pollIntervalMs);
      continue;
    }
    if (Date.now() >= deadline) return `status "${assertion.clause}": ${failure} (not within ${timeoutMs / 1000}s)`;
    await sleep(timeouts.pollIntervalMs);
  }
}
