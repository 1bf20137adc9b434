import { execFile } from 'node:child_process';
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

/** Answers A queries under example.com with process.argv[2]; a TXT query for `seen.test` lists the names it was asked for. */
const DNS_SERVER = `const dns = require(process.argv[1]); const seen = [];
const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => {
  let q; try { q = dns.decode(m); } catch { return; }
  const question = q.questions[0];
  const answers = [];
  if (question.name === 'seen.test') answers.push({ type: 'TXT', name: question.name, ttl: 0, data: seen.join(',') || '-' });
  else { seen.push(question.name); if (question.type === 'A' && /(^|\\.)example\\.com$/.test(question.name)) answers.push({ type: 'A', name: question.name, ttl: 30, data: process.argv[2] }); }
  s.send(dns.encode({ type: 'response', id: q.id, flags: dns.AUTHORITATIVE_ANSWER | (q.flags & dns.RECURSION_DESIRED), questions: q.questions, answers }), r.port, r.address);
});
s.bind(53);`;

const ANSWER_IP = '192.0.2.44';

const clientPolicy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: api-dns, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: api } }
  egress:
    - toEndpoints: [{ matchLabels: { app: dns } }]
      toPorts: [{ ports: [{ port: "53", protocol: ANY }], rules: { dns: [{ matchPattern: "*.example.com" }] } }]
    - toFQDNs: [{ matchPattern: "**.example.com" }]
      toPorts: [{ ports: [{ port: "443", protocol: TCP }] }]
`;

interface DigResult {
  readonly status: string;
  readonly answers: readonly string[];
}

/** Real dig in the pod's namespace: the header's status and the answer section's addresses, or status 'timeout'. */
async function dig(from: EndpointView, server: string, name: string): Promise<DigResult> {
  // dig exits 9 when no server answered; its stdout says so either way.
  const out = await new Promise<string>((resolve, reject) =>
    execFile('ip', ['netns', 'exec', from.netns!, 'dig', `@${server}`, name, 'A', '+tries=1', '+time=2', '+noedns'], { timeout: 20_000 }, (err, stdout, stderr) =>
      err && !stdout ? reject(new Error(`dig ${name} in ${from.name}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
  if (/timed out|no servers could be reached/.test(out)) return { status: 'timeout', answers: [] };
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

  beforeAll(async () => {
    node.joinCgroup();
    node.write(
      'apps.yaml',
      [
        deployment('dns', [process.execPath, '-e', DNS_SERVER, require.resolve('dns-packet'), ANSWER_IP]),
        deployment('api', ['sleep', 'infinity']),
        deployment('fqdn-only', ['sleep', 'infinity']),
      ].join('---\n'),
    );
    node.write('policy.yaml', clientPolicy);
    await node.startAgent({ onDnsRecord: (r) => records.push(r) });
  });

  afterAll(async () => {
    await node.cleanup();
  });

  it('§8 case 24: an allowed name is answered by the server; a.b.example.com and example.com are REFUSED by the proxy and never reach the server', async () => {
    const server = await podOf('dns');
    const client = await podOf('api');
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

  it('a pod without a DNS rule gets no DNS at all (egress default-deny drops the query in the datapath)', async () => {
    const server = await podOf('dns');
    const other = await podOf('fqdn-only');
    node.write('fqdn-only.yaml', `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: fqdn-only, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: fqdn-only } }
  egress:
    - toFQDNs: [{ matchPattern: "**.example.com" }]
      toPorts: [{ ports: [{ port: "443", protocol: TCP }] }]
`);
    await eventually(async () => expect((await dig(other, server.ip, 'api.example.com')).status).toBe('timeout'), 20_000, 200);
  });

  it('a malformed datagram to port 53 gets FORMERR from the proxy; the proxy keeps serving', async () => {
    const server = await podOf('dns');
    const client = await podOf('api');
    const SEND_GARBAGE = `const s = require('dgram').createSocket('udp4');
const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, 2000);
s.on('message', (m) => { clearTimeout(t); console.log(m.readUInt16BE(0) + ' rcode ' + (m.readUInt16BE(2) & 15)); process.exit(0); });
s.send(Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), 53, process.argv[1]);`;
    const out = (await sh('ip', ['netns', 'exec', client.netns!, process.execPath, '-e', SEND_GARBAGE, server.ip])).trim();
    expect(out).toBe(`${0x1234} rcode 1`);
    expect((await dig(client, server.ip, 'www.example.com')).status).toBe('NOERROR');
  });
});
