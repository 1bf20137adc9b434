import type { Socket } from 'node:net';

/**
 * DNS over TCP for the DNS proxy (RFC 1035 §4.2.2, RFC 7766): every message travels with a
 * two-byte length prefix, a client may pipeline several queries on one connection, and the answers
 * may come back in any order, matched by id. The proxy answers each client connection's queries in
 * the order they arrived (always a valid order), and sends the allowed ones over one upstream
 * connection per client connection, under ids of its own, so two queries of a client that share an
 * id still get their own answers.
 */

/** The length prefix: a DNS message over TCP is at most 65535 bytes. */
const LENGTH_BYTES = 2;

export function frameDnsMessage(message: Buffer): Buffer {
  if (message.length > 0xffff) throw new Error(`a DNS message over TCP is at most 65535 bytes, not ${message.length}`);
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + message.length);
  frame.writeUInt16BE(message.length, 0);
  message.copy(frame, LENGTH_BYTES);
  return frame;
}

/** Cuts a TCP byte stream into the DNS messages its length prefixes delimit. */
export class DnsMessageReader {
  private buffered: Buffer = Buffer.alloc(0);

  /** The messages completed by `chunk` (possibly none; possibly several, when the client pipelines). */
  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const messages: Buffer[] = [];
    while (this.buffered.length >= LENGTH_BYTES) {
      const length = this.buffered.readUInt16BE(0);
      if (this.buffered.length < LENGTH_BYTES + length) break;
      messages.push(this.buffered.subarray(LENGTH_BYTES, LENGTH_BYTES + length));
      this.buffered = this.buffered.subarray(LENGTH_BYTES + length);
    }
    return messages;
  }
}

/**
 * What the proxy does with one query of a TCP client: the answer to write (resolving to undefined:
 * nothing to answer), and whether the connection ends after it, which is known before the answer is
 * (a malformed message), so nothing after it is read.
 */
export interface DnsTcpReply {
  readonly response: Promise<Buffer | undefined>;
  readonly closeAfter: boolean;
}

export interface DnsTcpConnectionOptions {
  /** A connection with no query outstanding and nothing received for this long is closed (RFC 7766 §6.2.3). */
  readonly idleTimeoutMs: number;
  /** At most this many queries of one connection are in flight; reading pauses until one is answered. */
  readonly maxOutstanding: number;
  /** Called once when the client connection is gone. */
  readonly onClose: () => void;
}

/**
 * Serves one client connection: each length-prefixed query is handed to `answer` as it arrives
 * (so pipelined queries are worked on together) and the replies are written in query order. A reply
 * that closes the connection (a malformed message) is written after the replies before it, and
 * nothing the client sent after it is answered.
 */
export function serveDnsTcpConnection(client: Socket, answer: (query: Buffer) => DnsTcpReply, options: DnsTcpConnectionOptions): void {
  const reader = new DnsMessageReader();
  let written: Promise<void> = Promise.resolve();
  let outstanding = 0;
  let ending = false;
  client.setNoDelay(true);
  client.setTimeout(options.idleTimeoutMs, () => {
    if (outstanding === 0) client.end();
  });
  client.on('data', (chunk: Buffer) => {
    if (ending) return;
    for (const query of reader.push(chunk)) {
      const { response, closeAfter } = answer(query);
      outstanding++;
      if (outstanding >= options.maxOutstanding) client.pause();
      written = written.then(async () => {
        // The proxy answers every query itself when forwarding fails; a rejection is a bug, and ends the connection.
        const payload = await response.catch(() => void client.destroy());
        outstanding--;
        if (client.destroyed) return;
        if (payload) client.write(frameDnsMessage(payload));
        if (closeAfter) client.end();
        else if (client.isPaused() && outstanding < options.maxOutstanding) client.resume();
      }).catch(() => void client.destroy()); // an answer that cannot be framed: the connection cannot go on in order
      if (closeAfter) {
        ending = true;
        break;
      }
    }
  });
  client.on('error', () => client.destroy());
  client.once('close', options.onClose);
}
