import * as http2 from 'node:http2';
import type { ConnectionPool, UpstreamExchange, UpstreamRequest, UpstreamResponse } from './types';
import { UpstreamResetError, isConnectFailure } from './types';

export interface Http2PoolOptions {
  connectTimeoutMs: number;
}

interface SessionState {
  session: http2.ClientHttp2Session;
  connected: boolean;
  /** Why the session failed, for requests that were waiting on it. */
  error: unknown;
}

/**
 * One multiplexed h2c (prior knowledge) session to an endpoint, replaced when it closes or the
 * server sends GOAWAY. Requests on a session that never connected fail with "connection failure".
 */
export class Http2ConnectionPool implements ConnectionPool {
  private current: SessionState | undefined;
  private readonly sessions = new Set<SessionState>();
  private closing = false;

  constructor(
    private readonly origin: string,
    private readonly options: Http2PoolOptions,
  ) {}

  private session(): SessionState {
    const live = this.current;
    if (live && !live.session.closed && !live.session.destroyed) return live;
    const session = http2.connect(this.origin);
    const state: SessionState = { session, connected: false, error: undefined };
    const connectTimer = setTimeout(() => {
      const err = Object.assign(new Error(`connect timeout to ${this.origin}`), { code: 'UND_ERR_CONNECT_TIMEOUT' });
      state.error = err;
      session.destroy(err);
    }, this.options.connectTimeoutMs);
    session.once('connect', () => {
      state.connected = true;
      clearTimeout(connectTimer);
    });
    session.on('error', (err) => {
      state.error ??= err;
    });
    session.once('goaway', () => {
      if (this.current === state) this.current = undefined;
    });
    session.once('close', () => {
      clearTimeout(connectTimer);
      this.sessions.delete(state);
      if (this.current === state) this.current = undefined;
    });
    this.sessions.add(state);
    this.current = state;
    return state;
  }

  send(request: UpstreamRequest): UpstreamExchange {
    if (this.closing) {
      return { response: Promise.reject(new UpstreamResetError('connection termination', new Error('pool closed'))), abort: () => undefined };
    }
    const state = this.session();
    const headers: http2.OutgoingHttpHeaders = {
      ...request.headers,
      ':method': request.method,
      ':path': request.path,
      ':authority': request.authority,
      ':scheme': 'http',
    };
    let stream: http2.ClientHttp2Stream;
    try {
      stream = state.session.request(headers, { endStream: request.body === null });
    } catch (err) {
      return { response: Promise.reject(new UpstreamResetError(state.connected ? 'protocol error' : 'connection failure', err)), abort: () => undefined };
    }
    let trailers: Record<string, string | string[] | undefined> | undefined;
    stream.once('trailers', (received) => {
      trailers = received as Record<string, string | string[] | undefined>;
    });
    const response = new Promise<UpstreamResponse>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        const cause = state.error ?? err;
        const reason = !state.connected || isConnectFailure(cause) ? 'connection failure' : stream.rstCode ? 'remote reset' : 'connection termination';
        reject(new UpstreamResetError(reason, cause));
      };
      stream.once('response', (responseHeaders) => {
        if (settled) return;
        settled = true;
        const status = Number(responseHeaders[':status']);
        const plain: Record<string, string | string[] | undefined> = {};
        for (const name of Object.keys(responseHeaders)) {
          if (name.charCodeAt(0) !== 58 /* : */) plain[name] = responseHeaders[name];
        }
        resolve({ status, headers: plain, body: stream, trailers: () => trailers });
      });
      stream.once('error', fail);
      stream.once('close', () => fail(new Error('stream closed before response headers')));
    });
    // Swallow late errors: after the response started, the body stream reports them to its reader.
    stream.on('error', () => undefined);
    if (request.body !== null) {
      const body = request.body;
      body.pipe(stream);
      stream.once('close', () => body.unpipe(stream));
    }
    return {
      response,
      abort: () => {
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      },
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    this.current = undefined;
    await Promise.all(
      [...this.sessions].map(
        (state) =>
          new Promise<void>((resolve) => {
            if (state.session.closed || state.session.destroyed) return resolve();
            state.session.close(() => resolve());
          }),
      ),
    );
  }
}
