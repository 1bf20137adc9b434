import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { buildConnector, Pool, util as undiciUtil, type Dispatcher } from 'undici';
import { NativeHttp1Connections } from './native-http1';
import { socketConnector } from './socket-connector';
import type { ConnectionPool, UpstreamExchange, UpstreamHeaders, UpstreamRequest, UpstreamResponseHandler } from './types';
import { RESPONSE_HOP_BY_HOP, UpstreamResetError, addHeaderValue, isConnectFailure } from './types';

/**
 * undici's raw response head as the router relays it: lower-case names (well-known ones without
 * allocating), latin1 values (the bytes as received), repeated headers as arrays, hop-by-hop headers
 * left out here rather than deleted later (a delete makes the object slow for the writes after it).
 */
function responseHeaders(raw: Buffer[]): UpstreamHeaders {
  const headers: UpstreamHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = undiciUtil.headerNameToString(raw[i]);
    if (RESPONSE_HOP_BY_HOP.has(name)) continue;
    const value = raw[i + 1].toString('latin1');
    addHeaderValue(headers, name, value);
  }
  return headers;
}

export interface Http1PoolOptions {
  connectTimeoutMs: number;
  /** Makes each connection's socket (unconnected), e.g. one carrying a datapath mark; default: a plain one. */
  createSocket?: () => net.Socket;
  /** TLS origination: each connection does a TLS handshake with these options (the origin must then be https:). */
  tls?: tls.ConnectionOptions;
}

/**
 * One request on undici's dispatcher, relaying the response to the router's handler as it is
 * parsed: no Readable body, no AbortController, no promise per request. Uses undici's
 * callback-style handler interface, which its HTTP/1.1 client calls without an adapter.
 */
class Http1Exchange implements UpstreamExchange, Dispatcher.DispatchHandler {
  private undiciAbort: ((err?: Error) => void) | undefined;
  private undiciResume: (() => void) | undefined;
  private aborted = false;
  private done = false;

  constructor(
    private readonly handler: UpstreamResponseHandler,
    private readonly body: UpstreamRequest['body'],
  ) {}

  abort(): void {
    if (this.aborted || this.done) return;
    this.aborted = true;
    // Before onConnect the request is still queued in the pool; onConnect aborts it then.
    this.undiciAbort?.();
  }

  resume(): void {
    this.undiciResume?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.undiciAbort = abort;
    if (this.aborted) abort();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.aborted) return true;
    // 1xx interim responses (100 Continue) are not relayed, as before.
    if (statusCode < 200) return true;
    this.undiciResume = resume;
    this.handler.onUpstreamHeaders(statusCode, responseHeaders(rawHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.aborted) return true;
    return this.handler.onUpstreamData(chunk);
  }

  onComplete(rawTrailers: string[] | null): void {
    this.done = true;
    if (this.aborted) return;
    const trailers = rawTrailers && rawTrailers.length > 0 ? (undiciUtil.parseHeaders(rawTrailers as unknown as Buffer[]) as UpstreamHeaders) : undefined;
    this.handler.onUpstreamEnd(trailers);
  }

  onError(err: Error): void {
    this.done = true;
    // A request body that is still streaming has nowhere to go now.
    const body = this.body;
    if (body !== null && !Buffer.isBuffer(body) && !body.destroyed) body.destroy(err);
    if (this.aborted) return;
    this.handler.onUpstreamError(new UpstreamResetError(isConnectFailure(err) ? 'connection failure' : 'connection termination', err));
  }
}

/**
 * undici's TLS connector with the cluster's SNI: undici would otherwise send each request's Host as
 * the server name, where Envoy sends the configured `sni` (or none) whatever the Host.
 */
function tlsConnector(tls: tls.ConnectionOptions, timeoutMs: number): buildConnector.connector {
  const connect = buildConnector({ ...tls, timeout: timeoutMs } as buildConnector.BuildOptions);
  return (options, callback) => connect({ ...options, servername: tls.servername }, callback);
}

/**
 * HTTP/1.1 keep-alive connections to one endpoint. Requests without a body on a cleartext
 * upstream — nearly all of them — go over connections node's C++ parser reads (NativeHttp1Connections,
 * the cheapest path node has); requests with a body, and TLS upstreams, go through an undici Pool.
 */
export class Http1ConnectionPool implements ConnectionPool {
  private readonly pool: Pool;
  private readonly native: NativeHttp1Connections | undefined;

  constructor(origin: string, options: Http1PoolOptions) {
    if (options.tls && options.createSocket) throw new Error('TLS origination over a marked datapath socket is not supported');
    if (!options.tls) {
      const url = new URL(origin);
      // An IPv6 literal keeps its brackets in a URL's hostname; a socket wants the bare address.
      const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      this.native = new NativeHttp1Connections(host, Number(url.port || 80), options.connectTimeoutMs, options.createSocket);
    }
    this.pool = new Pool(origin, {
      connect: options.createSocket ? socketConnector(options.createSocket, options.connectTimeoutMs) : options.tls ? tlsConnector(options.tls, options.connectTimeoutMs) : { timeout: options.connectTimeoutMs },
      // The router owns request timeouts (route timeout, per_try_timeout), as in Envoy.
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 60_000,
    });
    // An idle connection error must not crash the process; requests see their own errors.
    this.pool.on('connectionError', () => undefined);
  }

  send(request: UpstreamRequest, handler: UpstreamResponseHandler): UpstreamExchange {
    if (this.native !== undefined && request.body === null) return this.native.send(request, handler);
    const headers = request.headers;
    headers.host = request.authority;
    const exchange = new Http1Exchange(handler, request.body);
    this.pool.dispatch(
      {
        method: request.method as Dispatcher.HttpMethod,
        path: request.path,
        headers: headers as Record<string, string | string[]>,
        body: request.body,
      },
      exchange,
    );
    return exchange;
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.native?.close()]);
  }
}
