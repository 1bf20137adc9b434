/**
 * The HTTP rule index: what it reads off RE2 patterns, and that looking rules up by path and method
 * gives exactly the verdict (first matching rule, header edits) of trying every rule in order.
 */
import { HttpRules, type HttpRequestFacts, type PortRuleHTTP } from '../src';
import { HttpRuleIndex } from '../src/l7/http-rule-index';
import { literalAlternatives, requiredPrefix, topLevelAlternatives } from '../src/l7/regex-literals';

describe('regex literals', () => {
  it.each([
    ['/items', '/items'],
    ['/items/[0-9]+', '/items/'],
    ['/items(/.*)?', '/items'],
    ['/items?', '/item'],
    ['/items*', '/item'],
    ['/items+', '/item'],
    ['/items{2}', '/item'],
    ['/v1\\.2/x', '/v1.2/x'],
    ['/v1\\.*', '/v1'],
    ['/a\\d+', '/a'],
    ['/a|/b', ''],
    ['(/a|/b)/c', ''],
    ['(?i)/admin', ''],
    ['^/x', ''],
    ['.*', ''],
    ['/a[|]b', '/a'],
  ])('%s must start with %j', (pattern, prefix) => {
    expect(requiredPrefix(pattern)).toBe(prefix);
  });

  it.each([
    ['GET', ['GET']],
    ['GET|PUT', ['GET', 'PUT']],
    ['/a\\.b|/c', ['/a.b', '/c']],
    ['GET|P.T', undefined],
    ['(GET|PUT)', undefined],
    ['GETS?', undefined],
    ['/a/[b]', undefined],
  ])('%s matches exactly %j', (pattern, literals) => {
    expect(literalAlternatives(pattern)).toEqual(literals);
  });

  it('splits only on top-level bars', () => {
    expect(topLevelAlternatives('a|(b|c)|[|]|\\||d')).toEqual(['a', '(b|c)', '[|]', '\\|', 'd']);
    expect(topLevelAlternatives('[]|]x|y')).toEqual(['[]|]x', 'y']);
  });
});

describe('HttpRuleIndex', () => {
  it('finds a rule among ten thousand by its path without the others as candidates', () => {
    const rules: PortRuleHTTP[] = Array.from({ length: 10_000 }, (_, i) => ({ method: 'GET', path: `/svc-${i}/items/[0-9]+` }));
    rules.push({ method: 'GET', path: '/healthz' }, { method: 'POST' }, { path: '.*/debug' });
    const index = new HttpRuleIndex(rules);
    expect(index.candidates('/svc-9999/items/42', 'GET')).toEqual([9_999, 10_002]);
    expect(index.candidates('/healthz', 'POST')).toEqual([10_000, 10_001, 10_002]);
    expect(index.candidates('/nothing', 'GET')).toEqual([10_002]);
  });
});

/** A small deterministic generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATHS = ['/a', '/a/b', '/a/b/c', '/ab', '/b', '/b/1', '/b/22', '/x/debug', '/a?x=1', '/', '/c.d', '/cxd'];
const PATH_PATTERNS = ['/a', '/a/.*', '/a(/.*)?', '/a/b|/b', '/b/[0-9]+', '/b/[0-9]', '.*/debug', '/ab?', '/a.*', '/c\\.d', '/c.d', '(/a|/b)/.*', '/', '/a\\?x=1', '/[ab]'];
const METHODS = ['GET', 'PUT', 'POST', 'HEAD'];
const METHOD_PATTERNS = ['GET', 'GET|PUT', 'P.*', 'HEAD|POST', 'G.T', 'PUT'];
const HEADER_MATCHES = [{ name: 'x-env', value: 'prod', mismatch: 'ADD' }, { name: 'x-env', value: 'prod', mismatch: 'REPLACE' }, { name: 'x-env', value: 'prod' }];

describe('HttpRules with the index give the verdicts of trying every rule', () => {
  it('on 300 random rule sets × every request', () => {
    const next = random(20261126);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
    for (let round = 0; round < 300; round++) {
      const rules: PortRuleHTTP[] = Array.from({ length: 1 + Math.floor(next() * 12) }, () => {
        const headerMatch = next() < 0.15 ? pick(HEADER_MATCHES) : undefined;
        return {
          ...(next() < 0.8 ? { path: pick(PATH_PATTERNS) } : {}),
          ...(next() < 0.6 ? { method: pick(METHOD_PATTERNS) } : {}),
          ...(headerMatch ? { headerMatches: [headerMatch] } : {}),
        };
      });
      const indexed = new HttpRules(rules);
      const scanned = new HttpRules(rules, undefined, { index: false });
      for (const path of PATHS) {
        for (const method of METHODS) {
          for (const headers of [{}, { 'x-env': 'dev' }]) {
            const request: HttpRequestFacts = { method, path, authority: 'h', headers };
            expect({ rules, request, verdict: indexed.evaluate(request) }).toEqual({ rules, request, verdict: scanned.evaluate(request) });
          }
        }
      }
    }
  });
});
