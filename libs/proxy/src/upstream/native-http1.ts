import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { LinkedList, type LinkedListEntry } from '../linked-list';
import { connectSocket } from './socket-connector';
import type { UpstreamExchange, UpstreamHeaders, UpstreamRequest, UpstreamResponseHandler } from './types';
import { RESPONSE_HOP_BY_HOP, UpstreamResetError, addHeaderValue, isConnectFailure } from './types';

/**
 * node's C++ HTTP parser (llhttp), the binding its own HTTP server and client use. `consume` makes
 * it read a socket's handle directly: each read is parsed in C++ and only the parse events reach
 * JavaScript, with no Readable stream, wasm parser or per-request timer in between — the work
 * undici's client does per response, which the data-plane bench measured as a third of the
 * proxy's CPU per request.
 */
interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  consume(handle: unknown): void;
  unconsume(): void;
  finish(): Error | undefined;
  remove(): void;
  free(): void;
  [callback: number]: unknown;
}

interface NativeParserClass {
  new (): NativeParser;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientNone: number;
}

const { HTTPParser, _checkIsHttpToken: isHttpToken, _checkInvalidHeaderChar: hasInvalidHeaderChar } = require('_http_common') as {
  HTTPParser: NativeParserClass;
  _checkIsHttpToken: (name: string) => boolean;
  _checkInvalidHeaderChar: (value: string) => boolean;
};

/** What undici refuses in a request target: anything outside visible ASCII and Latin-1. */
const INVALID_PATH = /[^\u0021-\u00ff]/;

/** Methods whose requests carry a body by definition: without one they say so (content-length: 0), as undici does. */
const EXPECTS_PAYLOAD = new Set(['POST', 'PUT', 'PATCH', 'QUERY', 'PROPFIND', 'PROPPATCH']);

/** Keep-alive connections idle longer than this are closed (the server may say less, see keepAliveHint). */
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** A server's `Keep-Alive: timeout=N` is trusted to N s minus this, so a request never races its close (undici's threshold). */
const KEEP_ALIVE_HINT_MARGIN_MS = 2_000;

/** The request head as written on the wire; throws on what would let a value end its line early. */
function requestHead(request: UpstreamRequest): string {
  const { method, path, authority, headers } = request;
  if (!isHttpToken(method)) throw new Error(`invalid request method ${JSON.stringify(method)}`);
  if (path === '' || INVALID_PATH.test(path)) throw new Error(`invalid request target ${JSON.stringify(path)}`);
  if (hasInvalidHeaderChar(authority)) throw new Error('invalid host header value');
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${authority}\r\n`;
  for (const name in headers) {
    if (name === 'host') continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (!isHttpToken(name)) throw new Error(`invalid header name ${JSON.stringify(name)}`);
    if (Array.isArray(value)) {
      for (const item of value) {
        if (hasInvalidHeaderChar(item)) throw new Error(`invalid value for header ${name}`);
        head += `${name}: ${item}\r\n`;
      }
    } else {
      const text = String(value);
      if (hasInvalidHeaderChar(text)) throw new Error(`invalid value for header ${name}`);
      head += `${name}: ${text}\r\n`;
    }
  }
  if (EXPECTS_PAYLOAD.has(method) && headers['content-length'] === undefined) head += 'content-length: 0\r\n';
  return `${head}\r\n`;
}

/**
 * The response head as the router relays it: lower-case names, repeated headers as arrays,
 * hop-by-hop headers left out. Also returns the server's keep-alive timeout hint (ms), if any.
 */
function responseHeaders(raw: readonly string[]): { headers: UpstreamHeaders; keepAliveHintMs: number | undefined } {
  const headers: UpstreamHeaders = {};
  let keepAliveHintMs: number | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    if (RESPONSE_HOP_BY_HOP.has(name)) {
      if (name === 'keep-alive') {
        const timeout = /(?:^|[\s,])timeout=(\d+)/i.exec(value);
        if (timeout) keepAliveHintMs = Number(timeout[1]) * 1000;
      }
      continue;
    }
    addHeaderValue(headers, name, value);
  }
  return { headers, keepAliveHintMs };
}

/** One request on a NativeConnection; abort() ends the connection, as a response cannot be left half read. */
class NativeExchange implements UpstreamExchange {
  connection: NativeConnection | undefined;
  aborted = false;
  done = false;

  constructor(
    readonly handler: UpstreamResponseHandler,
    readonly isHead: boolean,
  ) {}

  abort(): void {
    if (this.aborted || this.done) return;
    this.aborted = true;
    this.connection?.abandon(this);
  }

  resume(): void {
    this.connection?.resumeReading();
  }
}

/** One keep-alive connection: a socket whose handle node's parser reads, one request at a time. */
class NativeConnection {
  socket: net.Socket | undefined;
  exchange: NativeExchange | undefined;
  /** The head to write once connected. */
  private pendingHead: string | undefined;
  private readonly parser: NativeParser;
  /** Header lines delivered before their head completed (many headers), or after the body (trailers). */
  private partialHeaders: string[] = [];
  /** The current response is a 1xx: its end is not the exchange's. */
  private interim = false;
  private keepAlive = false;
  private connected = false;
  private paused = false;
  private closed = false;
  idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS;
  idleSince = 0;
  /** Its place among the pool's connections. */
  entry: LinkedListEntry<NativeConnection> | undefined;

  constructor(private readonly pool: NativeHttp1Connections) {
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, {}, 0, HTTPParser.kLenientNone);
    parser[HTTPParser.kOnHeaders] = (lines: string[]): void => {
      for (const line of lines) this.partialHeaders.push(line);
    };
    parser[HTTPParser.kOnHeadersComplete] = (
      _major: number,
      _minor: number,
      raw: string[] | undefined,
      _method: unknown,
      _url: unknown,
      status: number,
      _message: unknown,
      _upgrade: boolean,
      keepAlive: boolean,
    ): number => this.onHeadersComplete(raw, status, keepAlive);
    parser[HTTPParser.kOnBody] = (chunk: Buffer): void => this.onBody(chunk);
    parser[HTTPParser.kOnMessageComplete] = (): void => this.onMessageComplete();
    parser[HTTPParser.kOnExecute] = (result: unknown): void => {
      if (result instanceof Error) this.fail(new UpstreamResetError('protocol error', result));
    };
    this.parser = parser;
  }

  /** Opens the connection for `exchange`, whose head goes out once connected. */
  open(exchange: NativeExchange, head: string): void {
    this.assign(exchange);
    this.pendingHead = head;
    const { host, port, connectTimeoutMs, createSocket } = this.pool;
    connectSocket(createSocket, host, port, connectTimeoutMs, (err, socket) => {
      if (err || !socket) return this.onConnectFailed(err ?? new Error('no socket'));
      this.onConnected(socket);
    });
  }

  /** Sends `exchange` on this (idle, connected) connection. */
  send(exchange: NativeExchange, head: string): void {
    this.assign(exchange);
    (this.socket as net.Socket).write(head, 'latin1');
  }

  private assign(exchange: NativeExchange): void {
    this.exchange = exchange;
    exchange.connection = this;
    this.interim = false;
    this.keepAlive = false;
  }

  get usable(): boolean {
    const socket = this.socket;
    return !this.closed && socket !== undefined && !socket.destroyed && socket.writable && !socket.readableEnded;
  }

  private onConnected(socket: net.Socket): void {
    this.socket = socket;
    this.connected = true;
    // Flowing, so the end of the stream (which the parser hands back to the socket) is seen.
    socket.on('data', () => undefined);
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: Error) => this.fail(new UpstreamResetError('connection termination', err)));
    socket.once('close', () => this.onClose());
    this.parser.consume((socket as unknown as { _handle: unknown })._handle);
    if (this.closed) {
      socket.destroy();
      return;
    }
    const head = this.pendingHead;
    this.pendingHead = undefined;
    if (this.exchange === undefined || this.exchange.aborted) {
      // Aborted while connecting: the fresh connection is still good for the next request.
      this.exchange = undefined;
      this.pool.release(this);
    } else if (head !== undefined) {
      socket.write(head, 'latin1');
    }
  }

  private onConnectFailed(err: Error): void {
    this.closed = true;
    this.pool.forget(this);
    const exchange = this.exchange;
    this.exchange = undefined;
    this.freeParser();
    if (exchange && !exchange.aborted && !exchange.done) {
      exchange.done = true;
      exchange.handler.onUpstreamError(new UpstreamResetError(isConnectFailure(err) ? 'connection failure' : 'connection termination', err));
    }
  }

  private onHeadersComplete(raw: string[] | undefined, status: number, keepAlive: boolean): number {
    const exchange = this.exchange;
    let lines = raw;
    if (lines === undefined) {
      lines = this.partialHeaders;
      this.partialHeaders = [];
    }
    if (exchange === undefined) {
      // A response nobody asked for (bytes on an idle connection): the connection cannot be trusted.
      this.destroy();
      return 1;
    }
    if (status < 200) {
      // 1xx interim responses (100 Continue) are not relayed; the final response follows.
      this.interim = true;
      return 1;
    }
    this.keepAlive = keepAlive;
    const { headers, keepAliveHintMs } = responseHeaders(lines);
    if (keepAliveHintMs !== undefined) this.idleTimeoutMs = Math.min(DEFAULT_IDLE_TIMEOUT_MS, keepAliveHintMs - KEEP_ALIVE_HINT_MARGIN_MS);
    if (!exchange.aborted) exchange.handler.onUpstreamHeaders(status, headers);
    // A HEAD response has no body whatever its content-length says.
    return exchange.isHead ? 1 : 0;
  }

  private onBody(chunk: Buffer): void {
    const exchange = this.exchange;
    if (exchange === undefined || exchange.aborted) return;
    if (!exchange.handler.onUpstreamData(chunk)) this.pauseReading();
  }

  private onMessageComplete(): void {
    if (this.interim) {
      this.interim = false;
      return;
    }
    const exchange = this.exchange;
    const trailerLines = this.partialHeaders;
    this.partialHeaders = [];
    this.exchange = undefined;
    if (exchange !== undefined) {
      exchange.done = true;
      exchange.connection = undefined;
    }
    // Free for the next request before the handler runs (it may send one).
    if (this.keepAlive && this.usable) this.pool.release(this);
    else this.destroy();
    if (exchange === undefined || exchange.aborted) return;
    const trailers = trailerLines.length > 0 ? responseHeaders(trailerLines).headers : undefined;
    exchange.handler.onUpstreamEnd(trailers);
  }

  /** The server closed its side: a body delimited by the close ends here; any other pending response failed. */
  private onEnd(): void {
    if (this.exchange !== undefined) {
      const result = this.parser.finish();
      if (result instanceof Error) this.fail(new UpstreamResetError('connection termination', result));
    }
    this.fail(new UpstreamResetError('connection termination', new Error('upstream closed the connection')));
  }

  private onClose(): void {
    this.fail(new UpstreamResetError('connection termination', new Error('upstream connection closed')));
  }

  /** Ends the connection; an exchange still on it gets `err`. */
  private fail(err: UpstreamResetError): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.destroy();
    if (exchange === undefined || exchange.done) return;
    exchange.done = true;
    exchange.connection = undefined;
    if (!exchange.aborted) exchange.handler.onUpstreamError(err);
  }

  /** The router gave up on `exchange` (timeout, client gone): its response is not read to the end. */
  abandon(exchange: NativeExchange): void {
    if (this.exchange !== exchange) return;
    this.exchange = undefined;
    exchange.connection = undefined;
    // Still connecting: the connection may serve the next request once up.
    if (!this.connected) return;
    this.destroy();
  }

  pauseReading(): void {
    const handle = (this.socket as unknown as { _handle?: { readStop(): number } } | undefined)?._handle;
    if (!this.paused && handle) {
      this.paused = true;
      handle.readStop();
    }
  }

  resumeReading(): void {
    const handle = (this.socket as unknown as { _handle?: { readStart(): number } } | undefined)?._handle;
    if (this.paused && handle) {
      this.paused = false;
      handle.readStart();
    }
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.forget(this);
    this.socket?.destroy();
    this.freeParser();
  }

  private freeParser(): void {
    const parser = this.parser;
    // After the current parse callback has returned: the parser must not be freed under itself.
    setImmediate(() => {
      if (this.connected) parser.unconsume();
      parser.remove();
      parser.free();
    });
  }
}

/**
 * HTTP/1.1 keep-alive connections to one endpoint for requests without a body, read by node's
 * C++ parser (see NativeParser). Idle connections are reused newest first; one the server closed,
 * or that sat longer than its keep-alive allows, is dropped instead.
 */
export class NativeHttp1Connections {
  private readonly idle: NativeConnection[] = [];
  /** Every open connection; upstream connections come and go: a LinkedList, not a Set (see LinkedList). */
  private readonly all = new LinkedList<NativeConnection>();
  private closing = false;
  private sweep: NodeJS.Timeout | undefined;
  private onAllClosed: (() => void) | undefined;
  private allClosed: Promise<void> | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly connectTimeoutMs: number,
    readonly createSocket: () => net.Socket = () => new net.Socket(),
  ) {}

  send(request: UpstreamRequest, handler: UpstreamResponseHandler): UpstreamExchange {
    const exchange = new NativeExchange(handler, request.method === 'HEAD');
    let head: string;
    try {
      head = requestHead(request);
    } catch (err) {
      // As undici refuses such a request: it never reaches the upstream.
      exchange.done = true;
      handler.onUpstreamError(new UpstreamResetError('connection termination', err));
      return exchange;
    }
    const now = performance.now();
    for (let connection = this.idle.pop(); connection !== undefined; connection = this.idle.pop()) {
      if (connection.usable && now - connection.idleSince < connection.idleTimeoutMs) {
        connection.send(exchange, head);
        return exchange;
      }
      connection.destroy();
    }
    const connection = new NativeConnection(this);
    connection.entry = this.all.add(connection);
    connection.open(exchange, head);
    return exchange;
  }

  /** A connection finished its request and may take another. */
  release(connection: NativeConnection): void {
    if (this.closing) {
      connection.destroy();
      return;
    }
    connection.idleSince = performance.now();
    this.idle.push(connection);
    this.sweep ??= setTimeout(() => this.sweepIdle(), 1_000).unref();
  }

  /** A connection closed. */
  forget(connection: NativeConnection): void {
    if (connection.entry) this.all.remove(connection.entry);
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    if (this.all.size === 0) this.onAllClosed?.();
  }

  private sweepIdle(): void {
    this.sweep = undefined;
    const now = performance.now();
    for (const connection of [...this.idle]) if (!connection.usable || now - connection.idleSince >= connection.idleTimeoutMs) connection.destroy();
    if (this.idle.length > 0) this.sweep = setTimeout(() => this.sweepIdle(), 1_000).unref();
  }

  /** Lets requests in flight finish, then closes every connection. */
  close(): Promise<void> {
    if (this.allClosed === undefined) {
      this.closing = true;
      clearTimeout(this.sweep);
      this.allClosed = new Promise<void>((resolve) => (this.onAllClosed = resolve));
      for (const connection of [...this.idle]) connection.destroy();
      if (this.all.size === 0) this.onAllClosed?.();
    }
    return this.allClosed;
  }
}
