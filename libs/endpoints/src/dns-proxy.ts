import * as dnsPacket from 'dns-packet';
import { NativeUdpSocket, proxyMark, sendUdpFrom, type UdpAddress, type UdpDatagram } from '@tendril/datapath';
import { dnsVerdict, type DnsPortPolicy } from '@tendril/policy';

/**
 * The in-agent DNS proxy (policy-semantics.md §5.2), as Cilium runs it: the datapath steers a
 * pod's egress UDP to a port whose rules carry `rules.dns` to this proxy's transparent socket; per
 * query the proxy finds the pod by source address and the server's identity by the original
 * destination, and checks the question name against the pod's DNS rules for that server and port.
 * Allowed: the query goes to the server the pod asked, from a socket whose mark tells the datapath
 * it comes from the egress proxy on behalf of the pod's identity (so it is neither redirected
 * again nor exempt from the server's ingress policy), and the answer goes back to the pod from the
 * server's own address. Denied: REFUSED, never forwarded. A message that is not a query gets
 * FORMERR when it has a DNS header to answer, and is dropped otherwise.
 */

/** The pod a query came from, as the endpoint manager knows it. */
export interface DnsClient {
  readonly pod: string;
  readonly identity: number;
  readonly policies: readonly DnsPortPolicy[];
}

export interface DnsProxyLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** One query the proxy decided on, as an access log line shows it. */
export interface DnsProxyRecord {
  readonly pod: string;
  readonly server: string;
  readonly name: string;
  readonly type: string;
  readonly verdict: 'forwarded' | 'refused' | 'formerr' | 'servfail';
  readonly reason?: string;
  /** The answer's rcode, for forwarded queries. */
  readonly rcode?: string;
}

export interface DnsProxyOptions {
  /** The egress DNS redirect port (the policy map's proxy port for DNS). */
  readonly port: number;
  /** The pod behind a source address, or undefined for an address that is no local endpoint. */
  readonly clientOf: (ip: string) => DnsClient | undefined;
  /** The security identity of a server address (ipcache; world when unknown). */
  readonly identityOf: (ip: string) => number;
  /**
   * Called with every answer to an allowed query before it is relayed: the answer is held until it
   * resolves (toFQDNs writes the learned addresses to the datapath there, §5.3).
   */
  readonly beforeRelay?: (answer: dnsPacket.DecodedPacket, client: DnsClient) => Promise<void>;
  readonly upstreamTimeoutMs?: number;
  readonly logger: DnsProxyLogger;
  readonly onRecord?: (record: DnsProxyRecord) => void;
}

const DNS_HEADER_BYTES = 12;
const RCODE_FORMERR = 1;
const RCODE_SERVFAIL = 2;
const RCODE_REFUSED = 5;

/** An answer carrying only the header and (when there is one) the question of `query`, with `rcode`. */
function errorResponse(id: number, queryFlags: number, questions: dnsPacket.Question[], rcode: number): Buffer {
  const rd = queryFlags & dnsPacket.RECURSION_DESIRED;
  return dnsPacket.encode({ type: 'response', id, flags: rd | dnsPacket.RECURSION_AVAILABLE | rcode, questions });
}

export class DnsProxy {
  private readonly pending = new Set<NativeUdpSocket>();

  private constructor(
    private readonly opts: DnsProxyOptions,
    private readonly socket: NativeUdpSocket,
  ) {}

  /** Binds the transparent socket on 127.0.0.1:port, where the datapath assigns redirected datagrams. */
  static async start(opts: DnsProxyOptions): Promise<DnsProxy> {
    // The socket's handler needs the proxy, which needs the socket: the handler reads it from here.
    const ready: { proxy?: DnsProxy } = {};
    const socket = await NativeUdpSocket.open(
      { address: '127.0.0.1', port: opts.port, transparent: true },
      (datagram) => void ready.proxy?.handle(datagram),
      (err) => opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'DNS proxy: datagram not handled'),
    );
    const proxy = new DnsProxy(opts, socket);
    ready.proxy = proxy;
    opts.logger.info({ port: opts.port }, 'DNS proxy listening');
    return proxy;
  }

  close(): void {
    this.socket.close();
    for (const upstream of this.pending) upstream.close();
    this.pending.clear();
  }

  private async handle(datagram: UdpDatagram): Promise<void> {
    const server = datagram.originalDestination;
    // Without the original destination there is nobody to answer as; without a header nothing to answer.
    if (!server || datagram.payload.length < DNS_HEADER_BYTES) return;
    const id = datagram.payload.readUInt16BE(0);
    const flags = datagram.payload.readUInt16BE(2);
    const reply = (payload: Buffer): Promise<void> =>
      sendUdpFrom(payload, server, datagram.source).catch((err: unknown) => this.opts.logger.warn({ err: (err as Error).message, client: datagram.source.address }, 'DNS proxy: cannot answer the client'));
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(datagram.payload);
    } catch {
      query = undefined as unknown as dnsPacket.DecodedPacket;
    }
    const questions = query?.questions ?? [];
    const question = questions[0];
    const client = this.opts.clientOf(datagram.source.address);
    const base = { pod: client?.pod ?? datagram.source.address, server: `${server.address}:${server.port}` };
    if (!query || query.type !== 'query' || !question || questions.length !== 1) {
      this.opts.onRecord?.({ ...base, name: question?.name ?? '', type: question?.type ?? '', verdict: 'formerr', reason: 'not a DNS query with one question' });
      return reply(errorResponse(id, flags, [], RCODE_FORMERR));
    }
    const record = { ...base, name: question.name, type: question.type };
    const verdict = client
      ? dnsVerdict(client.policies, 'UDP', server.port, this.opts.identityOf(server.address), question.name)
      : ({ allowed: false, reason: `${datagram.source.address} is not a local endpoint` } as const);
    if (!verdict.allowed || !client) {
      this.opts.onRecord?.({ ...record, verdict: 'refused', reason: verdict.allowed ? 'no client' : verdict.reason });
      return reply(errorResponse(id, flags, questions, RCODE_REFUSED));
    }
    let answer: Buffer;
    try {
      answer = await this.forward(datagram.payload, id, server, client.identity);
    } catch (err) {
      this.opts.onRecord?.({ ...record, verdict: 'servfail', reason: (err as Error).message });
      return reply(errorResponse(id, flags, questions, RCODE_SERVFAIL));
    }
    let decoded: dnsPacket.DecodedPacket | undefined;
    try {
      decoded = dnsPacket.decode(answer);
    } catch {
      decoded = undefined; // relayed as is: the client judges a malformed answer, nothing is learned from it
    }
    if (decoded && this.opts.beforeRelay) {
      try {
        await this.opts.beforeRelay(decoded, client);
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message, name: question.name }, 'DNS proxy: learning the answer failed');
      }
    }
    this.opts.onRecord?.({ ...record, verdict: 'forwarded', ...(decoded ? { rcode: (decoded as unknown as { rcode: string }).rcode } : {}) });
    return reply(answer);
  }

  /** Sends the query to the server the pod asked, marked as the egress proxy's on behalf of `identity`; resolves with the server's answer of the same id. */
  private async forward(payload: Buffer, id: number, server: UdpAddress, identity: number): Promise<Buffer> {
    const timeoutMs = this.opts.upstreamTimeoutMs ?? 5_000;
    let answered: ((answer: Buffer) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const upstream = await NativeUdpSocket.open({ address: '0.0.0.0', port: 0, mark: proxyMark('egress', identity) }, (d) => {
      if (d.source.address !== server.address || d.source.port !== server.port || d.payload.length < DNS_HEADER_BYTES || d.payload.readUInt16BE(0) !== id) return;
      answered?.(d.payload);
    });
    this.pending.add(upstream);
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        answered = resolve;
        timer = setTimeout(() => reject(new Error(`no answer from ${server.address}:${server.port} within ${timeoutMs} ms`)), timeoutMs);
        upstream.send(payload, server);
      });
    } finally {
      clearTimeout(timer);
      this.pending.delete(upstream);
      upstream.close();
    }
  }
}
