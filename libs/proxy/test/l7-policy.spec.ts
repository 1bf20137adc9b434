/** The proxy's L7 policy decisions from NPDS resources (the tendril.l7policy filter's engine). */
import { L7PolicyIndex } from '../src/l7-policy';

const request = (path: string, method = 'GET', headers: Record<string, string> = {}) => ({ method, path, authority: 'store:80', headers });

describe('L7PolicyIndex', () => {
  const { index, errors } = L7PolicyIndex.compile([
    {
      name: '10.244.0.5',
      endpoint_id: 3,
      ingress_per_port_policies: [
        {
          port: 80,
          rules: [
            { remote_policies: [256], http_rules: { http_rules: [{ method: 'GET', path: '/public/.*' }, { path: '/token', header_matches: [{ name: 'x-token', value: 'v', mismatch: 'REPLACE' }] }] }, origins: ['CNP a'] },
            { remote_policies: [300], origins: ['CNP b'] },
            { remote_policies: [400], http_rules: { http_rules: [{ header_matches: [{ name: 'authorization', value_sds_secret: 'default/not-sent' }] }] }, origins: ['CNP c'] },
          ],
        },
      ],
      egress_per_port_policies: [{ port: 8000, rules: [{ http_rules: { http_rules: [{ method: 'GET' }] }, origins: ['CNP e'] }] }],
    },
  ]);

  it('compiles', () => {
    expect(errors).toEqual([]);
  });

  it('allows what an applicable HTTP rule matches, for the identities the rule names', () => {
    expect(index!.decide('ingress', '10.244.0.5', 80, 256, request('/public/x'))).toMatchObject({ allowed: true, reason: 'allowed by CNP a', httpRule: '{"method":"GET","path":"/public/.*"}' });
    expect(index!.decide('ingress', '10.244.0.5', 80, 256, request('/private')).allowed).toBe(false);
    expect(index!.decide('ingress', '10.244.0.5', 80, 256, request('/public/x', 'POST')).allowed).toBe(false);
    expect(index!.decide('ingress', '10.244.0.5', 80, 999, request('/public/x'))).toMatchObject({ allowed: false, reason: 'no rule of 10.244.0.5:80 applies to identity 999' });
  });

  it('a rule without HTTP rules leaves L7 unrestricted for its identities', () => {
    expect(index!.decide('ingress', '10.244.0.5', 80, 300, request('/anything', 'DELETE'))).toMatchObject({ allowed: true, reason: 'L7 unrestricted for identity 300 by CNP b' });
  });

  it('returns the header edits of matching rules (mismatch actions)', () => {
    expect(index!.decide('ingress', '10.244.0.5', 80, 256, request('/token', 'GET', { 'x-token': 'other' }))).toEqual({
      allowed: true,
      reason: 'allowed by CNP a',
      edits: [{ action: 'REPLACE', name: 'x-token', value: 'v' }],
      mismatchedHeaders: ['x-token'],
      httpRule: '{"path":"/token","header_matches":[{"name":"x-token","value":"v","mismatch":"REPLACE"}]}',
    });
  });

  it('denies without a policy for the endpoint, port or direction, and on a secret it cannot read', () => {
    expect(index!.decide('ingress', '10.244.0.9', 80, 256, request('/public/x'))).toMatchObject({ allowed: false, reason: 'no ingress L7 policy for 10.244.0.9:80' });
    expect(index!.decide('ingress', '10.244.0.5', 81, 256, request('/public/x')).allowed).toBe(false);
    expect(index!.decide('egress', '10.244.0.5', 80, 256, request('/public/x')).allowed).toBe(false);
    expect(index!.decide('egress', '10.244.0.5', 8000, 12345, request('/x')).allowed).toBe(true);
    expect(index!.decide('ingress', '10.244.0.5', 80, 400, request('/', 'GET', { authorization: 'anything' })).allowed).toBe(false);
    expect(L7PolicyIndex.EMPTY.decide('ingress', '10.244.0.5', 80, 256, request('/public/x')).allowed).toBe(false);
  });

  it('refuses a policy it cannot evaluate (the config is NACKed and the previous policy stays)', () => {
    const bad = L7PolicyIndex.compile([{ name: '10.0.0.1', ingress_per_port_policies: [{ port: 80, rules: [{ http_rules: { http_rules: [{ path: '(a)\\1' }] } }] }] }, { ingress_per_port_policies: [] }]);
    expect(bad.index).toBeUndefined();
    expect(bad.errors).toEqual([
      { kind: 'NetworkPolicy', resource: '10.0.0.1', message: expect.stringMatching(/^invalid path regex "\(a\)\\\\1": error parsing regexp/) },
      { kind: 'NetworkPolicy', resource: '#1', message: 'name (the endpoint IP) is required' },
    ]);
  });
});

describe('L7PolicyIndex Kafka decisions', () => {
  const produce = (topics: string[]) => ({ apiKey: 0, apiVersion: 7, clientId: 'orders-svc', topics });
  const { index, errors } = L7PolicyIndex.compile([
    {
      name: '10.244.0.7',
      ingress_per_port_policies: [
        {
          port: 9092,
          rules: [
            { remote_policies: [256], kafka_rules: { kafka_rules: [{ role: 'produce', topic: 'orders' }] }, origins: ['CNP a'] },
            { remote_policies: [256], kafka_rules: { kafka_rules: [{ role: 'produce', topic: 'audit' }] }, origins: ['CNP b'] },
            { remote_policies: [300], origins: ['CNP c'] },
          ],
        },
      ],
    },
  ]);

  it('compiles', () => {
    expect(errors).toEqual([]);
  });

  it('§8 case 18: topics covered by the rules of different policies add up; one topic nobody covers denies the request', () => {
    expect(index!.decideKafka('ingress', '10.244.0.7', 9092, 256, produce(['orders', 'audit']))).toMatchObject({ allowed: true, reason: 'allowed by CNP a, CNP b' });
    expect(index!.decideKafka('ingress', '10.244.0.7', 9092, 256, produce(['orders', 'tmp'])).allowed).toBe(false);
    expect(index!.decideKafka('ingress', '10.244.0.7', 9092, 256, { apiKey: 1, apiVersion: 11, clientId: null, topics: ['orders'] }).allowed).toBe(false);
  });

  it('a rule without Kafka rules leaves Kafka unrestricted for its identities; others and other ports are denied', () => {
    expect(index!.decideKafka('ingress', '10.244.0.7', 9092, 300, produce(['anything'])).allowed).toBe(true);
    expect(index!.decideKafka('ingress', '10.244.0.7', 9092, 999, produce(['orders'])).allowed).toBe(false);
    expect(index!.decideKafka('ingress', '10.244.0.7', 9093, 256, produce(['orders'])).allowed).toBe(false);
    // An HTTP request on the Kafka port's rules allows nothing.
    expect(index!.decide('ingress', '10.244.0.7', 9092, 256, { method: 'GET', path: '/', authority: 'x', headers: {} }).allowed).toBe(false);
  });

  it('refuses a Kafka rule Cilium would refuse, with its message', () => {
    const bad = L7PolicyIndex.compile([{ name: '10.244.0.8', ingress_per_port_policies: [{ port: 9092, rules: [{ kafka_rules: { kafka_rules: [{ role: 'produce', api_key: 'fetch' }] } }] }] }]);
    expect(bad.index).toBeUndefined();
    expect(bad.errors.map((e) => e.message)).toEqual(['cannot set both Role "produce" and APIKey "fetch" together']);
  });
});

describe('L7PolicyIndex header matches with an SDS secret (value_sds_secret)', () => {
  const policy = (match: Record<string, string>) => [
    { name: '10.244.0.5', ingress_per_port_policies: [{ port: 80, rules: [{ http_rules: { http_rules: [{ path: '/pay', header_matches: [{ name: 'x-token', ...match }] }] }, origins: ['CNP pay'] }] }] },
  ];
  const decide = (index: L7PolicyIndex | undefined, token?: string) =>
    index!.decide('ingress', '10.244.0.5', 80, 256, request('/pay', 'GET', token === undefined ? {} : { 'x-token': token }));

  it('compares the header with the secret the proxy holds under that name, not with anything in NPDS', () => {
    const { index } = L7PolicyIndex.compile(policy({ value_sds_secret: 'shop/token' }), (name) => (name === 'shop/token' ? 's3cr3t' : undefined));
    expect(decide(index, 's3cr3t').allowed).toBe(true);
    expect(decide(index, 'nope').allowed).toBe(false);
    expect(decide(index).allowed).toBe(false);
  });

  it('a rotated secret changes the verdict with the same NetworkPolicy', () => {
    let current = 'old';
    const compile = () => L7PolicyIndex.compile(policy({ value_sds_secret: 'shop/token' }), () => current).index;
    const before = compile();
    current = 'new';
    const after = compile();
    expect([decide(before, 'old').allowed, decide(before, 'new').allowed]).toEqual([true, false]);
    expect([decide(after, 'old').allowed, decide(after, 'new').allowed]).toEqual([false, true]);
  });

  it('a secret the proxy does not have falls back to the inline value, and without one never matches (fail closed)', () => {
    const withInline = L7PolicyIndex.compile(policy({ value_sds_secret: 'shop/gone', value: 'inline' })).index;
    expect(decide(withInline, 'inline').allowed).toBe(true);
    const without = L7PolicyIndex.compile(policy({ value_sds_secret: 'shop/gone' })).index;
    expect(decide(without, '').allowed).toBe(false);
    expect(decide(without).allowed).toBe(false);
    expect(decide(without, 'anything').allowed).toBe(false);
  });

  it('a LOG mismatch names the header for the access log, never the secret value', () => {
    const { index } = L7PolicyIndex.compile(policy({ value_sds_secret: 'shop/token', mismatch: 'LOG' }), () => 's3cr3t');
    const decision = decide(index, 'wrong');
    expect(decision).toMatchObject({ allowed: true, mismatchedHeaders: ['x-token'] });
    expect(JSON.stringify(decision)).not.toContain('s3cr3t');
  });
});
