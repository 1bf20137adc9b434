import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { Duplex } from 'node:stream';
import { acceptEchoWebSocket } from './websocket-echo';

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
  /** Only for requests that came over TLS (the HTTPS port); names as Go's crypto/tls writes them. */
  tls?: { version: string; serverName: string; negotiatedProtocol: string; cipherSuite: string; peerCertificates?: string[] };
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
  /**
   * Where the per-request line "Echoing back request made to <RequestURI> to client (<addr>)" goes,
   * the line the conformance echo image logs and the mirror tests look for in a pod's output.
   * Default: standard output when running as a pod (POD_NAME set, as for `tendril echo` pods),
   * else nowhere, so an echo server embedded in a test stays quiet. `false`: nowhere.
   */
  requestLog?: ((line: string) => void) | false;
  /**
   * A second port that speaks only h2c with prior knowledge, as the conformance echo image's 3001
   * (H2C_PORT) does: a client that does not start with the HTTP/2 preface gets 400. Default: none.
   */
  h2cPort?: number;
  /**
   * An HTTPS port serving this certificate (PEM), HTTP/1.1 and h2 by ALPN, as the conformance echo
   * image's 8443 (HTTPS_PORT) with TLS_SERVER_CERT and TLS_SERVER_PRIVKEY set. Default: none.
   */
  tls?: {
    cert: string;
    key: string;
    port?: number;
    /**
     * CA certificates (PEM) client certificates are checked against, as the echo image does with
     * TLS_CLIENT_CACERTS: a client certificate is asked for, one that does not verify ends the
     * connection, none is fine.
     */
    clientCa?: string;
  };
}

export interface EchoServer {
  port: number;
  /** The h2c-only port, when `h2cPort` asked for one. */
  h2cPort?: number;
  /** The HTTPS port, when `tls` asked for one. */
  httpsPort?: number;
  host: string;
  url: string;
  close(): Promise<void>;
}

/** The client's certificate chain as PEM blocks, leaf first (the echo image's tls.peerCertificates). */
function peerCertificatesPem(socket: tls.TLSSocket): string[] {
  const pems: string[] = [];
  const seen = new Set<string>();
  for (let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); cert?.raw && !seen.has(cert.fingerprint256); cert = cert.issuerCertificate) {
    seen.add(cert.fingerprint256);
    pems.push(`-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`);
  }
  return pems;
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

/** host:port of the peer, as Go's RemoteAddr writes it ([v6]:port for IPv6). */
function clientAddress(socket: net.Socket | undefined): string {
  const address = socket?.remoteAddress ?? '';
  return `${address.includes(':') ? `[${address}]` : address}:${socket?.remotePort ?? 0}`;
}

/** How a simulated failed attempt ends. */
interface SimulatedFailure {
  kind: 'status' | 'reset';
  status?: number;
  message?: string;
  delayMs: number;
  attempt: number;
  of: number;
}

/** Attempts remembered at most; the oldest uuid is forgotten first. */
const RETRY_SIMULATION_MEMORY = 10_000;

/**
 * The conformance echo image's retry simulation: under /retry, the first `succeedAfter` requests
 * carrying one `uuid` fail — with HTTP status `responseCode`, or with a connection reset when it is
 * absent — after `delayRetry` (a Go duration) when given; later ones are echoed.
 */
class RetrySimulation {
  private readonly attempts = new Map<string, number>();

  failure(url: URL): SimulatedFailure | undefined {
    if (url.pathname !== '/retry' && !url.pathname.startsWith('/retry/')) return undefined;
    const uuid = url.searchParams.get('uuid');
    const succeedAfter = Number(url.searchParams.get('succeedAfter'));
    const delay = url.searchParams.get('delayRetry');
    const delayMs = delay === null ? 0 : parseGoDuration(delay);
    const code = url.searchParams.get('responseCode');
    const status = code === null ? undefined : Number(code);
    if (!uuid || !Number.isInteger(succeedAfter) || succeedAfter < 0 || delayMs === undefined || (status !== undefined && !(Number.isInteger(status) && status >= 100 && status < 600))) {
      return { kind: 'status', status: 400, message: '/retry needs uuid and succeedAfter (a count), and takes responseCode (an HTTP status) and delayRetry (a duration)', delayMs: 0, attempt: 0, of: 0 };
    }
    const attempt = (this.attempts.get(uuid) ?? 0) + 1;
    this.attempts.delete(uuid);
    this.attempts.set(uuid, attempt);
    if (this.attempts.size > RETRY_SIMULATION_MEMORY) this.attempts.delete(this.attempts.keys().next().value as string);
    if (attempt > succeedAfter) return undefined;
    return status === undefined ? { kind: 'reset', delayMs, attempt, of: succeedAfter } : { kind: 'status', status, delayMs, attempt, of: succeedAfter };
  }
}

/** Ends a request with a connection reset (HTTP/1.1: TCP RST) or a stream reset (HTTP/2). */
function resetRequest(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
  if ('stream' in res && res.stream) {
    res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const socket = (req as http.IncomingMessage).socket;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * Starts an echo backend serving HTTP/1.1 and h2c (prior knowledge) on one port. Like the
 * conformance echo image it answers /status/NNN with NNN, waits for ?delay=<Go duration>, and sets
 * the response headers listed in X-Echo-Set-Header, simulates failing attempts under /retry
 * (see RetrySimulation) and echoes WebSocket messages on /ws; `x-echo-set-status` and `x-echo-delay-ms` do the same by header.
 */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const retrySimulation = new RetrySimulation();
  const namespace = options.namespace ?? process.env['NAMESPACE'] ?? '';
  const pod = options.pod ?? process.env['POD_NAME'] ?? '';
  const requestLog = options.requestLog ?? (process.env['POD_NAME'] ? (line: string) => process.stdout.write(`${line}\n`) : false);
  const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    if (requestLog) requestLog(`Echoing back request made to ${req.url ?? '/'} to client (${clientAddress(req.socket)})`);
    const proto = req.httpVersion === '2.0' ? 'HTTP/2.0' : `HTTP/${req.httpVersion}`;
    const socket = 'stream' in req ? req.stream.session?.socket : req.socket;
    const secure = socket instanceof tls.TLSSocket ? socket : undefined;
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
      ...(secure
        ? {
            tls: {
              version: (secure.getProtocol() ?? '').replace(/^TLSv(\d)\.(\d)$/, 'TLS $1.$2'),
              serverName: typeof secure.servername === 'string' ? secure.servername : '',
              negotiatedProtocol: secure.alpnProtocol || '',
              cipherSuite: secure.getCipher().standardName,
              ...(options.tls?.clientCa ? { peerCertificates: peerCertificatesPem(secure) } : {}),
            },
          }
        : {}),
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
    const failure = retrySimulation?.failure(url);
    if (failure) {
      req.on('data', () => undefined);
      req.on('error', () => undefined);
      const fail = (): void => {
        if (failure.kind === 'reset') resetRequest(req, res);
        else if (!res.destroyed) {
          const payload = JSON.stringify({ message: failure.message ?? `simulated failure ${failure.attempt} of ${failure.of}` });
          (res as http.ServerResponse).writeHead(failure.status ?? 400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
          res.end(payload);
        }
      };
      req.on('end', () => (failure.delayMs > 0 ? setTimeout(fail, failure.delayMs) : fail()));
      return;
    }
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
  // /ws echoes WebSocket messages, as the conformance echo image's does; other upgrades are refused.
  h1.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://echo').pathname === '/ws') acceptEchoWebSocket(req, socket, head);
    else socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  const h2 = http2.createServer(handler);
  const sockets = new Set<net.Socket>();
  const accept = (h2cOnly: boolean) => (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      if (first.subarray(0, 3).toString('latin1') === 'PRI') {
        h2.emit('connection', new ReplayedSocket(socket, first));
      } else if (h2cOnly) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 40\r\n\r\nthis port speaks h2c (prior knowledge)\r\n');
      } else {
        socket.pause();
        socket.unshift(first);
        h1.emit('connection', socket);
        socket.resume();
      }
    });
  };
  const host = options.host ?? '127.0.0.1';
  const listen = (server: net.Server, port: number): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const server = net.createServer(accept(false));
  const port = await listen(server, options.port ?? 0);
  const h2cServer = options.h2cPort === undefined ? undefined : net.createServer(accept(true));
  let h2cPort: number | undefined;
  try {
    h2cPort = h2cServer && (await listen(h2cServer, options.h2cPort ?? 0));
  } catch (err) {
    server.close();
    throw err;
  }
  const clientCa = options.tls?.clientCa;
  const httpsServer = options.tls
    ? http2.createSecureServer({ cert: options.tls.cert, key: options.tls.key, allowHTTP1: true, ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: false } : {}) }, handler)
    : undefined;
  // Go's VerifyClientCertIfGiven: a certificate that does not verify ends the connection; none is
  // fine. Checked before the HTTP server takes the connection (hence prepended).
  if (clientCa) {
    httpsServer?.prependListener('secureConnection', (socket: tls.TLSSocket) => {
      if (!socket.authorized && Object.keys(socket.getPeerCertificate() ?? {}).length > 0) socket.destroy();
    });
  }
  httpsServer?.on('secureConnection', (socket: tls.TLSSocket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  let httpsPort: number | undefined;
  try {
    httpsPort = httpsServer && (await listen(httpsServer, options.tls?.port ?? 0));
  } catch (err) {
    server.close();
    h2cServer?.close();
    throw err;
  }
  const closeServer = (s: net.Server | undefined): Promise<void> => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
  return {
    port,
    ...(h2cPort !== undefined ? { h2cPort } : {}),
    ...(httpsPort !== undefined ? { httpsPort } : {}),
    host,
    url: `http://${host}:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([closeServer(server), closeServer(h2cServer), closeServer(httpsServer)]);
    },
  };
}
