/**
 * The L3/L4 policy compiler: the rules selecting one endpoint → its policy-map entries per
 * direction (policy-semantics §6.2), so that the datapath's two-lookup algorithm
 * (`lookupPolicyMap`) gives, for every packet, the verdict `decide` gives.
 *
 * Entries are computed per remote identity, never per IP (CIDRs arrive as CIDR identities), so
 * adding replicas that share an identity changes nothing here. Two key spaces are built per
 * direction: identity 0 for rules whose peer is "anyone", and each selected identity for the rest.
 * Each space is resolved on its own (deny over redirect over allow) and encoded so that its
 * longest-prefix match gives exactly that; the datapath then combines the two lookups (a deny in
 * either wins, a redirect beats a plain allow), which is the union the semantics ask for.
 */
import { type Identity, ReservedIdentity } from '@tendril/identity';
import { decodeValue, encodeValue, type ValueCode } from './value-code';
import { type EnforcementOptions, isEnforced } from './decide';
import { encodeKeySpace, type KeySegment } from './lpm-encoding';
import {
  isWildcardItem,
  itemKeyRanges,
  identitiesSelectedBy,
  type KeyRange,
  MAX_PORT_KEY,
  type PolicyEndpoint,
  selectsEndpoint,
} from './matching';
import { ANY_IDENTITY, type PolicyMapEntry, policyMapKeyString, type TrafficDirection } from './policy-map';
import { itemsFor, type L7Parser, type PolicyItem, type PolicyRule } from './policy-ir';

export interface DirectionPolicy {
  /** Default-deny in this direction; when false the entries start from an allow-all entry. */
  readonly enforced: boolean;
  /** Sorted by key, so that two compilations can be diffed entry by entry. */
  readonly entries: readonly PolicyMapEntry[];
}

export interface EndpointPolicy {
  readonly ingress: DirectionPolicy;
  readonly egress: DirectionPolicy;
}

export type CompileResult = { readonly ok: true; readonly policy: EndpointPolicy } | { readonly ok: false; readonly error: string };

/** A covered key range with what it contributes to one key space. */
interface Contribution extends KeyRange {
  readonly deny: boolean;
  readonly parser?: L7Parser;
}

/** A policy Cilium would refuse to merge, or an L7 port without a proxy port to send it to. */
class UnenforceablePolicy extends Error {}

function checkedProxyPort(options: EnforcementOptions, parser: L7Parser, direction: TrafficDirection): number {
  const port = options.proxyPort(parser, direction);
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new UnenforceablePolicy(`no proxy port for ${parser} ${direction} (got ${String(port)}): L7 rules cannot be enforced`);
  }
  return port;
}

function contributions(item: PolicyItem, direction: TrafficDirection, endpoint: PolicyEndpoint, options: EnforcementOptions): Contribution[] {
  return itemKeyRanges(item, direction, endpoint, options).map((r) => ({ ...r, deny: item.deny, parser: item.l7?.parser }));
}

/**
 * Resolves one key space: deny if any deny covers a key, else a redirect if an L7 allow does,
 * else allow if any allow does. `foreignL7` are the identity-0 L7 ranges that also reach this
 * identity: they do not change this space's values but must not name another parser (Cilium
 * refuses to merge two L7 parsers on one port for one peer).
 */
function resolveSpace(own: readonly Contribution[], foreignL7: readonly Contribution[], proxyPort: (p: L7Parser) => number): KeySegment<ValueCode>[] {
  const cuts = new Set<number>([0, MAX_PORT_KEY + 1]);
  for (const c of [...own, ...foreignL7]) {
    cuts.add(c.lo);
    cuts.add(c.hi + 1);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const segments: KeySegment<ValueCode>[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const lo = points[i];
    const hi = points[i + 1] - 1;
    const covering = own.filter((c) => c.lo <= lo && hi <= c.hi);
    const parsers = new Set<L7Parser>();
    for (const c of [...covering, ...foreignL7.filter((f) => f.lo <= lo && hi <= f.hi)]) if (c.parser && !c.deny) parsers.add(c.parser);
    if (parsers.size > 1) throw new UnenforceablePolicy(`cannot merge conflicting L7 parsers (${[...parsers].sort().join('/')})`);
    let value: ValueCode | undefined;
    if (covering.some((c) => c.deny)) value = encodeValue({ deny: true, proxyPort: 0 });
    else {
      const l7 = covering.find((c) => c.parser);
      if (l7?.parser) value = encodeValue({ deny: false, proxyPort: proxyPort(l7.parser) });
      else if (covering.length > 0) value = encodeValue({ deny: false, proxyPort: 0 });
    }
    const last = segments[segments.length - 1];
    if (last && last.value === value) segments[segments.length - 1] = { lo: last.lo, hi, value };
    else segments.push({ lo, hi, value });
  }
  return segments;
}

const FULL_RANGE: KeyRange = { lo: 0, hi: MAX_PORT_KEY };

function compileDirection(
  rules: readonly PolicyRule[],
  endpoint: PolicyEndpoint,
  identities: readonly Identity[],
  direction: TrafficDirection,
  options: EnforcementOptions,
): DirectionPolicy {
  const enforced = isEnforced(rules, endpoint, direction, options.enforcementMode);
  if (options.enforcementMode === 'never') {
    return { enforced: false, entries: [{ identity: ANY_IDENTITY, direction, protocol: 0, port: 0, prefixLength: 0, deny: false, proxyPort: 0 }] };
  }
  const items = rules.filter((r) => selectsEndpoint(r, endpoint)).flatMap((r) => itemsFor(r, direction));

  const wildcard: Contribution[] = [];
  const perIdentity = new Map<number, Contribution[]>();
  // A direction that is not enforced allows everything the rules do not deny.
  if (!enforced) wildcard.push({ ...FULL_RANGE, deny: false });
  if (enforced && direction === 'ingress' && options.allowLocalhost !== false) {
    perIdentity.set(ReservedIdentity.HOST, [{ ...FULL_RANGE, deny: false }]);
  }
  for (const item of items) {
    const ranges = contributions(item, direction, endpoint, options);
    if (ranges.length === 0) continue;
    if (isWildcardItem(item)) {
      wildcard.push(...ranges);
      continue;
    }
    for (const identity of identitiesSelectedBy(item, identities)) {
      if (identity.id === ANY_IDENTITY) continue;
      const list = perIdentity.get(identity.id) ?? [];
      list.push(...ranges);
      perIdentity.set(identity.id, list);
    }
  }

  const proxyPort = (parser: L7Parser) => checkedProxyPort(options, parser, direction);
  const wildcardL7 = wildcard.filter((c) => c.parser);
  const entries: PolicyMapEntry[] = [];
  const addSpace = (identity: number, own: Contribution[], foreignL7: Contribution[]) => {
    for (const prefix of encodeKeySpace(resolveSpace(own, foreignL7, proxyPort), (a, b) => a === b)) {
      entries.push({ identity, direction, protocol: prefix.protocol, port: prefix.port, prefixLength: prefix.prefixLength, ...decodeValue(prefix.value) });
    }
  };
  addSpace(ANY_IDENTITY, wildcard, []);
  for (const [identity, own] of perIdentity) addSpace(identity, own, wildcardL7);
  entries.sort((a, b) => a.identity - b.identity || a.protocol - b.protocol || a.port - b.port || a.prefixLength - b.prefixLength);
  return { enforced, entries };
}

/**
 * Compiles the policy of one endpoint. `identities` are all identities the node knows (reserved,
 * pods, CIDR): peers are selected among them. A policy Cilium would refuse to merge (two L7
 * parsers on one port for one peer), or an L7 port with no valid proxy port, gives an error; the
 * caller keeps the previous entries (it never falls back to something wider).
 */
export function compileEndpointPolicy(
  rules: readonly PolicyRule[],
  endpoint: PolicyEndpoint,
  identities: readonly Identity[],
  options: EnforcementOptions,
): CompileResult {
  try {
    return {
      ok: true,
      policy: {
        ingress: compileDirection(rules, endpoint, identities, 'ingress', options),
        egress: compileDirection(rules, endpoint, identities, 'egress', options),
      },
    };
  } catch (err) {
    if (err instanceof UnenforceablePolicy) return { ok: false, error: err.message };
    throw err;
  }
}

/** Both directions' entries in one list (what the datapath writes into the endpoint's map). */
export function policyMapEntries(policy: EndpointPolicy): PolicyMapEntry[] {
  return [...policy.ingress.entries, ...policy.egress.entries];
}

export interface PolicyMapDiff {
  /** New keys and keys whose value changed. */
  readonly upserts: readonly PolicyMapEntry[];
  readonly deletes: readonly PolicyMapEntry[];
}

/** The writes that turn one map content into another: the datapath applies only these. */
export function diffPolicyMap(previous: readonly PolicyMapEntry[], next: readonly PolicyMapEntry[]): PolicyMapDiff {
  const before = new Map(previous.map((e) => [policyMapKeyString(e), e]));
  const after = new Map(next.map((e) => [policyMapKeyString(e), e]));
  const upserts = next.filter((e) => {
    const old = before.get(policyMapKeyString(e));
    return !old || old.deny !== e.deny || old.proxyPort !== e.proxyPort;
  });
  const deletes = previous.filter((e) => !after.has(policyMapKeyString(e)));
  return { upserts, deletes };
}
