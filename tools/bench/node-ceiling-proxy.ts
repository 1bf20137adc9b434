/**
 * The data-plane bench's reference rows: the least a Node reverse proxy does per request, one Node
 * thread, a node:http server, and nothing else — no routing, access log, timeouts or header rules.
 * Not a product: it forwards every request (bodies are not supported) to one backend.
 *
 *   node --require tsx/cjs tools/bench/node-ceiling-proxy.ts <listen-port> <backend-port> [undici|lean|lean-server]
 *
 * `undici` (default): upstream requests through an undici Pool with a callback handler, as
 * tendril-proxy sends them. Its requests/s is the ceiling for tendril-proxy as built, so the bench
 * tells tendril's own cost (tendril vs this row) from Node's (this row vs nginx).
 *
 * `lean`: upstream HTTP/1.1 on keep-alive sockets whose responses node's C++ llhttp parses straight
 * off the socket handle (parser.consume, as node's HTTP server reads requests): no streams, no
 * wasm parser, no per-request timers. What an upstream client of that kind could buy — it uses
 * node's internal HTTPParser, and handles only what this bench sends (GET, no request body,
 * responses with a length or chunked).
 *
 * `lean-server`: the lean upstream client behind a server that is lean too: no node:http server,
 * node's llhttp parses requests straight off each accepted socket's handle and a response goes out
 * as one corked write — what serving HTTP/1.1 downstream without IncomingMessage, ServerResponse
 * and their streams could buy (requests without a body only, no pipelining).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { Pool, type Dispatcher } from 'undici';

const [listenPort, backendPort] = process.argv.slice(2, 4).map(Number);
const client = process.argv[4] ?? 'undici';
if (!Number.isInteger(listenPort) || !Number.isInteger(backendPort) || (client !== 'undici' && client !== 'lean' && client !== 'lean-server')) {
  process.stderr.write('usage: node-ceiling-proxy.ts <listen-port> <backend-port> [undici|lean|lean-server]\n');
  process.exit(2);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

type Forward = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function undiciForward(): Forward {
  const pool = new Pool(`http://127.0.0.1:${backendPort}`, { headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 60_000 });
  pool.on('connectionError', () => undefined);
  const relay = (res: http.ServerResponse): Dispatcher.DispatchHandler => ({
    onConnect: () => undefined,
    onHeaders(status, raw) {
      const headers: Record<string, string> = {};
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i].toString('latin1').toLowerCase();
        if (!HOP_BY_HOP.has(name)) headers[name] = raw[i + 1].toString('latin1');
      }
      res.writeHead(status, headers);
      return true;
    },
    onData: (chunk) => res.write(chunk),
    onComplete: () => res.end(),
    onError() {
      if (!res.headersSent) res.writeHead(502, { 'content-length': 0 });
      res.end();
    },
  });
  return (req, res) => {
    const headers: Record<string, string | string[]> = {};
    for (const name in req.headers) if (!HOP_BY_HOP.has(name)) headers[name] = req.headers[name] as string | string[];
    pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.url ?? '/', headers }, relay(res));
  };
}

/** node's C++ HTTP parser binding (internal to node; the same one its HTTP server and client use). */
interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  consume(handle: unknown): void;
  [callback: number]: unknown;
}
interface NativeParserClass {
  new (): NativeParser;
  REQUEST: number;
  RESPONSE: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}
const { HTTPParser, methods } = require('_http_common') as { HTTPParser: NativeParserClass; methods: string[] };

/** Where the lean client relays a response: a node:http ServerResponse, or a lean-server socket. */
interface ResponseSink {
  writeHead(status: number, headers: Record<string, string>): void;
  write(chunk: Buffer): void;
  end(): void;
  /** The upstream connection closed before the response was complete. */
  fail(): void;
}

function serverResponseSink(res: http.ServerResponse): ResponseSink {
  return {
    writeHead: (status, headers) => void res.writeHead(status, headers),
    write: (chunk) => void res.write(chunk),
    end: () => void res.end(),
    fail: () => (res.headersSent ? res.destroy() : void res.writeHead(502, { 'content-length': 0 }).end()),
  };
}

interface LeanConnection {
  socket: net.Socket;
  response: ResponseSink | null;
  keepAlive: boolean;
  /** The request head written once the connection is up. */
  pending: string | null;
}

type LeanForward = (method: string, url: string, headers: Iterable<[string, string]>, sink: ResponseSink) => void;

function leanForward(): LeanForward {
  const idle: LeanConnection[] = [];
  const connect = (): LeanConnection => {
    const socket = net.connect(backendPort, '127.0.0.1');
    socket.setNoDelay(true);
    const conn: LeanConnection = { socket, response: null, keepAlive: false, pending: null };
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, {}, 0, 0);
    parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, raw: string[], _method: unknown, _url: unknown, status: number, _message: unknown, _upgrade: boolean, keepAlive: boolean): number => {
      const headers: Record<string, string> = {};
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i].toLowerCase();
        if (!HOP_BY_HOP.has(name)) headers[name] = raw[i + 1];
      }
      conn.keepAlive = keepAlive;
      conn.response?.writeHead(status, headers);
      return 0;
    };
    parser[HTTPParser.kOnBody] = (chunk: Buffer): void => void conn.response?.write(chunk);
    parser[HTTPParser.kOnMessageComplete] = (): void => {
      const response = conn.response;
      conn.response = null;
      response?.end();
      if (conn.keepAlive) idle.push(conn);
      else socket.destroy();
    };
    parser[HTTPParser.kOnExecute] = (result: unknown): void => {
      if (result instanceof Error) socket.destroy();
    };
    socket.once('connect', () => {
      parser.consume((socket as unknown as { _handle: unknown })._handle);
      if (conn.pending !== null) socket.write(conn.pending, 'latin1');
      conn.pending = null;
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      const at = idle.indexOf(conn);
      if (at >= 0) idle.splice(at, 1);
      conn.response?.fail();
    });
    return conn;
  };
  return (method, url, headers, sink) => {
    let head = `${method} ${url} HTTP/1.1\r\n`;
    for (const [name, value] of headers) {
      if (HOP_BY_HOP.has(name)) continue;
      head += `${name}: ${value}\r\n`;
    }
    head += '\r\n';
    const conn = idle.pop() ?? connect();
    conn.response = sink;
    if (conn.socket.connecting) conn.pending = head;
    else conn.socket.write(head, 'latin1');
  };
}

function* requestHeaders(req: http.IncomingMessage): Iterable<[string, string]> {
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value !== undefined) yield [name, Array.isArray(value) ? value.join(', ') : value];
  }
}

function* rawHeaderPairs(raw: string[]): Iterable<[string, string]> {
  for (let i = 0; i + 1 < raw.length; i += 2) yield [raw[i].toLowerCase(), raw[i + 1]];
}

/** A socket-level HTTP/1.1 server for `lean-server`: requests parsed off the handle, each response one corked write. */
function leanServer(forward: LeanForward): net.Server {
  return net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    let keepAlive = true;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
    const sink: ResponseSink = {
      writeHead(status, headers) {
        let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n`;
        for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
        if (!keepAlive) head += 'connection: close\r\n';
        socket.cork();
        socket.write(`${head}\r\n`, 'latin1');
      },
      write: (chunk) => void socket.write(chunk),
      end() {
        socket.uncork();
        if (!keepAlive) socket.end();
      },
      fail: () => void socket.destroy(),
    };
    parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, raw: string[], method: number, url: string, _status: unknown, _message: unknown, _upgrade: boolean, shouldKeepAlive: boolean): number => {
      keepAlive = shouldKeepAlive;
      forward(methods[method], url, rawHeaderPairs(raw), sink);
      return 0;
    };
    parser[HTTPParser.kOnExecute] = (result: unknown): void => {
      if (result instanceof Error) socket.destroy();
    };
    parser.consume((socket as unknown as { _handle: unknown })._handle);
    socket.resume();
  });
}

const server =
  client === 'lean-server'
    ? leanServer(leanForward())
    : http.createServer(
        { requestTimeout: 0 },
        client === 'lean'
          ? ((): Forward => {
              const forward = leanForward();
              return (req, res) => forward(req.method ?? 'GET', req.url ?? '/', requestHeaders(req), serverResponseSink(res));
            })()
          : undiciForward(),
      );
if (server instanceof http.Server) server.keepAliveTimeout = 0;
server.listen(listenPort, '127.0.0.1');
// A clean exit on SIGTERM, so that a --cpu-prof profile gets written.
process.once('SIGTERM', () => process.exit(0));
