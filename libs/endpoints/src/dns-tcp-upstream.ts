import type { Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import { DnsMessageReader, frameDnsMessage } from './dns-tcp';
import { DNS_HEADER_BYTES } from './dns-messages';

interface PendingQuery {
  readonly clientId: number;
  readonly resolve: (answer: Buffer) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The DNS proxy's TCP connection to the server one client connection asked: opened with the first
 * allowed query (from a socket `connect` marks with the client's identity), reused by the following
 * ones, opened again after the server closed it. Each query goes out under an id of the proxy's own,
 * unique among the queries outstanding on it, and its answer comes back with the client's id, so
 * pipelined queries are matched to their answers whatever order the server answers in.
 */
export class DnsTcpUpstream {
  private connection: Promise<Socket> | undefined;
  private readonly pending = new Map<number, PendingQuery>();
  private nextId = randomInt(0x10000);
  private closed = false;

  constructor(
    private readonly server: string,
    private readonly connect: () => Promise<Socket>,
    private readonly timeoutMs: number,
  ) {}

  /** Sends `query` and resolves with the server's answer to it; rejects when the server cannot be reached, closes first, or does not answer in time. */
  async exchange(query: Buffer): Promise<Buffer> {
    if (this.closed) throw new Error('the client connection is closed');
    if (this.pending.size >= 0x10000) throw new Error(`65536 queries outstanding to ${this.server}`);
    const socket = await this.open();
    let id = this.nextId;
    while (this.pending.has(id)) id = (id + 1) & 0xffff;
    this.nextId = (id + 1) & 0xffff;
    const outgoing = Buffer.from(query);
    outgoing.writeUInt16BE(id, 0);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer from ${this.server} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { clientId: query.readUInt16BE(0), resolve, reject, timer });
      socket.write(frameDnsMessage(outgoing));
    });
  }

  close(): void {
    this.closed = true;
    this.fail(new Error('the client connection is closed'));
    void this.connection?.then((s) => s.destroy(), () => undefined);
    this.connection = undefined;
  }

  private open(): Promise<Socket> {
    this.connection ??= this.connect().then(
      (socket) => {
        const reader = new DnsMessageReader();
        socket.setNoDelay(true);
        socket.on('data', (chunk: Buffer) => {
          for (const answer of reader.push(chunk)) this.settle(answer);
        });
        socket.on('error', () => undefined); // 'close' follows and fails what is outstanding
        socket.once('close', () => {
          if (this.connection === opened) this.connection = undefined;
          this.fail(new Error(`${this.server} closed the connection`));
        });
        if (this.closed) socket.destroy();
        return socket;
      },
      (err: unknown) => {
        this.connection = undefined; // the next query tries again
        throw err;
      },
    );
    const opened = this.connection;
    return opened;
  }

  private settle(answer: Buffer): void {
    // An answer without a header, or to a query that timed out, has nobody waiting for it.
    if (answer.length < DNS_HEADER_BYTES) return;
    const query = this.pending.get(answer.readUInt16BE(0));
    if (!query) return;
    this.pending.delete(answer.readUInt16BE(0));
    clearTimeout(query.timer);
    const relayed = Buffer.from(answer);
    relayed.writeUInt16BE(query.clientId, 0);
    query.resolve(relayed);
  }

  private fail(err: Error): void {
    for (const query of this.pending.values()) {
      clearTimeout(query.timer);
      query.reject(err);
    }
    this.pending.clear();
  }
}
