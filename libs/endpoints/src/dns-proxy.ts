import { createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { NativeUdpSocket, connectFromProxy, createTransparentListenerFd, proxyMark, sendUdpFrom, type UdpAddress, type UdpDatagram } from '@tendril/datapath';
import { dnsVerdict, type DnsPortPolicy, type DnsTransport } from '@tendril/policy';
import { RCODE_FORMERR, RCODE_NXDOMAIN, RCODE_REFUSED, RCODE_SERVFAIL, errorResponse, parseQuery, type ParsedQuery } from './dns-messages';
import { serveDnsTcpConnection, type DnsTcpReply } from './dns-tcp';
import { DnsTcpUpstream } from './dns-tcp-upstream';

/**
 * The in-agent DNS proxy (policy-semantics.md §5.2), as Cilium runs it: the datapath steers a
 * pod's egress UDP to a port whose rules carry `rules.dns` to this proxy's transparent socket; per
 * query the proxy finds the pod by source address and the server's identity by the original
 * destination, and checks the question name against the pod's DNS rules for that server and port.
 * Allowed: the query goes to the server the pod asked, from a socket whose mark tells the datapath
 * it comes from the egress proxy on behalf of the pod's identity (so it is neither redirected
 * again nor exempt from the server's ingress policy), and the answer goes back to the pod from the
 * server's own address. Denied: REFUSED (or NXDOMAIN, as configured), never forwarded. A message that is not a query gets
 * FORMERR when it has a DNS header to answer, and is dropped otherwise.
 *
 * DNS over TCP is steered the same way, to a transparent TCP listener on the same port number: the
 * accepted connection's local address is the server the pod dialled, and every length-prefixed
 * query on it gets the same decision (dns-tcp.ts); a malformed one gets FORMERR and ends the
 * connection.
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
  readonly transport: DnsTransport;
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
  /** A client TCP connection idle this long (no query outstanding) is closed; default 10 s. */
  readonly tcpIdleTimeoutMs?: number;
  /**
   * How an allowed TCP query reaches its server: a connection from a socket marked as the egress
   * proxy's on behalf of `identity` (the default). Tests without a datapath connect plainly.
   */
  readonly connectUpstream?: (server: UdpAddress, identity: number) => Promise<Socket>;
  /**
   * Cilium's `--tofqdns-dns-reject-response-code`: what a denied query gets, REFUSED ('refused',
   * the default) or NXDOMAIN ('nameError').
   */
  readonly rejectResponseCode?: DnsRejectResponseCode;
  readonly logger: DnsProxyLogger;
  readonly onRecord?: (record: DnsProxyRecord) => void;
}

export type DnsRejectResponseCode = 'refused' | 'nameError';

/** Cilium's values of `--tofqdns-dns-reject-response-code`. */
export function parseDnsRejectResponseCode(text: string): DnsRejectResponseCode {
  if (text === 'refused' || text === 'nameError') return text;
  throw new Error(`invalid value ${JSON.stringify(text)} for --tofqdns-dns-reject-response-code: want refused or nameError`);
}

const DEFAULT_UPSTREAM_TIMEOUT_MS = 5_000;
const DEFAULT_TCP_IDLE_TIMEOUT_MS = 10_000;
/** Queries of one TCP connection in flight at once (RFC 7766 pipelining); reading pauses beyond. */
const MAX_OUTSTANDING_TCP_QUERIES = 64;

/** Where a query came from and went to, and how to send it on when it is allowed. */
interface QueryExchange {
  readonly transport: DnsTransport;
  readonly client: string;
  readonly server: UdpAddress;
  readonly forward: (payload: Buffer, client: DnsClient) => Promise<Buffer>;
}

export class DnsProxy {
  /** Upstream sockets of UDP queries awaiting their answer. */
  private readonly udpUpstreams = new Set<NativeUdpSocket>();
  private readonly tcpConnections = new Set<Socket>();
  private readonly socket: NativeUdpSocket;
  private readonly tcp: Server;

  private constructor(
    private readonly opts: DnsProxyOptions,
    sockets: { udp: NativeUdpSocket; tcp: Server },
  ) {
    this.socket = sockets.udp;
    this.tcp = sockets.tcp;
  }

  /**
   * Binds the transparent UDP socket and TCP listener (IP_TRANSPARENT, so root) on
   * 127.0.0.1:port, where the datapath assigns redirected datagrams and connections.
   */
  static async start(opts: DnsProxyOptions): Promise<DnsProxy> {
    // The sockets' handlers need the proxy, which needs the sockets: the handlers read it from here.
    const ready: { proxy?: DnsProxy } = {};
    const fd = await createTransparentListenerFd(opts.port);
    const tcp = createServer((connection) => {
      if (ready.proxy) ready.proxy.serveTcp(connection);
      else connection.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ fd }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    let udp: NativeUdpSocket;
    try {
      udp = await NativeUdpSocket.open(
        { address: '127.0.0.1', port: opts.port, transparent: true },
        (datagram) => void ready.proxy?.handleDatagram(datagram),
        (err) => opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'DNS proxy: datagram not handled'),
      );
    } catch (err) {
      tcp.close();
      throw err;
    }
    const proxy = new DnsProxy(opts, { udp, tcp });
    ready.proxy = proxy;
    opts.logger.info({ port: opts.port }, 'DNS proxy listening (UDP and TCP)');
    return proxy;
  }

  close(): void {
    this.socket.close();
    this.tcp.close();
    for (const connection of this.tcpConnections) connection.destroy();
    for (const upstream of this.udpUpstreams) upstream.close();
    this.udpUpstreams.clear();
  }

  private async handleDatagram(datagram: UdpDatagram): Promise<void> {
    const server = datagram.originalDestination;
    // Without the original destination there is nobody to answer as.
    if (!server) return;
    const response = await this.answer(datagram.payload, parseQuery(datagram.payload), {
      transport: 'UDP',
      client: datagram.source.address,
      server,
      forward: (payload, client) => this.forwardUdp(payload, server, client.identity),
    });
    if (!response) return;
    await sendUdpFrom(response, server, datagram.source).catch((err: unknown) =>
      this.opts.logger.warn({ err: (err as Error).message, client: datagram.source.address }, 'DNS proxy: cannot answer the client'),
    );
  }

  /** One redirected TCP connection: its local address is the server the pod dialled. */
  private serveTcp(connection: Socket): void {
    const server = { address: connection.localAddress ?? '', port: connection.localPort ?? 0 };
    const client = connection.remoteAddress ?? '';
    if (!server.address || !client) {
      connection.destroy();
      return;
    }
    this.tcpConnections.add(connection);
    const connectUpstream = this.opts.connectUpstream ?? ((to: UdpAddress, identity: number) => connectFromProxy({ host: to.address, port: to.port, direction: 'egress', sourceIdentity: identity, timeoutMs: this.upstreamTimeoutMs }));
    // The identity is the client's, and every query on the connection comes from the same client.
    let upstream: DnsTcpUpstream | undefined;
    const exchange: QueryExchange = {
      transport: 'TCP',
      client,
      server,
      forward: (payload, dnsClient) => {
        upstream ??= new DnsTcpUpstream(`${server.address}:${server.port}`, () => connectUpstream(server, dnsClient.identity), this.upstreamTimeoutMs);
        return upstream.exchange(payload);
      },
    };
    serveDnsTcpConnection(
      connection,
      (query): DnsTcpReply => {
        const parsed = parseQuery(query);
        // Known before the answer: a message without a header or that is no query ends the connection.
        return { response: this.answer(query, parsed, exchange), closeAfter: !parsed?.question };
      },
      {
        idleTimeoutMs: this.opts.tcpIdleTimeoutMs ?? DEFAULT_TCP_IDLE_TIMEOUT_MS,
        maxOutstanding: MAX_OUTSTANDING_TCP_QUERIES,
        onClose: () => {
          this.tcpConnections.delete(connection);
          upstream?.close();
        },
      },
    );
  }

  private get upstreamTimeoutMs(): number {
    return this.opts.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
  }

  /**
   * The decision on one message, for either transport: FORMERR for a message that is no query with
   * one question, REFUSED for a query the client's rules do not allow, else the server's answer
   * (learned from before it is relayed), or SERVFAIL when the server could not be asked. Undefined
   * for a message without a header: there is nothing to answer.
   */
  private async answer(payload: Buffer, parsed: ParsedQuery | undefined, exchange: QueryExchange): Promise<Buffer | undefined> {
    const { server, transport } = exchange;
    const client = this.opts.clientOf(exchange.client);
    const base = { pod: client?.pod ?? exchange.client, transport, server: `${server.address}:${server.port}` };
    if (!parsed) {
      this.opts.onRecord?.({ ...base, name: '', type: '', verdict: 'formerr', reason: 'shorter than a DNS header: nothing to answer' });
      return undefined;
    }
    const { id, flags, question, questions } = parsed;
    if (!question) {
      this.opts.onRecord?.({ ...base, name: questions[0]?.name ?? '', type: questions[0]?.type ?? '', verdict: 'formerr', reason: 'not a DNS query with one question' });
      return errorResponse(id, flags, [], RCODE_FORMERR);
    }
    const record = { ...base, name: question.name, type: question.type };
    const verdict = client
      ? dnsVerdict(client.policies, transport, server.port, this.opts.identityOf(server.address), question.name)
      : ({ allowed: false, reason: `${exchange.client} is not a local endpoint` } as const);
    if (!verdict.allowed || !client) {
      this.opts.onRecord?.({ ...record, verdict: 'refused', reason: verdict.allowed ? 'no client' : verdict.reason });
      return errorResponse(id, flags, questions, this.opts.rejectResponseCode === 'nameError' ? RCODE_NXDOMAIN : RCODE_REFUSED);
    }
    let answer: Buffer;
    try {
      answer = await exchange.forward(payload, client);
    } catch (err) {
      this.opts.onRecord?.({ ...record, verdict: 'servfail', reason: (err as Error).message });
      return errorResponse(id, flags, questions, RCODE_SERVFAIL);
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
    return answer;
  }

  /** Sends the query to the server the pod asked, marked as the egress proxy's on behalf of `identity`; resolves with the server's answer of the same id. */
  private async forwardUdp(payload: Buffer, server: UdpAddress, identity: number): Promise<Buffer> {
    const id = payload.readUInt16BE(0);
    let answered: ((answer: Buffer) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const upstream = await NativeUdpSocket.open({ address: '0.0.0.0', port: 0, mark: proxyMark('egress', identity) }, (d) => {
      if (d.source.address !== server.address || d.source.port !== server.port || d.payload.length < 2 || d.payload.readUInt16BE(0) !== id) return;
      answered?.(d.payload);
    });
    this.udpUpstreams.add(upstream);
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        answered = resolve;
        timer = setTimeout(() => reject(new Error(`no answer from ${server.address}:${server.port} within ${this.upstreamTimeoutMs} ms`)), this.upstreamTimeoutMs);
        upstream.send(payload, server);
      });
    } finally {
      clearTimeout(timer);
      this.udpUpstreams.delete(upstream);
      upstream.close();
    }
  }
}
