/**
 * The L7 HTTP rule engine (policy-semantics.md §3): path normalisation, full-string RE2 matching,
 * header rules and Cilium's headerMatches mismatch actions, and a corpus of path tricks that must
 * never reach `/private` through a rule that allows only `/public/...`.
 */
import { HttpRuleError, HttpRules, normalizeRequestPath, validatePolicy, type HttpRequestFacts } from '../src';

const request = (path: string, extra: Partial<HttpRequestFacts> = {}): HttpRequestFacts => ({ method: 'GET', path, authority: 'shop.example', headers: {}, ...extra });

/** What the proxy would decide for a raw request target: refused (400), or the rules' verdict on the normalised path. */
function decideTarget(rules: HttpRules, target: string, extra: Partial<HttpRequestFacts> = {}): 'refused' | 'allowed' | 'denied' {
  const normalized = normalizeRequestPath(target);
  if (!normalized.ok) return 'refused';
  return rules.evaluate(request(normalized.path, extra)).allowed ? 'allowed' : 'denied';
}

describe('normalizeRequestPath', () => {
  it.each([
    ['/public/../private', '/private'],
    ['//private', '/private'],
    ['/public/%2e%2e/private', '/private'],
    ['/public/.%2E/private', '/private'],
    ['/public%2F..%2Fprivate', '/private'],
    ['/public%5c..%5cprivate', '/private'],
    ['/%70rivate', '/private'],
    ['/./private/.', '/private/'],
    ['/a/b/../../private?x=../y', '/private?x=../y'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/..', '/'],
  ])('%s → %s', (target, path) => {
    expect(normalizeRequestPath(target)).toMatchObject({ ok: true, path });
  });

  it.each(['*', 'http://shop.example/private', 'private', '/bad%zz', '/nul%00', '/frag#x', '/tab\there', '/public/..;/private', '/public/.;x/../private', '/public/%c0%ae%c0%ae/private', '/public/%e0%80%ae/private', '/public/\u00c0\u00ae/private', '/sp ace'])('refuses %j', (target) => {
    expect(normalizeRequestPath(target).ok).toBe(false);
  });
});

describe('HttpRules', () => {
  it('path, method and host are full-string, case-sensitive matches; the query is part of the path', () => {
    const rules = new HttpRules([{ path: '/items', method: 'GET', host: 'shop\\.example' }]);
    expect(rules.evaluate(request('/items')).allowed).toBe(true);
    expect(rules.evaluate(request('/items?x=1')).allowed).toBe(false);
    expect(rules.evaluate(request('/items/1')).allowed).toBe(false);
    expect(rules.evaluate(request('/items', { method: 'get' })).allowed).toBe(false);
    expect(rules.evaluate(request('/items', { method: 'HEAD' })).allowed).toBe(false);
    expect(rules.evaluate(request('/items', { authority: 'shop.example:80' })).allowed).toBe(false);
    expect(rules.evaluate(request('/items', { authority: 'xshop.example' })).allowed).toBe(false);
  });

  it('an empty rule allows everything; any matching rule allows (OR), reporting the first', () => {
    expect(new HttpRules([{}]).evaluate(request('/anything', { method: 'DELETE' }))).toEqual({ allowed: true, rule: 0, edits: [], mismatches: [] });
    const rules = new HttpRules([{ method: 'POST' }, { path: '/public/.*' }]);
    expect(rules.evaluate(request('/public/a'))).toMatchObject({ allowed: true, rule: 1 });
    expect(rules.evaluate(request('/private'))).toEqual({ allowed: false, edits: [], mismatches: [] });
    expect(new HttpRules([]).evaluate(request('/')).allowed).toBe(false);
  });

  it('headers: presence, or an exact (case-sensitive) value of the comma-joined header; names are case-insensitive', () => {
    const rules = new HttpRules([{ headers: ['X-Token', 'X-Env: prod'] }]);
    expect(rules.evaluate(request('/', { headers: { 'x-token': '', 'x-env': 'prod' } })).allowed).toBe(true);
    expect(rules.evaluate(request('/', { headers: { 'x-env': 'prod' } })).allowed).toBe(false);
    expect(rules.evaluate(request('/', { headers: { 'x-token': 'a', 'x-env': 'Prod' } })).allowed).toBe(false);
    expect(rules.evaluate(request('/', { headers: { 'x-token': 'a', 'x-env': ['prod', 'dev'] } })).allowed).toBe(false);
    expect(new HttpRules([{ headers: ['X-Env prod,dev'] }]).evaluate(request('/', { headers: { 'x-env': ['prod', 'dev'] } })).allowed).toBe(true);
  });

  it('headerMatches: a secret’s value wins over the inline one; an unreadable secret with no inline value never matches', () => {
    const secrets = (ns: string, name: string) => (ns === 'default' && name === 'token' ? 's3cret' : undefined);
    const bySecret = new HttpRules([{ headerMatches: [{ name: 'Authorization', secret: { namespace: 'default', name: 'token' }, value: 'inline' }] }], secrets);
    expect(bySecret.evaluate(request('/', { headers: { authorization: 's3cret' } })).allowed).toBe(true);
    expect(bySecret.evaluate(request('/', { headers: { authorization: 'inline' } })).allowed).toBe(false);
    const missing = new HttpRules([{ headerMatches: [{ name: 'Authorization', secret: { namespace: 'default', name: 'gone' } }] }], secrets);
    expect(missing.evaluate(request('/', { headers: { authorization: '' } })).allowed).toBe(false);
    expect(missing.evaluate(request('/', { headers: {} })).allowed).toBe(false);
  });

  it('headerMatches mismatch actions LOG, ADD, DELETE, REPLACE let the rule match and say what to change; every rule is evaluated', () => {
    const rules = new HttpRules([
      { path: '/a', headerMatches: [{ name: 'X-Log', value: 'ok', mismatch: 'LOG' }] },
      { headerMatches: [{ name: 'X-Add', value: 'added', mismatch: 'ADD' }, { name: 'X-Del', value: 'keep', mismatch: 'DELETE' }, { name: 'X-Rep', value: 'new', mismatch: 'REPLACE' }] },
    ]);
    const verdict = rules.evaluate(request('/a', { headers: { 'x-log': 'bad', 'x-del': 'wrong' } }));
    expect(verdict).toEqual({
      allowed: true,
      rule: 0,
      edits: [
        { action: 'ADD', name: 'x-add', value: 'added' },
        { action: 'DELETE', name: 'x-del', value: '' },
        { action: 'REPLACE', name: 'x-rep', value: 'new' },
      ],
      mismatches: ['x-log', 'x-add', 'x-del', 'x-rep'],
    });
    // A header that is absent is not deleted; a matching header changes nothing.
    expect(rules.evaluate(request('/b', { headers: { 'x-add': 'added', 'x-rep': 'new' } })).edits).toEqual([]);
  });

  it('rejects a rule it cannot evaluate instead of allowing (invalid RE2, backreferences, lookaround)', () => {
    expect(() => new HttpRules([{ path: '/(a' }])).toThrow(HttpRuleError);
    expect(() => new HttpRules([{ path: '(a)\\1' }])).toThrow(/invalid path regex/);
    expect(() => new HttpRules([{ host: 'a(?=b)' }])).toThrow(/invalid host regex/);
    expect(() => new HttpRules([{ headerMatches: [{ name: 'x', value: 'y', mismatch: 'SHOUT' }] }])).toThrow(/mismatch action "SHOUT"/);
  });

  it('validation rejects what RE2 rejects, with Go’s messages, for path, method and host', () => {
    const withHttp = (http: unknown) => ({
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: { name: 'p', namespace: 'default' },
      spec: { endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http } }] }] },
    });
    expect(validatePolicy(withHttp([{ path: '(a)\\1' }]))).toBe('Invalid CiliumNetworkPolicy spec: error parsing regexp: invalid escape sequence: `\\1`');
    expect(validatePolicy(withHttp([{ method: 'GET|(' }]))).toBe('Invalid CiliumNetworkPolicy spec: error parsing regexp: missing closing ): `GET|(`');
    expect(validatePolicy(withHttp([{ host: 'a(?=b)' }]))).toBe('Invalid CiliumNetworkPolicy spec: error parsing regexp: invalid or unsupported Perl syntax: `(?=`');
    expect(validatePolicy(withHttp([{ path: '/public/.*', method: 'GET', host: '.*\\.example' }]))).toBeUndefined();
  });

  it('a pathological pattern is matched in linear time (RE2): no catastrophic backtracking', () => {
    const rules = new HttpRules([{ path: '/(a+)+$' }, { path: '(x+x+)+y' }]);
    // A backtracking engine takes longer than the age of the universe on these.
    expect(rules.evaluate(request(`/${'a'.repeat(30_000)}!`)).allowed).toBe(false);
    expect(rules.evaluate(request(`/${'x'.repeat(30_000)}`)).allowed).toBe(false);
  });
});

/** Tricks for reaching /private through `path: "/public/.*"` (method GET); every one must be refused or denied. */
const BYPASS_CORPUS: readonly string[] = [
  '/public/../private',
  '/public/../../private',
  '/public/./../private',
  '/public//../private',
  '//private',
  '///private',
  '/public/%2e%2e/private',
  '/public/%2E%2E/private',
  '/public/.%2e/private',
  '/public/%2e./private',
  '/public/%2e%2e%2fprivate',
  '/public%2f..%2fprivate',
  '/public%2F..%2Fprivate',
  '/public%2F%2E%2E%2Fprivate',
  '/public\\..\\private',
  '/public%5c..%5cprivate',
  '/public%5C%2e%2e%5Cprivate',
  '/%70ublic/../private',
  '/public/..%2fprivate',
  '/public/..%2Fprivate?x=/public/',
  '/private?/public/x',
  '/private#/public/x',
  '/private/public/x',
  '/PUBLIC/../private',
  '/Public/x',
  '/PUBLIC/x',
  '/private%2fpublic/x',
  '/public/..',
  '/public/../',
  '/./private',
  '/public/.../../../private',
  '/public/%2e%2e%2f%2e%2e%2fprivate',
  'http://shop.example/private',
  'private',
  '*',
  '/public/%00/../../private',
  '/public/%zz/../../private',
  '/public/\t/../../private',
  '/pub%6cic/../private',
  '/public/%252e%252e/private-not-reached',
];

describe('path bypass corpus against `path: "/public/.*"`', () => {
  const rules = new HttpRules([{ path: '/public/.*', method: 'GET' }]);

  it('has at least 40 tricks', () => {
    expect(BYPASS_CORPUS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(BYPASS_CORPUS)('%j never reaches /private', (target) => {
    const normalized = normalizeRequestPath(target);
    const decision = decideTarget(rules, target);
    if (decision === 'allowed') {
      // Allowed only when what goes upstream (the normalised path) really is under /public/.
      expect(normalized.ok && normalized.path.startsWith('/public/') && !normalized.path.includes('/../')).toBe(true);
    } else {
      expect(['refused', 'denied']).toContain(decision);
    }
  });

  it('the allowed path itself passes, with any method other than GET denied', () => {
    expect(decideTarget(rules, '/public/index.html')).toBe('allowed');
    expect(decideTarget(rules, '/public/a/../b')).toBe('allowed');
    expect(decideTarget(rules, '/public/index.html', { method: 'POST' })).toBe('denied');
  });
});
