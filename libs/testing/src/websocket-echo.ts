import { createHash } from 'node:crypto';
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing. */
const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Frames larger than this are refused (close 1009): an echo backend for tests needs no more. */
const MAX_PAYLOAD = 1 << 20;

const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key. */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + HANDSHAKE_GUID).digest('base64');
}

/** One unmasked server frame (FIN set). */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, length]) : length < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (length >= 126) {
    header[0] = 0x80 | opcode;
    if (length < 65_536) {
      header[1] = 126;
      header.writeUInt16BE(length, 2);
    } else {
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(length), 2);
    }
  }
  return Buffer.concat([header, payload]);
}

function closeFrame(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code, 0);
  return frame(OPCODE.close, payload);
}

interface ParsedFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  /** Bytes of the buffer the frame used. */
  size: number;
}

/** Reads one client frame from the start of `buf`; undefined while incomplete; a string when it breaks the protocol. */
function parseFrame(buf: Buffer): ParsedFrame | undefined | string {
  if (buf.length < 2) return undefined;
  const fin = (buf[0] & 0x80) !== 0;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  if (!masked) return 'client frames must be masked';
  let length = buf[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) return undefined;
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return undefined;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(MAX_PAYLOAD)) return 'frame too large';
    length = Number(big);
    offset = 10;
  }
  if (length > MAX_PAYLOAD) return 'frame too large';
  if (buf.length < offset + 4 + length) return undefined;
  const mask = buf.subarray(offset, offset + 4);
  const payload = Buffer.from(buf.subarray(offset + 4, offset + 4 + length));
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
  return { fin, opcode, payload, size: offset + 4 + length };
}

/**
 * Answers a WebSocket upgrade as the conformance echo image's /ws does: every text or binary
 * message comes back as it was sent (fragmented messages reassembled), pings are answered with
 * pongs, and a close is answered with a close. Requests that are not a valid RFC 6455 handshake
 * get 400.
 */
export function acceptEchoWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  const key = req.headers['sec-websocket-key'];
  const upgrade = String(req.headers['upgrade'] ?? '').toLowerCase();
  if (req.method !== 'GET' || upgrade !== 'websocket' || typeof key !== 'string' || req.headers['sec-websocket-version'] !== '13') {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${websocketAccept(key)}`, '', ''].join('\r\n'));
  let pending = Buffer.from(head);
  let message: { opcode: number; parts: Buffer[] } | undefined;
  let closed = false;
  const fail = (code: number): void => {
    closed = true;
    socket.end(closeFrame(code));
  };
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (!closed) {
      const parsed = parseFrame(pending);
      if (parsed === undefined) return;
      if (typeof parsed === 'string') return fail(parsed === 'frame too large' ? 1009 : 1002);
      pending = pending.subarray(parsed.size);
      const { opcode, fin, payload } = parsed;
      if (opcode === OPCODE.close) {
        closed = true;
        socket.end(frame(OPCODE.close, payload.subarray(0, 2)));
      } else if (opcode === OPCODE.ping) socket.write(frame(OPCODE.pong, payload));
      else if (opcode === OPCODE.pong) continue;
      else if (opcode === OPCODE.text || opcode === OPCODE.binary) {
        if (message) return fail(1002);
        message = { opcode, parts: [payload] };
      } else if (opcode === OPCODE.continuation) {
        if (!message) return fail(1002);
        message.parts.push(payload);
      } else return fail(1002);
      if (message && fin && opcode !== OPCODE.close && opcode !== OPCODE.ping) {
        socket.write(frame(message.opcode, Buffer.concat(message.parts)));
        message = undefined;
      }
    }
  });
}
