import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * A socket whose first, already-read bytes are replayed. Node's HTTP/2 server reads from the
 * native socket handle and would miss bytes given back with unshift(), so h2c connections get
 * this JS stream instead.
 */
class ReplayedSocket extends Duplex {
  constructor(
    private readonly socket: net.Socket,
    first: Buffer,
  ) {
    super();
    this.push(first);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (err) => this.destroy(err));
  }
  override _read(): void {
    this.socket.resume();
  }
  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, callback);
  }
  override _final(callback: () => void): void {
    this.socket.end(callback);
  }
  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}

/**
 * The JSON an echo backend answers with. It has the shape of the Gateway API conformance suite's
 * echo-basic image (path, host, method, proto, headers as canonical-name → values, namespace,
 * pod), so the same assertions work against it; `protocol` repeats `proto` under the name
 * tendril's docs use.
 */
export interface EchoResponse {
  path: string;
  host: string;
  method: string;
  proto: string;
  protocol: string;
  headers: Record<string, string[]>;
  namespace: string;
  ingress: string;
  service: string;
  pod: string;
}

export interface EchoServerOptions {
  port?: number;
  host?: string;
  /** Defaults to the NAMESPACE environment variable, as in the conformance echo image. */
  namespace?: string;
  /** Defaults to the POD_NAME environment variable. */
  pod?: string;
  /** Called with every request's echo (tests use it to see mirrored traffic). */
  onRequest?: (echo: EchoResponse) => void;
}

export interface EchoServer {
  port: number;
  host: string;
  url: string;
  close(): Promise<void>;
}

/** A Go duration ("1s", "250ms", "1m30s"), as the conformance echo image's ?delay= takes it, in ms. */
export function parseGoDuration(text: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((ms, p) => ms + Number(p[1]) * units[p[2]], 0);
}

/**
 * Response headers asked for with X-Echo-Set-Header ("Name:value,Other:value"), as the
 * conformance echo image sets them: repeated names are joined with commas.
 */
function requestedResponseHeaders(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const list of values) {
    for (const kv of list.split(',')) {
      const trimmed = kv.trim();
      const i = trimmed.indexOf(':');
      if (i <= 0) continue;
      const name = trimmed.slice(0, i);
      const value = trimmed.slice(i + 1).trim();
      out[name] = out[name] === undefined ? value : `${out[name]},${value}`;
    }
  }
  return out;
}

/** Canonical MIME header key as Go's net/http writes it (content-type → Content-Type). */
function canonicalHeaderName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
}

function echoHeaders(rawHeaders: string[]): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.startsWith(':')) continue; // HTTP/2 pseudo-headers are reported as host/method/path
    const key = canonicalHeaderName(name.toLowerCase());
    (headers[key] ??= []).push(rawHeaders[i + 1]);
  }
  return headers;
}

/**
 * Starts an echo backend serving HTTP/1.1 and h2c (prior knowledge) on one port. Like the
 * conformance echo image it answers /status/NNN with NNN, waits for ?delay=<Go duration>, and sets
 * the response headers listed in X-Echo-Set-Header; `x-echo-set-status` and `x-echo-delay-ms` do
 * the same by header.
 */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const namespace = options.namespace ?? process.env['NAMESPACE'] ?? '';
  const pod = options.pod ?? process.env['POD_NAME'] ?? '';
  const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    const proto = req.httpVersion === '2.0' ? 'HTTP/2.0' : `HTTP/${req.httpVersion}`;
    const body: EchoResponse = {
      path: req.url ?? '/',
      host: (req.headers[':authority'] as string | undefined) ?? req.headers.host ?? '',
      method: req.method ?? 'GET',
      proto,
      protocol: proto,
      headers: echoHeaders(req.rawHeaders),
      namespace,
      ingress: '',
      service: '',
      pod,
    };
    options.onRequest?.(body);
    const url = new URL(req.url ?? '/', 'http://echo');
    // /status/NNN answers NNN, as the conformance echo image does; so does x-echo-set-status.
    const statusPath = /^\/status\/(\d{3})$/.exec(url.pathname);
    const requestedStatus = Number(statusPath?.[1] ?? req.headers['x-echo-set-status']);
    const queryDelay = url.searchParams.get('delay');
    const delayMs = queryDelay !== null ? (parseGoDuration(queryDelay) ?? 0) : Number(req.headers['x-echo-delay-ms'] ?? 0);
    const setHeaders = req.headers['x-echo-set-header'];
    const extraHeaders = requestedResponseHeaders(setHeaders === undefined ? [] : Array.isArray(setHeaders) ? setHeaders : [setHeaders]);
    const respond = (): void => {
      if (res.destroyed) return;
      const payload = JSON.stringify(body);
      (res as http.ServerResponse).writeHead(requestedStatus >= 200 && requestedStatus < 600 ? requestedStatus : 200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
        'x-content-type-options': 'nosniff',
        ...extraHeaders,
      });
      res.end(payload);
    };
    // Drain the request body before answering so HTTP/1.1 keep-alive connections stay usable.
    req.on('data', () => undefined);
    req.on('end', () => (delayMs > 0 ? setTimeout(respond, delayMs) : respond()));
    req.on('error', () => undefined);
  };
  // Node's cleartext HTTP/2 server does not fall back to HTTP/1.1, so one listener sniffs the
  // connection preface and hands the socket to the right server.
  const h1 = http.createServer(handler);
  const h2 = http2.createServer(handler);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      if (first.subarray(0, 3).toString('latin1') === 'PRI') {
        h2.emit('connection', new ReplayedSocket(socket, first));
      } else {
        socket.pause();
        socket.unshift(first);
        h1.emit('connection', socket);
        socket.resume();
      }
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    host,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
