import type { tendril } from '@tendril/api-envoy';
import { HttpRuleError, HttpRules, KafkaRuleError, KafkaRules, type HeaderEdit, type HttpRequestFacts, type KafkaRequestFacts } from '@tendril/policy';
import type { ConfigError } from './config';
import type { RedirectDirection } from './transparent';

type NetworkPolicy = tendril.policy.v1.NetworkPolicy;
type PortNetworkPolicy = tendril.policy.v1.PortNetworkPolicy;

/**
 * The L7 policy the node proxy enforces on its redirect listeners (the `tendril.l7policy` HTTP
 * filter), from Tendril's NPDS resources: per endpoint IP, direction and port, rules that apply
 * to remote identities and either allow every request (an L3/L4 allow for those remotes) or the
 * requests one of their HTTP rules matches. Anything without a policy is denied: the proxy never
 * allows by default.
 */

export interface L7Decision {
  readonly allowed: boolean;
  /** Why, for the access log and debugging. */
  readonly reason: string;
  readonly edits: readonly HeaderEdit[];
  /**
   * Names of the headers a matching rule's headerMatches found missing or different (LOG and the
   * editing actions), for the access log; never their values, which may be secrets.
   */
  readonly mismatchedHeaders: readonly string[];
  /** The HTTP rule that allowed the request (of the rule named in `reason`), as its NPDS fields; for `tendril policy trace`. */
  readonly httpRule?: string;
}

interface CompiledRule {
  /** Undefined: every remote. */
  readonly remotes: ReadonlySet<number> | undefined;
  /** Both undefined: every request of these remotes. */
  readonly http: HttpRules | undefined;
  readonly kafka: KafkaRules | undefined;
  /** Each HTTP rule as its NPDS fields (JSON), by index, to name the one that matched. */
  readonly httpTexts: readonly string[];
  readonly origin: string;
}

/** The Kafka rules of an NPDS rule, with Cilium's messages for a role, API key or version it cannot read. */
function compileKafkaRules(rules: readonly tendril.policy.v1.KafkaNetworkPolicyRule[]): KafkaRules {
  try {
    return new KafkaRules(
      rules.map((r) => ({
        ...(r.role ? { role: r.role } : {}),
        ...(r.api_key ? { apiKey: r.api_key } : {}),
        ...(r.api_version ? { apiVersion: r.api_version } : {}),
        ...(r.client_id ? { clientID: r.client_id } : {}),
        ...(r.topic ? { topic: r.topic } : {}),
      })),
    );
  } catch (err) {
    if (err instanceof KafkaRuleError) throw new HttpRuleError(err.message);
    throw err;
  }
}

type PortRules = ReadonlyMap<number, readonly CompiledRule[]>;

/** The value of an SDS generic secret by its name; undefined when the proxy does not have it. */
export type GenericSecretLookup = (name: string) => string | undefined;

function compilePorts(ports: readonly PortNetworkPolicy[] | undefined, secretValue: GenericSecretLookup): Map<number, CompiledRule[]> {
  const out = new Map<number, CompiledRule[]>();
  for (const port of ports ?? []) {
    const number = port.port ?? 0;
    if (!Number.isInteger(number) || number < 1 || number > 65535) throw new HttpRuleError(`port ${number} is not a port number`);
    const rules = out.get(number) ?? [];
    for (const rule of port.rules ?? []) {
      const http = rule.http_rules
        ? new HttpRules(
            (rule.http_rules.http_rules ?? []).map((r) => ({
              ...(r.path ? { path: r.path } : {}),
              ...(r.method ? { method: r.method } : {}),
              ...(r.host ? { host: r.host } : {}),
              headers: r.headers ?? [],
              // value_sds_secret names an SDS secret of this config (HttpRules resolves it; one the
              // proxy does not have falls back to the inline value, and without one never matches).
              headerMatches: (r.header_matches ?? []).map((m) => ({
                name: m.name,
                ...(m.value ? { value: m.value } : {}),
                ...(m.value_sds_secret ? { secret: { namespace: '', name: m.value_sds_secret } } : {}),
                ...(m.mismatch ? { mismatch: m.mismatch } : {}),
              })),
            })),
            (_namespace, name) => secretValue(name),
          )
        : undefined;
      if (http && rule.kafka_rules) throw new HttpRuleError('a rule has both HTTP and Kafka rules');
      const kafka = rule.kafka_rules ? compileKafkaRules(rule.kafka_rules.kafka_rules ?? []) : undefined;
      const remotes = rule.remote_policies && rule.remote_policies.length > 0 ? new Set(rule.remote_policies) : undefined;
      const httpTexts = (rule.http_rules?.http_rules ?? []).map((r) => JSON.stringify(r));
      rules.push({ remotes, http, kafka, httpTexts, origin: (rule.origins ?? []).join(', ') || 'a rule' });
    }
    out.set(number, rules);
  }
  return out;
}

export class L7PolicyIndex {
  static readonly EMPTY = new L7PolicyIndex(new Map());

  private constructor(private readonly byEndpoint: ReadonlyMap<string, { ingress: PortRules; egress: PortRules }>) {}

  /** Every problem is reported; with any, the config is refused (NACK) and the previous policy stays. */
  static compile(policies: readonly NetworkPolicy[], secretValue: GenericSecretLookup = () => undefined): { index: L7PolicyIndex | undefined; errors: ConfigError[] } {
    const byEndpoint = new Map<string, { ingress: PortRules; egress: PortRules }>();
    const errors: ConfigError[] = [];
    policies.forEach((policy, i) => {
      const name = policy.name || `#${i}`;
      try {
        if (!policy.name) throw new Error('name (the endpoint IP) is required');
        if (byEndpoint.has(policy.name)) throw new Error('duplicate NetworkPolicy for this endpoint');
        byEndpoint.set(policy.name, { ingress: compilePorts(policy.ingress_per_port_policies, secretValue), egress: compilePorts(policy.egress_per_port_policies, secretValue) });
      } catch (err) {
        errors.push({ kind: 'NetworkPolicy', resource: name, message: (err as Error).message });
      }
    });
    return { index: errors.length === 0 ? new L7PolicyIndex(byEndpoint) : undefined, errors };
  }

  get size(): number {
    return this.byEndpoint.size;
  }

  /**
   * The rules of an endpoint's port that apply to a remote identity, or the decision when that
   * already settles it: no policy or no applicable rule denies, a rule without L7 rules allows.
   */
  private applicableRules(direction: RedirectDirection, endpointIp: string, port: number, remoteIdentity: number): readonly CompiledRule[] | L7Decision {
    const rules = this.byEndpoint.get(endpointIp)?.[direction].get(port);
    if (!rules) return { allowed: false, reason: `no ${direction} L7 policy for ${endpointIp}:${port}`, edits: [], mismatchedHeaders: [] };
    const applicable = rules.filter((r) => r.remotes === undefined || r.remotes.has(remoteIdentity));
    if (applicable.length === 0) return { allowed: false, reason: `no rule of ${endpointIp}:${port} applies to identity ${remoteIdentity}`, edits: [], mismatchedHeaders: [] };
    const unrestricted = applicable.find((r) => r.http === undefined && r.kafka === undefined);
    if (unrestricted) return { allowed: true, reason: `L7 unrestricted for identity ${remoteIdentity} by ${unrestricted.origin}`, edits: [], mismatchedHeaders: [] };
    return applicable;
  }

  /** The decision for one Kafka request frame of a redirected connection (policy-semantics §4): some applicable rule's Kafka rules allow it. */
  decideKafka(direction: RedirectDirection, endpointIp: string, port: number, remoteIdentity: number, request: KafkaRequestFacts): L7Decision {
    const applicable = this.applicableRules(direction, endpointIp, port, remoteIdentity);
    if (!Array.isArray(applicable)) return applicable as L7Decision;
    const withKafka = applicable.filter((rule) => rule.kafka !== undefined);
    if (!KafkaRules.allowedByAny(withKafka.map((rule) => rule.kafka as KafkaRules), request)) return { allowed: false, reason: 'no Kafka rule matches', edits: [], mismatchedHeaders: [] };
    return { allowed: true, reason: `allowed by ${withKafka.map((rule) => rule.origin).join(', ')}`, edits: [], mismatchedHeaders: [] };
  }

  /** The decision for one request of a redirected connection. */
  decide(direction: RedirectDirection, endpointIp: string, port: number, remoteIdentity: number, request: HttpRequestFacts): L7Decision {
    const applicable = this.applicableRules(direction, endpointIp, port, remoteIdentity);
    if (!Array.isArray(applicable)) return applicable as L7Decision;
    const edits: HeaderEdit[] = [];
    const mismatched = new Set<string>();
    let allowedBy: string | undefined;
    let httpRule: string | undefined;
    for (const rule of applicable) {
      // Kafka rules on a port reached over HTTP allow nothing here.
      if (!rule.http) continue;
      const verdict = rule.http.evaluate(request);
      if (!verdict.allowed) continue;
      if (allowedBy === undefined) {
        allowedBy = rule.origin;
        httpRule = verdict.rule === undefined ? undefined : rule.httpTexts[verdict.rule];
      }
      edits.push(...verdict.edits);
      for (const name of verdict.mismatches) mismatched.add(name);
    }
    return allowedBy
      ? { allowed: true, reason: `allowed by ${allowedBy}`, edits, mismatchedHeaders: [...mismatched], ...(httpRule ? { httpRule } : {}) }
      : { allowed: false, reason: 'no HTTP rule matches', edits: [], mismatchedHeaders: [] };
  }
}
