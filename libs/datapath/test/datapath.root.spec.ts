import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { eventually } from '@tendril/testing';
import { lookupPolicyMap, type PacketKey, type PolicyMapEntry } from '@tendril/policy';
import { connectFromProxy, createTransparentListenerFd, Datapath, ifindexOf, NativeUdpSocket, sendUdpFrom, type DropCounts, type UdpDatagram } from '../src';
import { BpfMap } from '../src/bpf-map';
import { ConntrackMap, type TrackedConnection } from '../src/maps/conntrack';
import { loadNative } from '../src/native';
import { createCgroup, moveToCgroup, removeLeftovers, sh, TestPod } from './pod-harness';

/*
 * The tc programs against real packets: two pods in network namespaces behind host-side veths,
 * policy written through the typed map writers, reachability probed with real TCP/UDP/ICMP.
 */
const root = process.getuid?.() === 0;
// Each probe that must fail waits out its timeout; a busy shared machine makes tc/bpftool slow too.
jest.setTimeout(20_000);
if (!root) console.warn('datapath root tests skipped: loading BPF programs and creating network namespaces needs root');

const PIN_DIR = `/sys/fs/bpf/tdp-${process.pid}`;
const GATEWAY = '10.213.77.1';
const A = { ip: '10.213.77.10', endpointId: 101, identity: 1001 };
const B = { ip: '10.213.77.20', endpointId: 102, identity: 1002 };
const HOST_IDENTITY = 1;
const BLOCKED_TIMEOUT_MS = 400;

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMP_ECHO_REQUEST = 8;

function entry(fields: Partial<PolicyMapEntry> & Pick<PolicyMapEntry, 'direction'>): PolicyMapEntry {
  return { identity: 0, protocol: 0, port: 0, prefixLength: 0, deny: false, proxyPort: 0, ...fields };
}
const allowAll = (direction: 'ingress' | 'egress'): PolicyMapEntry => entry({ direction });
const allowTcp = (identity: number, port: number, direction: 'ingress' | 'egress' = 'ingress'): PolicyMapEntry =>
  entry({ direction, identity, protocol: TCP, port, prefixLength: 24 });

(root ? describe : describe.skip)('eBPF datapath on pod veths (needs root)', () => {
  let datapath: Datapath;
  let podA: TestPod;
  let podB: TestPod;
  let cgroup: string;

  const drops = (): DropCounts => datapath.drops.read();
  const expectReach = async (from: TestPod, proto: 'tcp' | 'udp', to: string, port: number): Promise<void> => {
    const result = await from.probe(proto, to, port);
    expect({ to: `${proto}:${to}:${port}`, ...result }).toMatchObject({ ok: true });
  };
  const expectBlocked = async (from: TestPod, proto: 'tcp' | 'udp', to: string, port: number): Promise<void> => {
    const result = await from.probe(proto, to, port, BLOCKED_TIMEOUT_MS);
    expect({ to: `${proto}:${to}:${port}`, ...result }).toMatchObject({ ok: false, detail: 'timeout' });
  };

  beforeAll(async () => {
    await removeLeftovers();
    podA = await TestPod.create({ name: 'a', ip: A.ip, gateway: GATEWAY, tcpPorts: [8080], udpPorts: [] });
    podB = await TestPod.create({ name: 'b', ip: B.ip, gateway: GATEWAY, tcpPorts: [80, 8080, 8081, 9090], udpPorts: [5353, 5354] });
    // Only pod A's sockets get the socket load balancer: the test does not touch the machine's other sockets.
    cgroup = await createCgroup(String(process.pid));
    await moveToCgroup(cgroup, podA.pid);
    datapath = await Datapath.open({ pinDir: PIN_DIR, cgroupPath: cgroup });
    for (const [pod, info] of [[podA, A], [podB, B]] as const) await datapath.addEndpoint({ ifname: pod.hostVeth, ...info });
    datapath.ipcache.set(GATEWAY, HOST_IDENTITY);
  }, 60_000);

  afterAll(async () => {
    await datapath?.detachAll().catch(() => undefined);
    await podA?.destroy();
    await podB?.destroy();
    await removeLeftovers();
  }, 30_000);

  it('drops a connection no policy entry matches, and counts it as "policy denied"', async () => {
    datapath.policy.apply(A.endpointId, []);
    datapath.policy.apply(B.endpointId, []);
    const before = drops().policyDenied;
    await expectBlocked(podA, 'tcp', B.ip, 8080);
    expect(drops().policyDenied).toBeGreaterThan(before);
  });

  it('allows exactly the allowed identity and port; replies pass although the replier has no egress entry', async () => {
    datapath.policy.apply(A.endpointId, [allowAll('egress')]);
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)]);
    await expectReach(podA, 'tcp', B.ip, 8080);
    await expectBlocked(podA, 'tcp', B.ip, 9090);
    // B has no egress entry and A no ingress entry, so a connection B opens is dropped: the echo
    // replies above passed only as replies of A's tracked connection.
    await expectBlocked(podB, 'tcp', A.ip, 8080);
  });

  it('enforces the destination pod’s ingress policy on traffic from the host, by the host’s ipcache identity', async () => {
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)]);
    await expect(connectFromHost(B.ip, 8080, BLOCKED_TIMEOUT_MS)).rejects.toThrow('timeout');
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080), allowTcp(HOST_IDENTITY, 8080)]);
    await expect(connectFromHost(B.ip, 8080, 2000)).resolves.toBe('ping');
  });

  it('matches port ranges by prefix: 8080/13 bits covers 8080–8087 only', async () => {
    datapath.policy.apply(B.endpointId, [entry({ direction: 'ingress', identity: A.identity, protocol: TCP, port: 8080, prefixLength: 8 + 13 })]);
    await expectReach(podA, 'tcp', B.ip, 8081);
    await expectBlocked(podA, 'tcp', B.ip, 9090);
  });

  it('a deny entry beats an allow, even a more specific one, and counts as "denied by denylist"', async () => {
    // Any identity, all TCP ports: denied, although A is allowed on 8080 exactly.
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080), entry({ direction: 'ingress', protocol: TCP, prefixLength: 8, deny: true })]);
    const before = drops();
    await expectBlocked(podA, 'tcp', B.ip, 8080);
    const after = drops();
    expect(after.policyDeniedByDenylist).toBeGreaterThan(before.policyDeniedByDenylist);
    expect(after.policyDenied).toBe(before.policyDenied);
  });

  it('the pod’s egress policy applies too: a deny on A’s egress stops a connection B would allow', async () => {
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)]);
    datapath.policy.apply(A.endpointId, [allowAll('egress'), entry({ direction: 'egress', identity: B.identity, deny: true })]);
    await expectBlocked(podA, 'tcp', B.ip, 8080);
    datapath.policy.apply(A.endpointId, [allowAll('egress')]);
    await expectReach(podA, 'tcp', B.ip, 8080);
  });

  it('PolicyMap.verdict reads a packet’s verdict from the kernel’s map as the tc program does (what the node proxy’s L7 load balancer asks)', () => {
    const entries = [
      allowTcp(B.identity, 8080, 'egress'),
      entry({ direction: 'egress', identity: B.identity, protocol: TCP, port: 9088, prefixLength: 8 + 13 }),
      entry({ direction: 'egress', protocol: TCP, port: 80, prefixLength: 24, proxyPort: 15999 }),
      entry({ direction: 'egress', identity: B.identity, protocol: TCP, port: 443, prefixLength: 24, deny: true }),
      entry({ direction: 'egress', protocol: UDP, prefixLength: 8 }),
    ];
    datapath.policy.apply(A.endpointId, entries);
    const packets: PacketKey[] = [
      { identity: B.identity, direction: 'egress', protocol: TCP, port: 8080 },
      { identity: B.identity, direction: 'egress', protocol: TCP, port: 9090 },
      { identity: B.identity, direction: 'egress', protocol: TCP, port: 9100 },
      { identity: B.identity, direction: 'egress', protocol: TCP, port: 80 },
      { identity: 4242, direction: 'egress', protocol: TCP, port: 80 },
      { identity: B.identity, direction: 'egress', protocol: TCP, port: 443 },
      { identity: 4242, direction: 'egress', protocol: UDP, port: 53 },
      { identity: 4242, direction: 'ingress', protocol: TCP, port: 8080 },
    ];
    const verdicts = packets.map((p) => datapath.policy.verdict(A.endpointId, p));
    expect(verdicts).toEqual(packets.map((p) => lookupPolicyMap(entries, p)));
    expect(verdicts.map((v) => v.kind)).toEqual(['allow', 'allow', 'deny', 'redirect', 'redirect', 'deny', 'allow', 'deny']);
    // Back to the egress policy the other tests expect A to have.
    datapath.policy.apply(A.endpointId, [allowAll('egress')]);
  });

  it('enforces UDP per port, and the UDP reply passes', async () => {
    datapath.policy.apply(B.endpointId, [entry({ direction: 'ingress', identity: A.identity, protocol: UDP, port: 5353, prefixLength: 24 })]);
    await expectReach(podA, 'udp', B.ip, 5353);
    await expectBlocked(podA, 'udp', B.ip, 5354);
  });

  it('enforces ICMP by type: echo requests allowed, and their replies pass', async () => {
    const ping = (): Promise<boolean> =>
      sh('ip', ['netns', 'exec', podA.netns, 'ping', '-c', '1', '-W', '1', B.ip]).then(
        () => true,
        () => false,
      );
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)]);
    expect(await ping()).toBe(false);
    datapath.policy.apply(B.endpointId, [entry({ direction: 'ingress', identity: A.identity, protocol: ICMP, port: ICMP_ECHO_REQUEST << 8, prefixLength: 16 })]);
    expect(await ping()).toBe(true);
  });

  it('writes only the deltas: re-applying the same entries writes nothing', () => {
    const entries = [allowTcp(A.identity, 8080), allowTcp(A.identity, 9090), entry({ direction: 'ingress', protocol: UDP, prefixLength: 8 })];
    datapath.policy.apply(B.endpointId, []);
    expect(datapath.policy.apply(B.endpointId, entries)).toEqual({ updated: 3, deleted: 0 });
    const writes = datapath.policy.writes;
    expect(datapath.policy.apply(B.endpointId, entries)).toEqual({ updated: 0, deleted: 0 });
    expect(datapath.policy.writes).toBe(writes);
    // One verdict changed (9090 becomes a deny), one entry gone (UDP), one added (8081).
    const changed = [allowTcp(A.identity, 8080), { ...allowTcp(A.identity, 9090), deny: true }, allowTcp(A.identity, 8081)];
    expect(datapath.policy.apply(B.endpointId, changed)).toEqual({ updated: 2, deleted: 1 });
    expect(datapath.policy.writes).toBe(writes + 3);
    expect(sortEntries(datapath.policy.entries(B.endpointId))).toEqual(sortEntries(changed));
    // Other endpoints' entries are untouched.
    expect(datapath.policy.entries(A.endpointId)).toEqual([allowAll('egress')]);
  });

  it('rejects bad entries with a clear error and leaves the map unchanged', () => {
    const before = datapath.policy.entries(B.endpointId);
    expect(() => datapath.policy.apply(B.endpointId, [entry({ direction: 'ingress', protocol: TCP, port: 80, prefixLength: 25 })])).toThrow(
      /prefixLength must be 0..24/,
    );
    expect(() => datapath.policy.apply(B.endpointId, [entry({ direction: 'ingress', protocol: TCP, port: 81, prefixLength: 20 })])).toThrow(
      /port has bits set past the prefix/,
    );
    expect(() => datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 80), { ...allowTcp(A.identity, 80), deny: true }])).toThrow(
      /two different verdicts/,
    );
    expect(() => datapath.ipcache.set('10.0.0.1/33', 5)).toThrow(/prefix length/);
    expect(() => datapath.ipcache.set('10.0.0.1/8', 5)).toThrow(/host bits/);
    expect(() => datapath.endpoints.set('10.0.0.300', { endpointId: 1, identity: 1, ifindex: 1 })).toThrow(/invalid IPv4 address/);
    expect(datapath.policy.entries(B.endpointId)).toEqual(before);
  });

  it('fails closed: a packet from an IP the endpoint map does not know is dropped', async () => {
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)]);
    const info = datapath.endpoints.get(A.ip);
    expect(info).toBeDefined();
    datapath.endpoints.delete(A.ip);
    try {
      const before = drops().unknownSource;
      await expectBlocked(podA, 'tcp', B.ip, 8080);
      expect(drops().unknownSource).toBeGreaterThan(before);
    } finally {
      datapath.endpoints.set(A.ip, info!);
    }
    await expectReach(podA, 'tcp', B.ip, 8080);
  });

  it('fails closed when a policy write fails: the endpoint loses all its entries and its traffic is dropped', async () => {
    const FILLER_ENDPOINT = 999;
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)]);
    const { max_entries: capacity } = JSON.parse(await sh('bpftool', ['-j', 'map', 'show', 'pinned', `${PIN_DIR}/maps/tendril_policy`])) as {
      max_entries: number;
    };
    const used = datapath.policy.entries(A.endpointId).length + datapath.policy.entries(B.endpointId).length;
    const filler = Array.from({ length: capacity - used }, (_, i) => allowTcp(i + 1, 1));
    datapath.policy.apply(FILLER_ENDPOINT, filler);
    try {
      expect(() => datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080), allowTcp(A.identity, 9090)])).toThrow(
        /writing the policy of endpoint 102 failed, its entries were removed \(all its traffic is dropped\): BPF map update/,
      );
      expect(datapath.policy.entries(B.endpointId)).toEqual([]);
      await expectBlocked(podA, 'tcp', B.ip, 8080);
    } finally {
      datapath.policy.clear(FILLER_ENDPOINT);
    }
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)]);
    await expectReach(podA, 'tcp', B.ip, 8080);
  });

  it('survives an agent restart: reopening and re-attaching keeps the entries and enforcement', async () => {
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)]);
    datapath.close();
    datapath = await Datapath.open({ pinDir: PIN_DIR, cgroupPath: cgroup });
    // Nothing re-written: the pinned maps kept the entries, and the veths run the newly loaded programs.
    const pinned = JSON.parse(await sh('bpftool', ['-j', 'prog', 'show', 'pinned', `${PIN_DIR}/progs/from_container`])) as { id: number };
    const filters = JSON.parse(await sh('tc', ['-j', 'filter', 'show', 'dev', podB.hostVeth, 'ingress'])) as { options?: { prog: { id: number } } }[];
    expect(filters.filter((f) => f.options).map((f) => f.options?.prog.id)).toEqual([pinned.id]);
    await expectReach(podA, 'tcp', B.ip, 8080);
    await expectBlocked(podA, 'tcp', B.ip, 9090);
    // Attaching again is idempotent, and so is re-applying the same policy.
    for (const pod of [podA, podB]) await datapath.attach(pod.hostVeth);
    expect(datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)])).toEqual({ updated: 0, deleted: 0 });
    expect((await datapath.attachedInterfaces()).sort()).toEqual([podA.hostVeth, podB.hostVeth]);
    await expectReach(podA, 'tcp', B.ip, 8080);
  }, 30_000);

  describe('transparent redirect to a proxy listener', () => {
    // Not the node proxy's default 15001: an agent suite on the same host may be listening there.
    const PROXY_PORT = 20_000 + (process.pid % 1000);
    let proxy: Server;
    const seen: { local: string; remote: string; identity: number | undefined }[] = [];
    /** Which proxy the listener plays: it decides the mark of the upstream connection. */
    let direction: 'ingress' | 'egress' = 'ingress';

    beforeAll(async () => {
      const fd = await createTransparentListenerFd(PROXY_PORT);
      proxy = createServer((client: Socket) => {
        const original = { host: client.localAddress!, port: client.localPort! };
        const identity = datapath.ipcache.identityOf(client.remoteAddress!);
        seen.push({ local: `${original.host}:${original.port}`, remote: client.remoteAddress!, identity });
        client.pause();
        connectFromProxy({ ...original, direction, sourceIdentity: identity ?? 2, timeoutMs: 1000 }).then(
          (upstream) => {
            client.pipe(upstream).pipe(client);
            client.resume();
            upstream.on('error', () => client.destroy());
            client.on('error', () => upstream.destroy());
          },
          () => client.destroy(),
        );
      });
      await new Promise<void>((resolve) => proxy.listen({ fd }, resolve));
    });

    afterAll(() => new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve())));

    it('steers the connection to the listener, which sees the original destination and proxies on with the mark', async () => {
      datapath.policy.apply(A.endpointId, [allowAll('egress')]);
      datapath.policy.apply(B.endpointId, [{ ...allowTcp(A.identity, 80), proxyPort: PROXY_PORT }]);
      await expectReach(podA, 'tcp', B.ip, 80);
      expect(seen).toEqual([{ local: `${B.ip}:80`, remote: A.ip, identity: A.identity }]);
    });

    it('egress redirect: the upstream carries the client’s identity, and the destination’s ingress policy is applied to it', async () => {
      direction = 'egress';
      seen.length = 0;
      datapath.policy.apply(A.endpointId, [allowAll('egress'), { ...allowTcp(B.identity, 80, 'egress'), proxyPort: PROXY_PORT }]);
      // B admits A on port 80, not the host the proxy runs in: the proxied connection passes only as A's.
      datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 80)]);
      try {
        await expectReach(podA, 'tcp', B.ip, 80);
        expect(seen).toEqual([{ local: `${B.ip}:80`, remote: A.ip, identity: A.identity }]);
      } finally {
        datapath.policy.apply(A.endpointId, [allowAll('egress')]);
        direction = 'ingress';
      }
    });

    it('host → pod on an L7 ingress port goes around the hairpin to the listener, as the host identity', async () => {
      seen.length = 0;
      datapath.policy.apply(B.endpointId, [{ ...allowTcp(HOST_IDENTITY, 80), proxyPort: PROXY_PORT }]);
      const before = drops().redirectUnsupported;
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = createConnection({ host: B.ip, port: 80 }, () => socket.write('ping\n'));
        const timer = setTimeout(() => {
          socket.destroy();
          reject(new Error('no answer through the hairpin within 3 s'));
        }, 3_000);
        socket.on('data', (d) => {
          clearTimeout(timer);
          socket.destroy();
          resolve(d.toString());
        });
        socket.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      // Pod B's echo server answered through the proxy, which saw the host as the client.
      expect(reply).toBe('ping\n');
      expect(seen).toEqual([{ local: `${B.ip}:80`, remote: GATEWAY, identity: HOST_IDENTITY }]);
      expect(drops().redirectUnsupported).toBe(before);
      expect(await ifindexOf(datapath.hairpin.hostEnd)).toBeGreaterThan(0);
    });

    it('to_container judges egress-proxy traffic by the identity in its mark, not by the proxy’s address', async () => {
      datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 80)]);
      const asA = await connectFromProxy({ host: B.ip, port: 80, direction: 'egress', sourceIdentity: A.identity, timeoutMs: 2000 });
      asA.destroy();
      const before = drops().policyDenied;
      await expect(connectFromProxy({ host: B.ip, port: 80, direction: 'egress', sourceIdentity: 4242, timeoutMs: BLOCKED_TIMEOUT_MS })).rejects.toThrow(
        /not connected within/,
      );
      expect(drops().policyDenied).toBeGreaterThan(before);
    });

    it('UDP redirect: the datagram reaches a transparent UDP socket with its original destination, and an answer sent from that destination reaches the pod', async () => {
      const datagrams: UdpDatagram[] = [];
      const udpProxy = await NativeUdpSocket.open({ address: '127.0.0.1', port: PROXY_PORT + 2, transparent: true }, (d) => {
        datagrams.push(d);
        // Answers as the server the pod asked, as the DNS proxy does; the pod's probe wants its echo.
        void sendUdpFrom(d.payload, d.originalDestination!, d.source);
      });
      try {
        datapath.policy.apply(A.endpointId, [entry({ direction: 'egress', identity: B.identity, protocol: UDP, port: 5353, prefixLength: 24, proxyPort: PROXY_PORT + 2 })]);
        datapath.policy.apply(B.endpointId, [allowAll('ingress')]);
        const result = await podA.probe('udp', B.ip, 5353);
        expect(result.detail).toBe(`echo ping from ${B.ip}:5353`);
        expect(datagrams).toHaveLength(1);
        expect(datagrams[0]).toMatchObject({ originalDestination: { address: B.ip, port: 5353 }, source: { address: A.ip } });
        udpProxy.close();
        const before = drops().proxyUnavailable;
        expect((await podA.probe('udp', B.ip, 5353, BLOCKED_TIMEOUT_MS)).ok).toBe(false);
        expect(drops().proxyUnavailable).toBeGreaterThan(before);
      } finally {
        udpProxy.close();
        datapath.policy.apply(A.endpointId, [allowAll('egress')]);
      }
    });

    it('drops, counted, when the redirect’s proxy port has no listener', async () => {
      datapath.policy.apply(B.endpointId, [{ ...allowTcp(A.identity, 80), proxyPort: PROXY_PORT + 1 }]);
      const before = drops().proxyUnavailable;
      await expectBlocked(podA, 'tcp', B.ip, 80);
      expect(drops().proxyUnavailable).toBeGreaterThan(before);
    });
  });

  describe('ClusterIP load balancing in connect4/sendmsg4/recvmsg4', () => {
    const VIP = '10.213.200.1';
    const tcpFrontend = { vip: VIP, port: 80, protocol: 'TCP' } as const;
    const udpFrontend = { vip: VIP, port: 53, protocol: 'UDP' } as const;

    beforeAll(() => {
      datapath.policy.apply(A.endpointId, [allowAll('egress')]);
    });

    it('a TCP connection to the VIP reaches a backend pod; policy applies to the backend port', async () => {
      datapath.services.set(tcpFrontend, [{ ip: B.ip, port: 8080 }]);
      datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)]);
      await expectReach(podA, 'tcp', VIP, 80);
      datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 80)]);
      await expectBlocked(podA, 'tcp', VIP, 80);
    });

    it('a UDP datagram to the VIP reaches a backend, and the reply shows the VIP as its source', async () => {
      datapath.services.set(udpFrontend, [{ ip: B.ip, port: 5353 }]);
      datapath.policy.apply(B.endpointId, [entry({ direction: 'ingress', identity: A.identity, protocol: UDP, port: 5353, prefixLength: 24 })]);
      expect(await podA.probe('udp', VIP, 53)).toEqual({ ok: true, detail: `echo ping from ${VIP}:53` });
    });

    it('an L7 load-balanced frontend (mesh routes) keeps a pod’s connection on the ClusterIP for the node proxy: dropped, counted, when no proxy listens', async () => {
      // Port 1: no mesh listener anywhere on this host.
      datapath.services.set(tcpFrontend, [{ ip: B.ip, port: 8081 }], 1);
      datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8081)]);
      expect(datapath.services.list().find((s) => s.frontend.port === 80)).toMatchObject({ l7ProxyPort: 1 });
      const before = drops().proxyUnavailable;
      await expectBlocked(podA, 'tcp', VIP, 80);
      expect(drops().proxyUnavailable).toBeGreaterThan(before);
      // Back to the socket LB: the same connect reaches the backend.
      datapath.services.set(tcpFrontend, [{ ip: B.ip, port: 8081 }]);
      expect(datapath.services.list().find((s) => s.frontend.port === 80)?.l7ProxyPort).toBeUndefined();
      await expectReach(podA, 'tcp', VIP, 80);
    });

    it('updates backends in place and lists them; a frontend without backends refuses connects', async () => {
      datapath.services.set(tcpFrontend, [
        { ip: B.ip, port: 8080 },
        { ip: B.ip, port: 8081 },
      ]);
      expect(datapath.services.list()).toEqual([
        { frontend: udpFrontend, backends: [{ ip: B.ip, port: 5353 }] },
        { frontend: tcpFrontend, backends: [{ ip: B.ip, port: 8080 }, { ip: B.ip, port: 8081 }] },
      ]);
      datapath.services.set(tcpFrontend, [{ ip: B.ip, port: 8081 }]);
      expect(datapath.services.list().find((s) => s.frontend.port === 80)?.backends).toEqual([{ ip: B.ip, port: 8081 }]);
      datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8081)]);
      await expectReach(podA, 'tcp', VIP, 80);

      datapath.services.set(tcpFrontend, []);
      expect(await podA.probe('tcp', VIP, 80, BLOCKED_TIMEOUT_MS)).toMatchObject({ ok: false, detail: expect.stringContaining('EPERM') });
      expect(datapath.services.delete(tcpFrontend)).toBe(true);
      expect(datapath.services.delete(tcpFrontend)).toBe(false);
      expect(() => datapath.services.set({ ...tcpFrontend, port: 70000 }, [])).toThrow(/service port/);
    });
  });

  it('conntrack: a finished TCP connection is tracked as closing at its last packet, a UDP flow as open; a GC pass removes each past its lifetime', async () => {
    datapath.policy.apply(A.endpointId, [allowAll('egress')]);
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8081), entry({ direction: 'ingress', identity: A.identity, protocol: UDP, port: 5354, prefixLength: 24 })]);
    const before = Date.now();
    await expectReach(podA, 'tcp', B.ip, 8081);
    await expectReach(podA, 'udp', B.ip, 5354);
    const { addon } = await loadNative();
    const ct = ConntrackMap.open((name, keySize, valueSize) => new BpfMap(addon, join(PIN_DIR, 'maps', name), keySize, valueSize));
    try {
      // Earlier tests' connections from A to B:8081 may still be tracked (a closing entry lives 10 s): the newest is this probe's.
      const newest = (port: number): TrackedConnection | undefined =>
        ct
          .list()
          .filter((c) => c.source === A.ip && c.destination === B.ip && c.destinationPort === port)
          .sort((x, y) => y.lastSeenMs - x.lastSeenMs)[0];
      // The probe closes its TCP socket right after the echo: the FIN is seen by then or shortly after.
      const tcp = await eventually(() => {
        const found = newest(8081);
        expect(found).toMatchObject({ protocol: TCP, sourceIdentity: A.identity, open: false });
        return found as TrackedConnection;
      });
      const udp = newest(5354);
      expect(udp).toMatchObject({ protocol: UDP, sourceIdentity: A.identity, open: true });
      for (const c of [tcp, udp as TrackedConnection]) {
        expect(c.lastSeenMs).toBeGreaterThanOrEqual(before - 1_000);
        expect(c.lastSeenMs).toBeLessThanOrEqual(Date.now() + 1_000);
      }
      // A pass now keeps both; one 11 s later drops the closing TCP entry only, one 61 s later the UDP one too.
      const keeps = (c: { destinationPort: number }[], port: number): boolean => c.some((x) => x.destinationPort === port);
      const mono = process.hrtime.bigint();
      const now = Date.now();
      expect(keeps(ct.collect(mono, now), 8081)).toBe(true);
      const later = ct.collect(mono + 11_000_000_000n, now + 11_000);
      expect([keeps(later, 8081), keeps(later, 5354)]).toEqual([false, true]);
      expect(keeps(ct.collect(mono + 61_000_000_000n, now + 61_000), 5354)).toBe(false);
      expect(ct.list().some((c) => c.source === A.ip && (c.destinationPort === 8081 || c.destinationPort === 5354))).toBe(false);
    } finally {
      ct.close();
    }
  });

  it('removeEndpoint detaches the pod’s veth and removes its endpoint, ipcache and policy entries', async () => {
    datapath.policy.apply(B.endpointId, [allowTcp(A.identity, 8080)]);
    expect(datapath.endpoints.get(B.ip)).toEqual({ endpointId: B.endpointId, identity: B.identity, ifindex: await ifindexOf(podB.hostVeth) });
    await datapath.removeEndpoint({ ifname: podB.hostVeth, ...B });
    expect(await datapath.attachedInterfaces()).toEqual([podA.hostVeth]);
    expect(datapath.endpoints.get(B.ip)).toBeUndefined();
    expect(datapath.ipcache.identityOf(B.ip)).toBeUndefined();
    expect(datapath.policy.entries(B.endpointId)).toEqual([]);
    expect(datapath.endpoints.list().map((e) => e.ip)).toEqual([A.ip]);
  });

  it('detachAll removes the programs, the pins and the proxy route (kept while another datapath on the host uses it): traffic is no longer filtered', async () => {
    datapath.policy.apply(B.endpointId, []);
    // Other suites running on this host load datapaths of their own under /sys/fs/bpf.
    const othersLoaded = (await sh('sh', ['-c', `ls -d /sys/fs/bpf/*/progs/from_container 2>/dev/null | grep -v '^${PIN_DIR}/' || true`])).trim() !== '';
    await datapath.detachAll();
    expect(await sh('tc', ['filter', 'show', 'dev', podB.hostVeth, 'ingress']).catch(() => '')).toBe('');
    expect((await sh('ip', ['rule', 'show', 'fwmark', '0x200/0xf00'])) !== '').toBe(othersLoaded);
    expect(JSON.parse((await sh('bpftool', ['-j', 'cgroup', 'show', cgroup])).trim() || '[]')).toEqual([]);
    await expect(sh('ls', [PIN_DIR])).rejects.toThrow();
    await expectReach(podA, 'tcp', B.ip, 9090);
  });
});

function sortEntries(entries: PolicyMapEntry[]): PolicyMapEntry[] {
  return [...entries].sort((a, b) => a.port - b.port || a.prefixLength - b.prefixLength);
}

async function connectFromHost(host: string, port: number, timeoutMs: number): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => socket.write('ping'));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    socket.once('data', (data) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString());
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
