/**
 * The DNS proxy's TCP side (policy-semantics §5.2, RFC 7766) with real sockets: a client connection
 * to the proxy's transparent listener is what the datapath's redirect hands it, the local address
 * being the server the pod dialled. Queries are checked against the client's rules for TCP, allowed
 * ones reach the server over one TCP connection per client connection, refused ones never do, and
 * pipelined queries are answered in order, each with its own answer.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { DnsPortPolicy } from '@tendril/policy';
import { freePort } from '@tendril/testing';
import { DnsMessageReader, DnsProxy, frameDnsMessage, parseDnsRejectResponseCode, type DnsProxyRecord } from '../src';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('DNS proxy over TCP skipped: its transparent listener and UDP socket need root');

const ANSWER_IP = '198.18.0.1';
const CLIENT_IDENTITY = 4242;
const quietLogger = { info: () => undefined, warn: () => undefined };

/** A DNS-over-TCP server answering A queries under example.com; `slow.` names are answered after the ones asked later. */
async function startDnsServer(): Promise<{ server: Server; port: number; seen: string[]; connections: number }> {
  const state = { seen: [] as string[], connections: 0 };
  const server = createServer((socket) => {
    state.connections++;
    const reader = new DnsMessageReader();
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        const query = dnsPacket.decode(message);
        const question = query.questions![0]!;
        state.seen.push(question.name);
        const answers = /(^|\.)example\.com$/.test(question.name) ? [{ type: 'A' as const, name: question.name, ttl: 30, data: ANSWER_IP }] : [];
        const answer = frameDnsMessage(dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: query.questions, answers }));
        if (question.name.startsWith('slow.')) setTimeout(() => socket.write(answer), 300);
        else socket.write(answer);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    get seen() {
      return state.seen;
    },
    get connections() {
      return state.connections;
    },
  };
}

const query = (id: number, name: string): Buffer => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });

/** A client connection to the proxy: send raw bytes, read the framed answers, see whether the proxy closed it. */
class DnsTcpClient {
  private readonly reader = new DnsMessageReader();
  private readonly received: dnsPacket.DecodedPacket[] = [];
  private waiting: (() => void) | undefined;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const m of this.reader.push(chunk)) this.received.push(dnsPacket.decode(m));
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  static open(port: number): Promise<DnsTcpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new DnsTcpClient(socket)));
      socket.once('error', reject);
    });
  }

  send(...messages: Buffer[]): void {
    this.socket.write(Buffer.concat(messages.map(frameDnsMessage)));
  }

  /** The next `count` answers, or fewer when the proxy closes the connection first. */
  async answers(count: number): Promise<dnsPacket.DecodedPacket[]> {
    while (this.received.length < count && !this.closed) await new Promise<void>((resolve) => (this.waiting = resolve));
    return this.received.splice(0, count);
  }

  async closedByPeer(): Promise<boolean> {
    while (!this.closed) await new Promise<void>((resolve) => (this.waiting = resolve));
    return true;
  }

  close(): void {
    this.socket.destroy();
  }
}

const summary = (a: dnsPacket.DecodedPacket): string => `${a.id} ${(a as unknown as { rcode: string }).rcode} ${a.questions?.[0]?.name ?? '-'} ${(a.answers ?? []).map((r) => (r as { data?: unknown }).data as string).join(',')}`.trim();

(isRoot ? describe : describe.skip)('DnsProxy over TCP (needs root)', () => {
  let proxy: DnsProxy;
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let port: number;
  const records: DnsProxyRecord[] = [];
  const learned: string[] = [];
  const upstreams: { server: string; identity: number }[] = [];
  let upstreamPort = 0;

  beforeAll(async () => {
    dns = await startDnsServer();
    upstreamPort = dns.port;
    port = await freePort();
    const policies: DnsPortPolicy[] = [{ transport: 'TCP', port, rules: [{ remotes: [53], dns: [{ matchPattern: '*.example.com' }], origin: 'test/dns' }] }];
    proxy = await DnsProxy.start({
      port,
      clientOf: (ip) => (ip === '127.0.0.1' ? { pod: 'default/client', identity: CLIENT_IDENTITY, policies } : undefined),
      // The "server" the client dialled is the proxy's own address here: give it the identity the rule names.
      identityOf: (ip) => (ip === '127.0.0.1' ? 53 : 2),
      beforeRelay: async (answer) => {
        learned.push(...(answer.answers ?? []).map((a) => `${a.name}=${(a as { data?: unknown }).data as string}`));
      },
      connectUpstream: (server, identity) => {
        upstreams.push({ server: `${server.address}:${server.port}`, identity });
        return new Promise((resolve, reject) => {
          const socket = connect(upstreamPort, '127.0.0.1', () => resolve(socket));
          socket.once('error', reject);
        });
      },
      upstreamTimeoutMs: 2_000,
      logger: quietLogger,
      onRecord: (r) => records.push(r),
    });
  });

  afterAll(() => {
    proxy?.close();
    dns?.server.close();
  });

  it('forwards an allowed query to the server the client dialled, as the client, learns the answer before relaying it, and refuses a denied one on the same connection', async () => {
    const client = await DnsTcpClient.open(port);
    client.send(query(11, 'www.example.com'));
    expect((await client.answers(1)).map(summary)).toEqual([`11 NOERROR www.example.com ${ANSWER_IP}`]);
    expect(learned).toContain(`www.example.com=${ANSWER_IP}`);
    expect(upstreams).toEqual([{ server: `127.0.0.1:${port}`, identity: CLIENT_IDENTITY }]);
    client.send(query(12, 'a.b.example.com'), query(13, 'example.org'));
    expect((await client.answers(2)).map(summary)).toEqual(['12 REFUSED a.b.example.com', '13 REFUSED example.org']);
    expect(dns.seen).not.toContain('a.b.example.com');
    expect(dns.seen).not.toContain('example.org');
    expect(records.slice(-2)).toEqual([
      expect.objectContaining({ pod: 'default/client', name: 'a.b.example.com', verdict: 'refused', reason: 'no DNS rule matches "a.b.example.com"' }),
      expect.objectContaining({ name: 'example.org', verdict: 'refused' }),
    ]);
    expect(client.closed).toBe(false);
    client.close();
  });

  it('answers pipelined queries in the order they were sent, each with its own answer, even when the server answers out of order and ids repeat', async () => {
    const client = await DnsTcpClient.open(port);
    const connectionsBefore = dns.connections;
    client.send(query(1, 'slow.example.com'), query(2, 'fast.example.com'), query(3, 'denied.org'), query(2, 'again.example.com'));
    expect((await client.answers(4)).map(summary)).toEqual([`1 NOERROR slow.example.com ${ANSWER_IP}`, `2 NOERROR fast.example.com ${ANSWER_IP}`, '3 REFUSED denied.org', `2 NOERROR again.example.com ${ANSWER_IP}`]);
    // One upstream connection carried the client connection's allowed queries.
    expect(dns.connections - connectionsBefore).toBe(1);
    client.close();
  });

  it('a malformed message gets FORMERR and the connection closes; what the client sent after it is not answered', async () => {
    const client = await DnsTcpClient.open(port);
    const garbage = Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
    client.send(query(21, 'first.example.com'), garbage, query(22, 'after.example.com'));
    expect((await client.answers(3)).map(summary)).toEqual([`21 NOERROR first.example.com ${ANSWER_IP}`, '4660 FORMERR -']);
    expect(await client.closedByPeer()).toBe(true);
    expect(dns.seen).not.toContain('after.example.com');
    expect(records.some((r) => r.verdict === 'formerr' && r.reason === 'not a DNS query with one question')).toBe(true);
  });

  it('--tofqdns-dns-reject-response-code nameError: a denied query gets NXDOMAIN instead of REFUSED', async () => {
    const otherPort = await freePort();
    const policies: DnsPortPolicy[] = [{ transport: 'TCP', port: otherPort, rules: [{ remotes: 'any', dns: [{ matchName: 'only.example.com' }], origin: 'test/dns' }] }];
    const nxProxy = await DnsProxy.start({
      port: otherPort,
      clientOf: () => ({ pod: 'default/client', identity: CLIENT_IDENTITY, policies }),
      identityOf: () => 2,
      connectUpstream: () => Promise.reject(new Error('not asked: every query here is denied')),
      rejectResponseCode: 'nameError',
      logger: quietLogger,
    });
    try {
      const client = await DnsTcpClient.open(otherPort);
      client.send(query(41, 'other.example.com'));
      expect((await client.answers(1)).map(summary)).toEqual(['41 NXDOMAIN other.example.com']);
      client.close();
    } finally {
      nxProxy.close();
    }
    expect(() => parseDnsRejectResponseCode('nxdomain')).toThrow('invalid value "nxdomain" for --tofqdns-dns-reject-response-code: want refused or nameError');
  });

  it('a server that cannot be reached gets SERVFAIL, and the next query on the connection tries again', async () => {
    const client = await DnsTcpClient.open(port);
    upstreamPort = await freePort();
    client.send(query(31, 'down.example.com'));
    expect((await client.answers(1)).map(summary)).toEqual(['31 SERVFAIL down.example.com']);
    upstreamPort = dns.port;
    client.send(query(32, 'up.example.com'));
    expect((await client.answers(1)).map(summary)).toEqual([`32 NOERROR up.example.com ${ANSWER_IP}`]);
    client.close();
  });
});
