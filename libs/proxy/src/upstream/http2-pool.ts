import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { ConnectionPool, UpstreamExchange, UpstreamHeaders, UpstreamRequest, UpstreamResponseHandler } from './types';
import { UpstreamResetError, isConnectFailure } from './types';

export interface Http2PoolOptions {
  connectTimeoutMs: number;
  /** Makes the session's socket (unconnected), e.g. one carrying a datapath mark; default: a plain one. */
  createSocket?: () => net.Socket;
  /** TLS origination (h2 over TLS, ALPN h2) with these options; the origin must then be https:. */
  tls?: tls.ConnectionOptions;
}

/** The exchange of a request that failed before it was sent. */
const NO_EXCHANGE: UpstreamExchange = { abort: () => undefined, resume: () => undefined };

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
    const createSocket = this.options.createSocket;
    const session = createSocket
      ? http2.connect(this.origin, {
          createConnection: (url: URL) => {
            const socket = createSocket();
            socket.setNoDelay(true);
            return socket.connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) });
          },
        })
      : this.options.tls
        ? http2.connect(this.origin, { ...this.options.tls, ALPNProtocols: ['h2'] })
        : http2.connect(this.origin);
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

  send(request: UpstreamRequest, handler: UpstreamResponseHandler): UpstreamExchange {
    if (this.closing) {
      handler.onUpstreamError(new UpstreamResetError('connection termination', new Error('pool closed')));
      return NO_EXCHANGE;
    }
    const state = this.session();
    const headers = request.headers as http2.OutgoingHttpHeaders;
    headers[':method'] = request.method;
    headers[':path'] = request.path;
    headers[':authority'] = request.authority;
    headers[':scheme'] = this.options.tls ? 'https' : 'http';
    let stream: http2.ClientHttp2Stream;
    try {
      stream = state.session.request(headers, { endStream: request.body === null });
    } catch (err) {
      handler.onUpstreamError(new UpstreamResetError(state.connected ? 'protocol error' : 'connection failure', err));
      return NO_EXCHANGE;
    }
    let trailers: UpstreamHeaders | undefined;
    /** No callbacks after the response ended, failed, or was aborted. */
    let settled = false;
    let responded = false;
    stream.once('trailers', (received) => {
      trailers = received as UpstreamHeaders;
    });
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      const cause = state.error ?? err;
      const reason = responded
        ? 'remote reset'
        : !state.connected || isConnectFailure(cause)
          ? 'connection failure'
          : stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM
            ? 'remote refused stream reset'
            : stream.rstCode
              ? 'remote reset'
              : 'connection termination';
      handler.onUpstreamError(new UpstreamResetError(reason, cause));
    };
    stream.once('response', (responseHeaders) => {
      if (settled) return;
      responded = true;
      const status = Number(responseHeaders[':status']);
      const plain: UpstreamHeaders = {};
      for (const name in responseHeaders) {
        if (name.charCodeAt(0) !== 58 /* : */) plain[name] = responseHeaders[name];
      }
      handler.onUpstreamHeaders(status, plain);
      stream.on('data', (chunk: Buffer) => {
        if (!settled && !handler.onUpstreamData(chunk)) stream.pause();
      });
      stream.once('end', () => {
        if (settled) return;
        settled = true;
        handler.onUpstreamEnd(trailers);
      });
    });
    stream.on('error', fail);
    stream.once('close', () => fail(new Error(responded ? 'stream closed before the response ended' : 'stream closed before response headers')));
    const body = request.body;
    if (Buffer.isBuffer(body)) {
      stream.end(body);
    } else if (body !== null) {
      body.pipe(stream);
      stream.once('close', () => body.unpipe(stream));
    }
    return {
      abort: () => {
        settled = true;
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      },
      resume: () => {
        stream.resume();
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
