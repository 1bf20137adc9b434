import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { eventually } from '@tendril/testing';
import type { DnsProxyRecord } from '@tendril/endpoints';
import type { EndpointView } from '../src';
import { deployment, NetnsAgentNode, sh } from './netns-agent';

/*
 * DNS-aware egress policy end to end, as root (policy-semantics.md §5.2, §8 case 24): an Agent runs
 * a small authoritative DNS server and client pods in network namespaces with the eBPF datapath.
 * The client's egress policy allows DNS to the server only for `*.example.com`; real `dig` inside
 * the client's namespace asks the server's pod IP, the datapath steers the query to the agent's
 * DNS proxy, which forwards allowed names to the server and answers the rest REFUSED itself.
 */
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('DNS policy end to end skipped: network namespaces and eBPF programs need root');

jest.setTimeout(240_000);

/**
 * Answers A queries under example.com with process.argv[2], over UDP and over TCP (length-prefixed,
 * RFC 1035 §4.2.2); a TXT query for `seen.test` lists the names it was asked for, with `tcp:` before
 * those asked over TCP.
 */
const DNS_SERVER = `const dns = require(process.argv[1]); const seen = [];
const answer = (m, transport) => {
  let q; try { q = dns.decode(m); } catch { return undefined; }
  const question = q.questions[0];
  const answers = [];
  if (question.name === 'seen.test') answers.push({ type: 'TXT', name: question.name, ttl: 0, data: seen.join(',') || '-' });
  else { seen.push((transport === 'tcp' ? 'tcp:' : '') + question.name); if (question.type === 'A' && /(^|\\.)example\\.com$/.test(question.name)) answers.push({ type: 'A', name: question.name, ttl: +process.argv[3], data: process.argv[2] }); }
  return dns.encode({ type: 'response', id: q.id, flags: dns.AUTHORITATIVE_ANSWER | (q.flags & dns.RECURSION_DESIRED), questions: q.questions, answers });
};
const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => { const a = answer(m, 'udp'); if (a) s.send(a, r.port, r.address); });
s.bind(53);
require('net').createServer((c) => {
  let buf = Buffer.alloc(0);
  c.on('error', () => {});
  c.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const a = answer(buf.subarray(2, 2 + buf.readUInt16BE(0)), 'tcp');
      buf = buf.subarray(2 + buf.readUInt16BE(0));
      if (a) { const len = Buffer.alloc(2); len.writeUInt16BE(a.length); c.write(Buffer.concat([len, a])); }
    }
  });
}).listen(53);`;

/** A host outside the cluster (its own network namespace behind a veth, routed by the node), answering TCP on 443 and 80, and echoing on 9000. */
const suffix = randomBytes(2).toString('hex');
const ANSWER_IP = `198.18.${randomBytes(1)[0]!}.${1 + (randomBytes(1)[0]! % 250)}`;
const EXTERNAL = { netns: `tdlt-dnsext-${suffix}`, hostSide: `tdx${suffix}h`, nsSide: `tdx${suffix}n` };
const EXTERNAL_SERVER = `for (const port of [443, 80]) require('net').createServer((c) => c.end('hello from ' + port)).listen(port);
require('net').createServer((c) => { c.on('error', () => {}); c.pipe(c); }).listen(9000);`;
/** A long-lived connection from inside a pod to the echo port: prints "connected", "echo" per answer, "closed" or "error <code>" at the end. */
const HOLD_CONNECTION = `const c = require('net').connect(9000, process.argv[1], () => console.log('connected'));
c.on('data', () => console.log('echo'));
c.on('error', (e) => { console.log('error ' + e.code); process.exit(0); });
c.on('close', () => { console.log('closed'); process.exit(0); });
setInterval(() => c.write('ping'), 200);`;
/** One TCP connect from inside a pod: the server's greeting, "timeout" (dropped) or "error <code>". */
const CONNECT = `const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, 1500);
const c = require('net').connect(+process.argv[2], process.argv[1]); let got = '';
c.on('data', (d) => (got += d)); c.on('end', () => { clearTimeout(t); console.log(got); process.exit(0); });
c.on('error', (e) => { clearTimeout(t); console.log('error ' + e.code); process.exit(0); });`;

const clientPolicy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: api-dns, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: api } }
  egress:
    - toEndpoints: [{ matchLabels: { app: dns } }]
      toPorts: [{ ports: [{ port: "53", protocol: ANY }], rules: { dns: [{ matchPattern: "*.example.com" }] } }]
    - toFQDNs: [{ matchPattern: "**.example.com" }]
      toPorts: [{ ports: [{ port: "443", protocol: TCP }, { port: "9000", protocol: TCP }] }]
`;

const FQDN_ONLY_POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: fqdn-only, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: fqdn-only } }
  egress:
    - toFQDNs: [{ matchPattern: "**.example.com" }]
      toPorts: [{ ports: [{ port: "443", protocol: TCP }] }]
`;

/** The DNS server's TTL for its A answers: short, so the test sees the learned address expire. */
const TTL_SECONDS = 6;

interface DigResult {
  readonly status: string;
  readonly answers: readonly string[];
}

/**
 * Real dig in the pod's namespace (over TCP with `tcp`): the header's status and the answer section's
 * addresses, or status 'timeout'. It waits 5 s: the proxy holds an allowed answer until the datapath
 * has its addresses, which takes a reconciliation, slow on a loaded machine.
 */
async function dig(from: EndpointView, server: string, name: string, options: { tcp?: boolean } = {}): Promise<DigResult> {
  // dig exits 9 when no server answered; its stdout says so either way.
  const out = await new Promise<string>((resolve, reject) =>
    execFile('ip', ['netns', 'exec', from.netns!, 'dig', `@${server}`, name, 'A', '+tries=1', '+time=5', '+noedns', ...(options.tcp ? ['+tcp'] : [])], { timeout: 20_000 }, (err, stdout, stderr) =>
      err && !stdout ? reject(new Error(`dig ${name} in ${from.name}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
  if (/timed out|no servers could be reached|communications error|connection refused/.test(out)) return { status: 'timeout', answers: [] };
  const status = /status: (\w+)/.exec(out)?.[1] ?? 'unparsed';
  const answers = out
    .split('\n')
    .filter((l) => /\sIN\s+A\s/.test(l) && !l.startsWith(';'))
    .map((l) => l.trim().split(/\s+/).pop()!);
  return { status, answers };
}

/** Asks the DNS server directly from the host (no policy on that path) which names reached it. */
async function namesTheServerSaw(server: string): Promise<string[]> {
  const socket = createSocket('udp4');
  try {
    const answer = await new Promise<dnsPacket.DecodedPacket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the DNS server did not answer')), 3_000);
      socket.on('message', (m) => {
        clearTimeout(timer);
        resolve(dnsPacket.decode(m));
      });
      socket.send(dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'TXT', name: 'seen.test' }] }), 53, server);
    });
    const txt = answer.answers?.[0] as { data: Buffer[] } | undefined;
    const text = Buffer.concat(txt?.data ?? []).toString();
    return text === '-' ? [] : text.split(',');
  } finally {
    socket.close();
  }
}

(isRoot ? describe : describe.skip)('DNS proxy and toFQDNs (needs root)', () => {
  const node = new NetnsAgentNode('dns');
  const records: DnsProxyRecord[] = [];
  const podOf = async (app: string): Promise<EndpointView> => (await node.enforcedPods(app, 1))[0]!;

  let externalServer: ChildProcess | undefined;
  const connect = async (from: EndpointView, port: number): Promise<string> =>
    (await sh('ip', ['netns', 'exec', from.netns!, process.execPath, '-e', CONNECT, ANSWER_IP, String(port)])).trim();

  beforeAll(async () => {
    await sh('ip', ['netns', 'add', EXTERNAL.netns]);
    await sh('ip', ['link', 'add', EXTERNAL.hostSide, 'type', 'veth', 'peer', 'name', EXTERNAL.nsSide, 'netns', EXTERNAL.netns]);
    await sh('ip', ['link', 'set', EXTERNAL.hostSide, 'up']);
    await sh('sysctl', ['-qw', `net.ipv4.conf.${EXTERNAL.hostSide}.proxy_arp=1`]);
    await sh('ip', ['route', 'add', `${ANSWER_IP}/32`, 'dev', EXTERNAL.hostSide]);
    for (const args of [['addr', 'add', `${ANSWER_IP}/32`, 'dev', EXTERNAL.nsSide], ['link', 'set', EXTERNAL.nsSide, 'up'], ['link', 'set', 'lo', 'up'], ['route', 'add', 'default', 'dev', EXTERNAL.nsSide]]) {
      await sh('ip', ['netns', 'exec', EXTERNAL.netns, 'ip', ...args]);
    }
    externalServer = spawn('ip', ['netns', 'exec', EXTERNAL.netns, process.execPath, '-e', EXTERNAL_SERVER], { stdio: 'ignore' });
    node.joinCgroup();
    node.write(
      'apps.yaml',
      [
        deployment('dns', [process.execPath, '-e', DNS_SERVER, require.resolve('dns-packet'), ANSWER_IP, String(TTL_SECONDS)]),
        deployment('api', ['sleep', 'infinity']),
        deployment('fqdn-only', ['sleep', 'infinity']),
      ].join('---\n'),
    );
    node.write('policy.yaml', clientPolicy);
    // Expired toFQDNs addresses waiting for their connections (zombies) are re-checked every second.
    await node.startAgent({ onDnsRecord: (r) => records.push(r), fqdnConntrackCheckIntervalMs: 1_000 });
    // A ready pod's process may still be starting on a loaded machine: wait until the DNS server answers (from the host, no proxy on that path).
    const server = await podOf('dns');
    await eventually(() => namesTheServerSaw(server.ip), 60_000, 500);
  });

  afterAll(async () => {
    externalServer?.kill();
    await sh('ip', ['link', 'del', EXTERNAL.hostSide]).catch(() => undefined);
    await sh('ip', ['netns', 'del', EXTERNAL.netns]).catch(() => undefined);
    await node.cleanup();
  });

  it('§8 case 24: an allowed name is answered by the server; a.b.example.com and example.com are REFUSED by the proxy and never reach the server', async () => {
    const server = await podOf('dns');
    const client = await podOf('api');
    // Before any lookup the address is just the world, which the client's policy does not allow.
    expect(await connect(client, 443)).toBe('timeout');
    const allowed = await eventually(async () => {
      const got = await dig(client, server.ip, 'api.example.com');
      expect(got.status).toBe('NOERROR');
      return got;
    }, 20_000, 200);
    expect(allowed.answers).toEqual([ANSWER_IP]);
    expect(await dig(client, server.ip, 'a.b.example.com')).toEqual({ status: 'REFUSED', answers: [] });
    expect(await dig(client, server.ip, 'example.com')).toEqual({ status: 'REFUSED', answers: [] });
    expect(await namesTheServerSaw(server.ip)).toEqual(['api.example.com']);
    // The proxy's decisions name the pod, the server it asked and why a name was refused.
    expect(records.filter((r) => r.name !== 'api.example.com' || r.verdict === 'forwarded').slice(-3)).toEqual([
      expect.objectContaining({ pod: `default/${client.name}`, server: `${server.ip}:53`, name: 'api.example.com', verdict: 'forwarded', rcode: 'NOERROR' }),
      expect.objectContaining({ name: 'a.b.example.com', verdict: 'refused', reason: 'no DNS rule matches "a.b.example.com"' }),
      expect.objectContaining({ name: 'example.com', verdict: 'refused' }),
    ]);
  });

  it('§8 case 24 toFQDNs: the learned address opens on 443 only, only once resolved, for every pod whose toFQDNs selects it on the node, until the TTL runs out', async () => {
    const server = await podOf('dns');
    const client = await podOf('api');
    const other = await podOf('fqdn-only');
    node.write('fqdn-only.yaml', FQDN_ONLY_POLICY);
    // Wait out what the first test learned: after the TTL the address is dropped again.
    await eventually(async () => expect(await connect(client, 443)).toBe('timeout'), (TTL_SECONDS + 10) * 1000, 500);
    expect(await connect(other, 443)).toBe('timeout');
    const answer = await dig(client, server.ip, 'www.example.com');
    expect(answer).toEqual({ status: 'NOERROR', answers: [ANSWER_IP] });
    // The answer was held until the datapath had the address: the very next connect goes through.
    expect(await connect(client, 443)).toBe('hello from 443');
    // Node-wide: the pod that never asked (it has no DNS rule at all) reaches it too. (Checked before
    // the slow timeout probe below: on a loaded machine the short TTL could run out first.)
    expect(await connect(other, 443)).toBe('hello from 443');
    const ipcache = ((await (await fetch(`http://${node.adminAddress}/api/v1/bpf/ipcache`)).json()) as { items: { cidr: string; labels: string[] }[] }).items;
    expect(ipcache.find((e) => e.cidr === `${ANSWER_IP}/32`)?.labels).toEqual(['fqdn:matchPattern:**.example.com']);
    expect(await connect(client, 80)).toBe('timeout');
    await eventually(async () => expect(await connect(client, 443)).toBe('timeout'), (TTL_SECONDS + 10) * 1000, 500);
    expect(await connect(other, 443)).toBe('timeout');
  });

  it('a pod without a DNS rule gets no DNS at all (egress default-deny drops the query in the datapath)', async () => {
    const server = await podOf('dns');
    const other = await podOf('fqdn-only');
    node.write('fqdn-only.yaml', FQDN_ONLY_POLICY);
    await eventually(async () => expect((await dig(other, server.ip, 'api.example.com')).status).toBe('timeout'), 20_000, 200);
  });

  it('DNS over TCP (dig +tcp): an allowed name is answered by the server over TCP, a denied one REFUSED by the proxy on the connection; the answer opens toFQDNs', async () => {
    const server = await podOf('dns');
    const client = await podOf('api');
    // Wait out what earlier tests learned, so only the TCP lookup can open the address.
    await eventually(async () => expect(await connect(client, 443)).toBe('timeout'), (TTL_SECONDS + 10) * 1000, 500);
    expect(await dig(client, server.ip, 'tcp.example.com', { tcp: true })).toEqual({ status: 'NOERROR', answers: [ANSWER_IP] });
    // Learned exactly as from a UDP answer, and in the datapath before dig got the answer.
    expect(await connect(client, 443)).toBe('hello from 443');
    expect(await dig(client, server.ip, 'x.y.example.com', { tcp: true })).toEqual({ status: 'REFUSED', answers: [] });
    const seen = await namesTheServerSaw(server.ip);
    expect(seen).toContain('tcp:tcp.example.com');
    expect(seen.filter((n) => n.endsWith('x.y.example.com'))).toEqual([]);
    expect(records.filter((r) => r.name === 'tcp.example.com' || r.name === 'x.y.example.com')).toEqual([
      expect.objectContaining({ pod: `default/${client.name}`, transport: 'TCP', server: `${server.ip}:53`, name: 'tcp.example.com', verdict: 'forwarded', rcode: 'NOERROR' }),
      expect.objectContaining({ transport: 'TCP', name: 'x.y.example.com', verdict: 'refused', reason: 'no DNS rule matches "x.y.example.com"' }),
    ]);
  });

  it('an expired address stays allowed while the pod that resolved it keeps a connection to it (Cilium’s DNS zombies), and closes once that connection ended', async () => {
    const server = await podOf('dns');
    const client = await podOf('api');
    // The agent's toFQDNs cache, as `cilium fqdn cache list` shows Cilium's.
    const fqdnCache = async (): Promise<{ lookups: { pod: string; name: string; address: string }[]; zombies: { pod: string; address: string; names: string[] }[] }> =>
      (await (await fetch(`http://${node.adminAddress}/api/v1/fqdn/cache`)).json()) as never;
    await eventually(async () => expect(await connect(client, 443)).toBe('timeout'), (TTL_SECONDS + 10) * 1000, 500);
    expect(await dig(client, server.ip, 'db.example.com')).toEqual({ status: 'NOERROR', answers: [ANSWER_IP] });
    expect((await fqdnCache()).lookups).toContainEqual(expect.objectContaining({ pod: `default/${client.name}`, name: 'db.example.com.', address: ANSWER_IP }));
    const lines: string[] = [];
    const holder = spawn('ip', ['netns', 'exec', client.netns!, process.execPath, '-e', HOLD_CONNECTION, ANSWER_IP], { stdio: ['ignore', 'pipe', 'ignore'] });
    holder.stdout.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
    try {
      await eventually(() => expect(lines).toContain('echo'), 10_000, 100);
      // The TTL runs out: the address becomes a zombie of the pod instead of being removed.
      await eventually(async () => expect((await fqdnCache()).zombies).toEqual([expect.objectContaining({ pod: `default/${client.name}`, address: ANSWER_IP, names: ['db.example.com.'] })]), (TTL_SECONDS + 10) * 1000, 200);
      // The connection keeps flowing, and the address stays allowed while it does.
      const echoes = lines.length;
      await eventually(() => expect(lines.length).toBeGreaterThan(echoes + 3), 10_000, 100);
      expect(lines).not.toContain('closed');
      expect(await connect(client, 443)).toBe('hello from 443');
    } finally {
      holder.kill();
    }
    // The connection ended: the next conntrack check removes the zombie and the address closes.
    await eventually(async () => expect(await connect(client, 443)).toBe('timeout'), 15_000, 500);
    expect((await fqdnCache()).zombies).toEqual([]);
  });

  it('a malformed datagram to port 53 gets FORMERR from the proxy; the proxy keeps serving', async () => {
    const server = await podOf('dns');
    const client = await podOf('api');
    const SEND_GARBAGE = `const s = require('dgram').createSocket('udp4');
const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, 2000);
s.on('message', (m) => { clearTimeout(t); console.log(m.readUInt16BE(0) + ' rcode ' + (m.readUInt16BE(2) & 15)); process.exit(0); });
s.send(Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), 53, process.argv[1]);`;
    // Retried: in one full run the first such datagram went unanswered within 2 s; the cause is not understood yet.
    await eventually(async () => expect((await sh('ip', ['netns', 'exec', client.netns!, process.execPath, '-e', SEND_GARBAGE, server.ip])).trim()).toBe(`${0x1234} rcode 1`), 15_000, 200);
    expect(records.some((r) => r.verdict === 'formerr' && r.pod === `default/${client.name}`)).toBe(true);
    expect((await dig(client, server.ip, 'www.example.com')).status).toBe('NOERROR');
  });
});
