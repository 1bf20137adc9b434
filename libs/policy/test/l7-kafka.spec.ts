/** Kafka rules per request (policy-semantics.md §4 and the §8 cases 17 and 18). */
import { KAFKA_API_KEYS, KafkaRuleError, KafkaRules, type KafkaRequestFacts } from '../src';

const request = (apiKey: keyof typeof KAFKA_API_KEYS, topics: KafkaRequestFacts['topics'] = [], extra: Partial<KafkaRequestFacts> = {}): KafkaRequestFacts => ({
  apiKey: KAFKA_API_KEYS[apiKey]!,
  apiVersion: 7,
  clientId: 'orders-svc',
  topics,
  ...extra,
});

describe('KafkaRules', () => {
  it('§8 case 17: role produce with a topic', () => {
    const rules = new KafkaRules([{ role: 'produce', topic: 'orders' }]);
    expect(rules.allows(request('produce', ['orders']))).toBe(true);
    expect(rules.allows(request('metadata', ['orders']))).toBe(true);
    expect(rules.allows(request('apiversions'))).toBe(true);
    expect(rules.allows(request('fetch', ['orders']))).toBe(false);
    expect(rules.allows(request('produce', ['payments']))).toBe(false);
    // A metadata request for every topic is not covered by a topic rule.
    expect(rules.allows(request('metadata', 'all'))).toBe(false);
  });

  it('§8 case 18: topics are a union across rules; keys whose topics are not read never pass a topic rule', () => {
    const rules = new KafkaRules([
      { role: 'produce', topic: 'orders' },
      { role: 'produce', topic: 'audit' },
    ]);
    expect(rules.allows(request('produce', ['orders', 'audit']))).toBe(true);
    expect(rules.allows(request('produce', ['orders', 'tmp']))).toBe(false);
    expect(new KafkaRules([{ apiKey: 'createtopics', topic: 'orders' }]).allows(request('createtopics', []))).toBe(false);
  });

  it('role consume covers the consumer group keys; keys outside the topic-bearing list ignore the topic', () => {
    const rules = new KafkaRules([{ role: 'consume', topic: 'orders' }]);
    for (const key of ['fetch', 'offsets', 'offsetcommit', 'offsetfetch'] as const) expect({ key, allowed: rules.allows(request(key, ['orders'])) }).toEqual({ key, allowed: true });
    for (const key of ['findcoordinator', 'joingroup', 'heartbeat', 'leavegroup', 'syncgroup', 'apiversions'] as const) {
      expect({ key, allowed: rules.allows(request(key)) }).toEqual({ key, allowed: true });
    }
    expect(rules.allows(request('produce', ['orders']))).toBe(false);
    expect(rules.allows(request('createtopics', ['orders']))).toBe(false);
  });

  it('apiKey (case-insensitive), apiVersion and clientID must all match; an empty rule allows every request', () => {
    const rules = new KafkaRules([{ apiKey: 'Fetch', apiVersion: '11', clientID: 'reader' }]);
    expect(rules.allows(request('fetch', ['t'], { apiVersion: 11, clientId: 'reader' }))).toBe(true);
    expect(rules.allows(request('fetch', ['t'], { apiVersion: 10, clientId: 'reader' }))).toBe(false);
    expect(rules.allows(request('fetch', ['t'], { apiVersion: 11, clientId: 'other' }))).toBe(false);
    expect(rules.allows(request('fetch', ['t'], { apiVersion: 11, clientId: null }))).toBe(false);
    expect(new KafkaRules([{}]).allows(request('deletetopics', ['x']))).toBe(true);
    expect(new KafkaRules([]).allows(request('apiversions'))).toBe(false);
  });

  it('refuses rules it cannot evaluate, with Cilium’s messages', () => {
    expect(() => new KafkaRules([{ role: 'produce', apiKey: 'fetch' }])).toThrow(new KafkaRuleError('cannot set both Role "produce" and APIKey "fetch" together'));
    expect(() => new KafkaRules([{ role: 'admin' }])).toThrow('invalid Kafka Role "admin"');
    expect(() => new KafkaRules([{ apiKey: 'nope' }])).toThrow('invalid Kafka APIKey "nope"');
    expect(() => new KafkaRules([{ apiVersion: '-1' }])).toThrow('invalid Kafka APIVersion "-1"');
  });
});
