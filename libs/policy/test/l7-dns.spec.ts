/** DNS rule names and patterns (policy-semantics.md §5.1), as the DNS proxy and toFQDNs match them. */
import { DnsRules, dnsPatternRegex, normalizeDnsName } from '../src';

describe('DNS names and patterns', () => {
  it('normalises names: lower case, fully qualified', () => {
    expect(normalizeDnsName('API.Example.COM')).toBe('api.example.com.');
    expect(normalizeDnsName('example.com.')).toBe('example.com.');
  });

  it('matchName is equality after normalisation', () => {
    const rules = new DnsRules([{ matchName: 'api.example.com' }]);
    expect(['api.example.com', 'API.EXAMPLE.COM.', 'api.example.com.'].map((n) => rules.allows(n))).toEqual([true, true, true]);
    expect(['www.api.example.com', 'api.example.co', 'api-example.com'].map((n) => rules.allows(n))).toEqual([false, false, false]);
  });

  it.each<[string, string[], string[]]>([
    ['*', ['example.com', 'a.b.c.d', '.'], []],
    ['*.', ['example.com.'], []],
    ['*.example.com', ['www.example.com', 'api-1.example.com'], ['example.com', 'a.b.example.com', 'wwwexample.com']],
    ['**.example.com', ['a.example.com', 'a.b.example.com'], ['example.com', 'aexample.com']],
    ['*example.com', ['example.com', 'myexample.com'], ['www.example.com', 'example.co']],
    ['api-*.svc.local', ['api-1.svc.local', 'api-.svc.local'], ['api.svc.local', 'web-1.svc.local', 'api-1.x.svc.local']],
    ['sub.*.example.com', ['sub.x.example.com'], ['sub.x.y.example.com', 'sub.example.com']],
    ['**.', ['a.', 'a.b.'], []],
  ])('matchPattern %j', (pattern, matching, notMatching) => {
    const rules = new DnsRules([{ matchPattern: pattern }]);
    for (const name of matching) expect({ pattern, name, allowed: rules.allows(name) }).toEqual({ pattern, name, allowed: true });
    for (const name of notMatching) expect({ pattern, name, allowed: rules.allows(name) }).toEqual({ pattern, name, allowed: false });
  });

  it('dots are literal and regex characters in names cannot widen a pattern', () => {
    expect(dnsPatternRegex('a.b')).toBe('a\\.b\\.');
    expect(new DnsRules([{ matchPattern: 'a.b' }]).allows('axb')).toBe(false);
  });

  it('any rule allowing the name allows the query; no rule, no query', () => {
    const rules = new DnsRules([{ matchName: 'a.example' }, { matchPattern: '*.b.example' }]);
    expect([rules.allows('a.example'), rules.allows('x.b.example'), rules.allows('c.example')]).toEqual([true, true, false]);
    expect(new DnsRules([]).allows('a.example')).toBe(false);
  });
});
