import { Pool } from 'undici';
import type { ConnectionPool, UpstreamExchange, UpstreamRequest, UpstreamResponse } from './types';
import { UpstreamResetError, isConnectFailure } from './types';

export interface Http1PoolOptions {
  connectTimeoutMs: number;
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

  send(request: UpstreamRequest): UpstreamExchange {
    const controller = new AbortController();
    const headers = { ...request.headers, host: request.authority };
    const response = this.pool
      .request({
        method: request.method,
        path: request.path,
        headers: headers as Record<string, string | string[]>,
        body: request.body,
        signal: controller.signal,
      })
      .then(
        (data): UpstreamResponse => ({
          status: data.statusCode,
          headers: data.headers,
          body: data.body,
          trailers: () => data.trailers,
        }),
        (err: unknown) => {
          throw new UpstreamResetError(isConnectFailure(err) ? 'connection failure' : 'connection termination', err);
        },
      );
    return { response, abort: () => controller.abort() };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
