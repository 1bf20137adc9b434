/** The node's toFQDNs DNS cache (§5.3): which names each address was answered for, and until when. */
import { FqdnCache } from '../src';

const T0 = 1_000_000;

describe('FqdnCache', () => {
  it('records A answers under the answered and the asked name (CNAME chains), normalised, until their TTL', () => {
    const cache = new FqdnCache();
    const changed = cache.record(
      {
        questions: [{ name: 'WWW.Example.com' }],
        answers: [
          { type: 'CNAME', name: 'www.example.com', ttl: 60, data: 'edge.cdn.net' },
          { type: 'A', name: 'edge.cdn.net', ttl: 5, data: '198.18.0.1' },
          { type: 'AAAA', name: 'edge.cdn.net', ttl: 5, data: '2001:db8::1' },
        ],
      },
      T0,
    );
    expect(changed).toBe(true);
    expect(cache.addresses()).toEqual(new Map([['198.18.0.1', ['edge.cdn.net.', 'www.example.com.']]]));
    expect(cache.nextExpiry()).toBe(T0 + 5_000);
    // The same answer again changes nothing; a longer TTL does.
    expect(cache.record({ answers: [{ type: 'A', name: 'edge.cdn.net', ttl: 5, data: '198.18.0.1' }] }, T0)).toBe(false);
    expect(cache.record({ answers: [{ type: 'A', name: 'edge.cdn.net', ttl: 50, data: '198.18.0.1' }] }, T0)).toBe(true);
    expect(cache.expire(T0 + 5_000)).toBe(true);
    expect(cache.addresses()).toEqual(new Map([['198.18.0.1', ['edge.cdn.net.']]]));
    expect(cache.expire(T0 + 50_000)).toBe(true);
    expect(cache.addresses().size).toBe(0);
    expect(cache.nextExpiry()).toBeUndefined();
  });

  it('a minimum TTL keeps zero-TTL answers; answers without usable addresses are ignored', () => {
    const cache = new FqdnCache(2);
    expect(cache.record({ answers: [{ type: 'A', name: 'a.example.com', ttl: 0, data: '198.18.0.2' }] }, T0)).toBe(true);
    expect(cache.nextExpiry()).toBe(T0 + 2_000);
    expect(cache.record({ answers: [{ type: 'A', name: 'b.example.com', ttl: 9, data: 'not-an-ip' }, { type: 'A', name: 'c.example.com', ttl: 9 }] }, T0)).toBe(false);
    expect(cache.record({}, T0)).toBe(false);
  });
});
