/**
 * Bad input never crashes: policies mutated at random (any node replaced by any JSON value) are
 * either rejected with a message or accepted, translated and compiled without an exception.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IdentityAllocator, workloadLabels } from '@tendril/identity';
import { compileEndpointPolicy, type PolicyObject, translatePolicy, validatePolicy } from '../src';
import { testEnforcementOptions } from './support/cluster';
import { parseTruthTable } from './support/truth-table';

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JUNK: unknown[] = [null, 0, -1, 70000, 1.5, '', 'x', '0', '10.0.0.0/8', 'TCP', 'ANY', true, [], [{}], {}, { matchLabels: 1 }, [null], ['*'], { port: [] }];

/** Replaces one random node of a JSON tree (objects and arrays included) by junk. */
function mutate(value: unknown, random: () => number): unknown {
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((c, i) => {
        nodes.push({ parent: v, key: i });
        walk(c);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, c] of Object.entries(v)) {
        nodes.push({ parent: v as Record<string, unknown>, key: k });
        walk(c);
      }
    }
  };
  const copy = JSON.parse(JSON.stringify(value));
  walk(copy);
  const target = nodes[Math.floor(random() * nodes.length)];
  if (target) (target.parent as Record<string | number, unknown>)[target.key] = JUNK[Math.floor(random() * JUNK.length)];
  return copy;
}

describe('robustness', () => {
  const dir = join(__dirname, 'truth-tables');
  const policies = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseTruthTable(f, readFileSync(join(dir, f), 'utf8')).policies);

  it('rejects or compiles 4000 mutated policies without throwing', () => {
    const random = prng(7);
    const allocator = new IdentityAllocator();
    const endpoint = { labels: workloadLabels({ namespace: 'x', podLabels: { pod: 'a' } }) };
    allocator.allocate(endpoint.labels);
    let rejected = 0;
    let accepted = 0;
    for (let i = 0; i < 4000; i++) {
      let policy = policies[i % policies.length];
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) policy = mutate(policy, random);
      const error = validatePolicy(policy);
      if (error !== undefined) {
        expect(typeof error).toBe('string');
        expect(error.length).toBeGreaterThan(0);
        rejected++;
        continue;
      }
      try {
        const rules = translatePolicy(policy as PolicyObject);
        const result = compileEndpointPolicy(rules, endpoint, allocator.identities(), testEnforcementOptions());
        expect(typeof result.ok).toBe('boolean');
      } catch (err) {
        throw new Error(`accepted policy crashed: ${(err as Error).message}\n${JSON.stringify(policy)}`);
      }
      accepted++;
    }
    expect(rejected).toBeGreaterThan(500);
    expect(accepted).toBeGreaterThan(300);
  });

  it('refuses to compile L7 ports when the proxy port function gives no port', () => {
    const allocator = new IdentityAllocator();
    const endpoint = { labels: workloadLabels({ namespace: 'x', podLabels: { pod: 'a' } }) };
    const rules = translatePolicy({
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: { name: 'http', namespace: 'x' },
      spec: { endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{}] } }] }] },
    });
    expect(compileEndpointPolicy(rules, endpoint, allocator.identities(), { proxyPort: () => 0 })).toEqual({
      ok: false,
      error: 'no proxy port for http ingress (got 0): L7 rules cannot be enforced',
    });
  });
});
