/**
 * Envoy response flags the proxy sets: NR no route, NC cluster not found, UH no healthy upstream,
 * UF upstream connection failure, UC upstream connection termination, UR upstream remote reset,
 * UT upstream request timeout, DC downstream connection termination.
 */
export type ResponseFlag = 'NR' | 'NC' | 'UH' | 'UF' | 'UC' | 'UR' | 'UT' | 'DC';

/** One line per request, named after Envoy's access log operators; absent values are null. */
export interface AccessLogEntry {
  start_time: string;
  method: string;
  /** The path as the client sent it, before any rewrite. */
  path: string;
  protocol: string;
  /** 0 when no response was sent (downstream went away first). */
  response_code: number;
  /** Comma-separated flags, "-" when none, as Envoy prints %RESPONSE_FLAGS%. */
  response_flags: string;
  bytes_received: number;
  bytes_sent: number;
  duration_ms: number;
  upstream_host: string | null;
  upstream_cluster: string | null;
  route_name: string | null;
  authority: string;
  x_request_id: string;
  user_agent: string | null;
  listener: string;
}

export type AccessLogSink = (entry: AccessLogEntry) => void;

/** Envoy's default: one JSON line per request on stdout. */
export const stdoutAccessLog: AccessLogSink = (entry) => {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
};
