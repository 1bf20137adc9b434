import type { PortRuleKafka } from '../api-types';

/**
 * Kafka rules as Cilium's Kafka filter evaluated them (policy-semantics.md §4; Cilium dropped them
 * after 1.18, Tendril keeps them): per request frame, a rule applies when its API keys (from
 * `role` or `apiKey`), `apiVersion` and `clientID` match; a rule with a `topic` then only covers
 * that topic of a topic-bearing request, and the request is allowed once every topic it names is
 * covered by some applicable rule. Responses are never checked.
 */

/** Kafka API keys by the names Cilium accepts in `apiKey` (lower case). */
export const KAFKA_API_KEYS: Readonly<Record<string, number>> = {
  produce: 0, fetch: 1, offsets: 2, metadata: 3, leaderandisr: 4, stopreplica: 5, updatemetadata: 6, controlledshutdown: 7,
  offsetcommit: 8, offsetfetch: 9, findcoordinator: 10, joingroup: 11, heartbeat: 12, leavegroup: 13, syncgroup: 14,
  describegroups: 15, listgroups: 16, saslhandshake: 17, apiversions: 18, createtopics: 19, deletetopics: 20,
  deleterecords: 21, initproducerid: 22, offsetforleaderepoch: 23, addpartitionstotxn: 24, addoffsetstotxn: 25, endtxn: 26,
  writetxnmarkers: 27, txnoffsetcommit: 28, describeacls: 29, createacls: 30, deleteacls: 31, describeconfigs: 32, alterconfigs: 33,
};

/** What each role stands for. */
export const KAFKA_ROLE_KEYS: Readonly<Record<'produce' | 'consume', readonly number[]>> = {
  produce: [0, 3, 18],
  consume: [1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18],
};

/** Keys whose requests name topics: a topic-constrained rule covers only its topic of them; other keys ignore the topic. */
export const KAFKA_TOPIC_KEYS: ReadonlySet<number> = new Set([0, 1, 2, 3, 4, 5, 6, 8, 9, 19, 20, 21, 23, 24, 27, 28, 34, 35, 37]);

/** The request header and the topics the proxy read from its body. */
export interface KafkaRequestFacts {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly clientId: string | null;
  /**
   * Topics the request names (produce, fetch, list offsets, metadata, offset commit/fetch bodies
   * are read; other keys give an empty list); 'all' for a metadata request for every topic.
   */
  readonly topics: readonly string[] | 'all';
}

export class KafkaRuleError extends Error {}

interface CompiledKafkaRule {
  /** Empty: every key. */
  readonly keys: ReadonlySet<number>;
  readonly apiVersion?: number;
  readonly clientId?: string;
  readonly topic?: string;
}

function compileRule(rule: PortRuleKafka): CompiledKafkaRule {
  if (rule.role && rule.apiKey) throw new KafkaRuleError(`cannot set both Role ${JSON.stringify(rule.role)} and APIKey ${JSON.stringify(rule.apiKey)} together`);
  let keys: readonly number[] = [];
  if (rule.role) {
    const role = rule.role.toLowerCase();
    if (role !== 'produce' && role !== 'consume') throw new KafkaRuleError(`invalid Kafka Role ${JSON.stringify(rule.role)}`);
    keys = KAFKA_ROLE_KEYS[role];
  } else if (rule.apiKey) {
    const key = KAFKA_API_KEYS[rule.apiKey.toLowerCase()];
    if (key === undefined) throw new KafkaRuleError(`invalid Kafka APIKey ${JSON.stringify(rule.apiKey)}`);
    keys = [key];
  }
  let apiVersion: number | undefined;
  if (rule.apiVersion) {
    if (!/^[0-9]+$/.test(rule.apiVersion) || Number(rule.apiVersion) > 32767) throw new KafkaRuleError(`invalid Kafka APIVersion ${JSON.stringify(rule.apiVersion)}`);
    apiVersion = Number(rule.apiVersion);
  }
  return { keys: new Set(keys), ...(apiVersion !== undefined ? { apiVersion } : {}), ...(rule.clientID ? { clientId: rule.clientID } : {}), ...(rule.topic ? { topic: rule.topic } : {}) };
}

export class KafkaRules {
  private readonly rules: readonly CompiledKafkaRule[];

  /** Throws KafkaRuleError (with Cilium's message) for a rule it cannot evaluate. */
  constructor(rules: readonly PortRuleKafka[]) {
    this.rules = rules.map(compileRule);
  }

  allows(request: KafkaRequestFacts): boolean {
    return KafkaRules.allowedByAny([this], request);
  }

  /**
   * Whether the rules of several sets together allow the request: topics covered by a rule of one
   * set and a rule of another add up, as Cilium unions the Kafka rules of every policy that
   * applies to the remote (§4, §8 case 18).
   */
  static allowedByAny(sets: readonly KafkaRules[], request: KafkaRequestFacts): boolean {
    const topicBearing = KAFKA_TOPIC_KEYS.has(request.apiKey);
    const uncovered = new Set(request.topics === 'all' ? [] : request.topics);
    for (const rule of sets.flatMap((set) => set.rules)) {
      if (rule.keys.size > 0 && !rule.keys.has(request.apiKey)) continue;
      if (rule.apiVersion !== undefined && rule.apiVersion !== request.apiVersion) continue;
      if (rule.clientId !== undefined && rule.clientId !== request.clientId) continue;
      if (rule.topic === undefined || !topicBearing) return true;
      // A request for every topic, or one whose topics were not read, is never covered by a topic rule.
      if (request.topics === 'all' || request.topics.length === 0) continue;
      uncovered.delete(rule.topic);
      if (uncovered.size === 0) return true;
    }
    return false;
  }
}
