import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

export interface UpstreamRequest {
  method: string;
  path: string;
  /** Sent as Host (HTTP/1.1) or :authority (HTTP/2). */
  authority: string;
  /** Lower-case names; no Host, pseudo or hop-by-hop headers. */
  headers: OutgoingHttpHeaders;
  /** Null when the request has no body. */
  body: Readable | null;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** Trailers, available once the body has ended. */
  trailers(): Record<string, string | string[] | undefined> | undefined;
}

/** Envoy's reset reasons, as they appear in its 503 body. */
export type ResetReason = 'connection failure' | 'connection termination' | 'remote reset' | 'protocol error';

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
  /** Rejects with UpstreamResetError. */
  response: Promise<UpstreamResponse>;
  /** Cancels the request (timeout, downstream went away); idempotent. */
  abort(): void;
}

/** Keep-alive connections to one upstream endpoint. */
export interface ConnectionPool {
  send(request: UpstreamRequest): UpstreamExchange;
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

export function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECT_FAILURE_CODES.has(code);
}
