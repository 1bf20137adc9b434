import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

export interface UpstreamRequest {
  method: string;
  path: string;
  /** Sent as Host (HTTP/1.1) or :authority (HTTP/2). */
  authority: string;
  /** Lower-case names; no Host, pseudo or hop-by-hop headers. Handed over: the pool may add to it. */
  headers: OutgoingHttpHeaders;
  /** Null when the request has no body; a Buffer when the whole body is at hand (a retried request's). */
  body: Readable | Buffer | null;
}

export type UpstreamHeaders = Record<string, string | string[] | undefined>;

/** Hop-by-hop response headers: never relayed downstream (node's HTTP/2 server also refuses them). */
export const RESPONSE_HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings']);

/**
 * Receives one upstream response as it arrives, so the router can write it straight downstream
 * without an intermediate stream. Callbacks stop once the exchange is aborted.
 */
export interface UpstreamResponseHandler {
  /** The final (non-1xx) response head: lower-case names, no pseudo-headers; the handler may change it. */
  onUpstreamHeaders(status: number, headers: UpstreamHeaders): void;
  /** A body chunk; returning false pauses the body until the exchange's resume(). */
  onUpstreamData(chunk: Buffer): boolean;
  /** The body ended; trailers when the upstream sent any. */
  onUpstreamEnd(trailers: UpstreamHeaders | undefined): void;
  /** The exchange failed, before the response head or while the body streamed. */
  onUpstreamError(err: UpstreamResetError): void;
}

/** Envoy's reset reasons, as they appear in its 503 body. */
export type ResetReason = 'connection failure' | 'connection termination' | 'remote reset' | 'remote refused stream reset' | 'protocol error';

/** An upstream request that failed before (or while) producing a response. */
export class UpstreamResetError extends Error {
  constructor(
    readonly reason: ResetReason,
    override readonly cause?: unknown,
  ) {
    super(`upstream reset: ${reason}${cause instanceof Error ? ` (${cause.message})` : ''}`);
  }
}

/** One request in flight on an upstream connection. */
export interface UpstreamExchange {
  /** Cancels the request (timeout, downstream went away); idempotent; no handler callbacks follow. */
  abort(): void;
  /** Continues a body paused by onUpstreamData returning false. */
  resume(): void;
}

/** Keep-alive connections to one upstream endpoint. */
export interface ConnectionPool {
  send(request: UpstreamRequest, handler: UpstreamResponseHandler): UpstreamExchange;
  /** Finishes in-flight requests, then closes connections. */
  close(): Promise<void>;
}

const CONNECT_FAILURE_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** OpenSSL's certificate verification failures (as node reports them), besides the ERR_TLS_ / ERR_SSL_ codes. */
const CERTIFICATE_FAILURE_CODES = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$)/;

/** A connection that never became usable: refused, unreachable, timed out, or (as Envoy counts it) a failed TLS handshake. */
export function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (CONNECT_FAILURE_CODES.has(code) || CERTIFICATE_FAILURE_CODES.test(code));
}

/** Adds one received header field: a repeated name collects its values in an array, in order. */
export function addHeaderValue(headers: UpstreamHeaders, name: string, value: string): void {
  const existing = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (existing === undefined) {
    // Assigning "__proto__" would change the prototype instead of adding a header.
    if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, configurable: true, writable: true });
    else headers[name] = value;
  } else if (typeof existing === 'string') {
    headers[name] = [existing, value];
  } else {
    existing.push(value);
  }
}
