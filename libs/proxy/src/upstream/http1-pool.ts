import { Pool, util as undiciUtil, type Dispatcher } from 'undici';
import type { ConnectionPool, UpstreamExchange, UpstreamHeaders, UpstreamRequest, UpstreamResponseHandler } from './types';
import { UpstreamResetError, isConnectFailure } from './types';

export interface Http1PoolOptions {
  connectTimeoutMs: number;
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
    this.handler.onUpstreamHeaders(statusCode, undiciUtil.parseHeaders(rawHeaders) as UpstreamHeaders);
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
    if (this.body && !this.body.destroyed) this.body.destroy(err);
    if (this.aborted) return;
    this.handler.onUpstreamError(new UpstreamResetError(isConnectFailure(err) ? 'connection failure' : 'connection termination', err));
  }
}

/** HTTP/1.1 keep-alive connections to one endpoint through an undici Pool. */
export class Http1ConnectionPool implements ConnectionPool {
  private readonly pool: Pool;

  constructor(origin: string, options: Http1PoolOptions) {
    this.pool = new Pool(origin, {
      connect: { timeout: options.connectTimeoutMs },
      // The router owns request timeouts (route timeout, per_try_timeout), as in Envoy.
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 60_000,
    });
    // An idle connection error must not crash the process; requests see their own errors.
    this.pool.on('connectionError', () => undefined);
  }

  send(request: UpstreamRequest, handler: UpstreamResponseHandler): UpstreamExchange {
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
    await this.pool.close();
  }
}
