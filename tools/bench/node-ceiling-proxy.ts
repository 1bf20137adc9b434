/**
 * The data-plane bench's reference rows: the least a Node reverse proxy does per request, one Node
 * thread, a node:http server, and nothing else — no routing, access log, timeouts or header rules.
 * Not a product: it forwards every request (bodies are not supported) to one backend.
 *
 *   node --require tsx/cjs tools/bench/node-ceiling-proxy.ts <listen-port> <backend-port> [undici|lean]
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
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { Pool, type Dispatcher } from 'undici';

const [listenPort, backendPort] = process.argv.slice(2, 4).map(Number);
const client = process.argv[4] ?? 'undici';
if (!Number.isInteger(listenPort) || !Number.isInteger(backendPort) || (client !== 'undici' && client !== 'lean')) {
  process.stderr.write('usage: node-ceiling-proxy.ts <listen-port> <backend-port> [undici|lean]\n');
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
  RESPONSE: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}
const { HTTPParser } = require('_http_common') as { HTTPParser: NativeParserClass };

interface LeanConnection {
  socket: net.Socket;
  response: http.ServerResponse | null;
  keepAlive: boolean;
  /** The request head written once the connection is up. */
  pending: string | null;
}

function leanForward(): Forward {
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
      if (conn.response && !conn.response.headersSent) conn.response.writeHead(502, { 'content-length': 0 }).end();
      else conn.response?.destroy();
    });
    return conn;
  };
  return (req, res) => {
    let head = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (const name in req.headers) {
      const value = req.headers[name];
      if (name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding' || name === 'upgrade' || name === 'proxy-connection' || name === 'te' || name === 'trailer') continue;
      head += `${name}: ${Array.isArray(value) ? value.join(', ') : value}\r\n`;
    }
    head += '\r\n';
    const conn = idle.pop() ?? connect();
    conn.response = res;
    if (conn.socket.connecting) conn.pending = head;
    else conn.socket.write(head, 'latin1');
  };
}

const forward = client === 'lean' ? leanForward() : undiciForward();
const server = http.createServer({ requestTimeout: 0 }, forward);
server.keepAliveTimeout = 0;
server.listen(listenPort, '127.0.0.1');
// A clean exit on SIGTERM, so that a --cpu-prof profile gets written.
process.once('SIGTERM', () => process.exit(0));
