/**
 * The toFQDNs DNS cache (§5.3) with Cilium's knobs: which names each address was answered for, per
 * endpoint, until when; the minimum TTL; the per-name address cap; and the zombies that keep an
 * expired address while a connection to it lives.
 */
import { FqdnCache, type ConnectionActivity } from '../src';

const T0 = 1_000_000;
const API = 'default/api';
const WEB = 'default/web';
const a = (name: string, data: string, ttl: number) => ({ type: 'A', name, ttl, data });
const noConnections = (): ConnectionActivity => undefined;

describe('FqdnCache', () => {
  it('records A answers under the answered and the asked name (CNAME chains), normalised, until their TTL', () => {
    const cache = new FqdnCache();
    const changed = cache.record(
      API,
      {
        questions: [{ name: 'WWW.Example.com' }],
        answers: [{ type: 'CNAME', name: 'www.example.com', ttl: 60, data: 'edge.cdn.net' }, a('edge.cdn.net', '198.18.0.1', 5), { type: 'AAAA', name: 'edge.cdn.net', ttl: 5, data: '2001:db8::1' }],
      },
      T0,
    );
    expect(changed).toBe(true);
    expect(cache.addresses()).toEqual(new Map([['198.18.0.1', ['edge.cdn.net.', 'www.example.com.']]]));
    expect(cache.nextExpiry()).toBe(T0 + 5_000);
    // The same answer again changes nothing; a longer TTL does.
    expect(cache.record(API, { answers: [a('edge.cdn.net', '198.18.0.1', 5)] }, T0)).toBe(false);
    expect(cache.record(API, { answers: [a('edge.cdn.net', '198.18.0.1', 50)] }, T0)).toBe(true);
    expect(cache.expire(T0 + 5_000)).toBe(true);
    expect(cache.collectZombies(T0 + 5_000, noConnections)).toBe(true);
    expect(cache.addresses()).toEqual(new Map([['198.18.0.1', ['edge.cdn.net.']]]));
    cache.expire(T0 + 50_000);
    cache.collectZombies(T0 + 50_000, noConnections);
    expect(cache.addresses().size).toBe(0);
    expect(cache.nextExpiry()).toBeUndefined();
  });

  it('--tofqdns-min-ttl keeps short-TTL answers that long; answers without usable addresses are ignored', () => {
    const cache = new FqdnCache({ minTtlSeconds: 2 });
    expect(cache.record(API, { answers: [a('a.example.com', '198.18.0.2', 0)] }, T0)).toBe(true);
    expect(cache.nextExpiry()).toBe(T0 + 2_000);
    expect(cache.record(API, { answers: [a('b.example.com', 'not-an-ip', 9), { type: 'A', name: 'c.example.com', ttl: 9 }] }, T0)).toBe(false);
    expect(cache.record(API, {}, T0)).toBe(false);
    // A TTL above the minimum is kept as it is.
    cache.record(API, { answers: [a('d.example.com', '198.18.0.3', 60)] }, T0);
    expect(cache.lookupsOf(API).get('d.example.com.')).toEqual(['198.18.0.3']);
    expect(cache.entries()).toEqual([
      { endpoint: API, name: 'a.example.com.', address: '198.18.0.2', expiresMs: T0 + 2_000 },
      { endpoint: API, name: 'd.example.com.', address: '198.18.0.3', expiresMs: T0 + 60_000 },
    ]);
    cache.expire(T0 + 2_000);
    expect(cache.lookupsOf(API).has('a.example.com.')).toBe(false);
    expect(cache.lookupsOf(API).has('d.example.com.')).toBe(true);
  });

  it('--tofqdns-endpoint-max-ip-per-hostname: beyond the cap an endpoint drops the addresses of a name that expire soonest, into the zombies; other endpoints and names keep theirs', () => {
    const cache = new FqdnCache({ maxIpsPerHostname: 2 });
    cache.record(API, { answers: [a('svc.example.com', '198.18.1.1', 10)] }, T0);
    cache.record(API, { answers: [a('svc.example.com', '198.18.1.2', 30)] }, T0);
    cache.record(WEB, { answers: [a('svc.example.com', '198.18.1.1', 10)] }, T0);
    cache.record(API, { answers: [a('svc.example.com', '198.18.1.3', 20)] }, T0);
    expect(cache.lookupsOf(API).get('svc.example.com.')).toEqual(['198.18.1.2', '198.18.1.3']);
    expect(cache.lookupsOf(WEB).get('svc.example.com.')).toEqual(['198.18.1.1']);
    expect(cache.zombies()).toEqual([{ endpoint: API, address: '198.18.1.1', names: ['svc.example.com.'], deletePendingAt: T0, aliveUntil: 0 }]);
    // The evicted address is still selected through WEB's lookup; without a connection, API's zombie goes.
    expect(cache.collectZombies(T0 + 1, noConnections)).toBe(true);
    expect(cache.zombies()).toEqual([]);
    expect([...cache.addresses().keys()]).toEqual(['198.18.1.1', '198.18.1.2', '198.18.1.3']);
    // 0 is no limit, as in Cilium.
    const unlimited = new FqdnCache({ maxIpsPerHostname: 0 });
    for (let i = 1; i <= 60; i++) unlimited.record(API, { answers: [a('many.example.com', `198.18.2.${i}`, 30)] }, T0);
    expect(unlimited.lookupsOf(API).get('many.example.com.')).toHaveLength(60);
  });

  it('the default cap is Cilium’s 50 addresses per name', () => {
    const cache = new FqdnCache();
    for (let i = 1; i <= 51; i++) cache.record(API, { answers: [a('many.example.com', `198.18.3.${i}`, 100 + i)] }, T0);
    expect(cache.lookupsOf(API).get('many.example.com.')).toHaveLength(50);
    expect(cache.zombies().map((z) => z.address)).toEqual(['198.18.3.1']);
  });

  it('an expired address stays while its endpoint has an open connection to it (a zombie), and goes at the first check after the connection ended', () => {
    const cache = new FqdnCache();
    cache.record(API, { answers: [a('db.example.com', '198.18.4.1', 5)] }, T0);
    let connection: ConnectionActivity = 'open';
    const activity = (endpoint: string, address: string): ConnectionActivity => (endpoint === API && address === '198.18.4.1' ? connection : undefined);
    expect(cache.expire(T0 + 5_000)).toBe(true);
    expect(cache.collectZombies(T0 + 5_000, activity)).toBe(false);
    expect(cache.addresses()).toEqual(new Map([['198.18.4.1', ['db.example.com.']]]));
    expect(cache.zombies()).toEqual([{ endpoint: API, address: '198.18.4.1', names: ['db.example.com.'], deletePendingAt: T0 + 5_000, aliveUntil: T0 + 5_000 }]);
    expect(cache.collectZombies(T0 + 60_000, activity)).toBe(false);
    // The connection ended (its last packet at T0 + 61 s); with no grace period the next check removes it.
    connection = T0 + 61_000;
    expect(cache.collectZombies(T0 + 90_000, activity)).toBe(true);
    expect(cache.addresses().size).toBe(0);
  });

  it('a connection of another endpoint does not keep an endpoint’s zombie', () => {
    const cache = new FqdnCache();
    cache.record(API, { answers: [a('db.example.com', '198.18.4.2', 1)] }, T0);
    cache.expire(T0 + 1_000);
    expect(cache.collectZombies(T0 + 1_000, (endpoint) => (endpoint === WEB ? 'open' : undefined))).toBe(true);
    expect(cache.addresses().size).toBe(0);
  });

  it('--tofqdns-idle-connection-grace-period keeps a zombie whose connection was active that recently', () => {
    const cache = new FqdnCache({ idleConnectionGracePeriodMs: 30_000 });
    cache.record(API, { answers: [a('db.example.com', '198.18.5.1', 1)] }, T0);
    cache.expire(T0 + 1_000);
    // The last connection ended at T0 + 10 s: kept until T0 + 40 s.
    const ended = (): ConnectionActivity => T0 + 10_000;
    expect(cache.collectZombies(T0 + 20_000, ended)).toBe(false);
    expect(cache.collectZombies(T0 + 40_000, () => undefined)).toBe(false);
    expect(cache.collectZombies(T0 + 40_001, () => undefined)).toBe(true);
    expect(cache.zombies()).toEqual([]);
  });

  it('looking the name up again brings the address back to life; --tofqdns-max-deferred-connection-deletes caps the zombies, the longest idle going first', () => {
    const cache = new FqdnCache({ maxDeferredConnectionDeletes: 2 });
    for (const i of [1, 2, 3]) cache.record(API, { answers: [a(`n${i}.example.com`, `198.18.6.${i}`, 1)] }, T0);
    cache.expire(T0 + 1_000);
    expect(cache.zombies()).toHaveLength(3);
    const lastSeen: Record<string, number> = { '198.18.6.1': T0 + 3_000, '198.18.6.2': T0 + 1_000, '198.18.6.3': T0 + 2_000 };
    // All three still have connections, but only two may be kept: 198.18.6.2's was idle longest.
    expect(cache.collectZombies(T0 + 2_000, (_e, address) => (address === '198.18.6.2' ? lastSeen[address] : 'open'))).toBe(true);
    expect(cache.zombies().map((z) => z.address).sort()).toEqual(['198.18.6.1', '198.18.6.3']);
    // A new answer for n1 makes 198.18.6.1 a live lookup again.
    cache.record(API, { answers: [a('n1.example.com', '198.18.6.1', 60)] }, T0 + 2_000);
    expect(cache.zombies().map((z) => z.address)).toEqual(['198.18.6.3']);
    expect(cache.lookupsOf(API).get('n1.example.com.')).toEqual(['198.18.6.1']);
  });

  it('forgets the lookups and zombies of endpoints that are gone', () => {
    const cache = new FqdnCache();
    cache.record(API, { answers: [a('x.example.com', '198.18.7.1', 60)] }, T0);
    cache.record(WEB, { answers: [a('y.example.com', '198.18.7.2', 1)] }, T0);
    cache.expire(T0 + 1_000);
    expect(cache.retainEndpoints(new Set([API]))).toBe(true);
    expect(cache.addresses()).toEqual(new Map([['198.18.7.1', ['x.example.com.']]]));
    expect(cache.zombies()).toEqual([]);
  });

  it('refuses knob values Cilium would not take, naming the flag', () => {
    expect(() => new FqdnCache({ minTtlSeconds: -1 })).toThrow('--tofqdns-min-ttl must be a non-negative number, not -1');
    expect(() => new FqdnCache({ maxIpsPerHostname: 1.5 })).toThrow('--tofqdns-endpoint-max-ip-per-hostname must be a non-negative integer, not 1.5');
    expect(() => new FqdnCache({ idleConnectionGracePeriodMs: Number.NaN })).toThrow('--tofqdns-idle-connection-grace-period must be a non-negative number');
  });
});
