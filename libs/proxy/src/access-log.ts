import * as fs from 'node:fs';

/**
 * Envoy response flags the proxy sets: NR no route, NC cluster not found, UH no healthy upstream,
 * UF upstream connection failure, UC upstream connection termination, UR upstream remote reset,
 * UT upstream request timeout, DC downstream connection termination. The access log adds URX
 * (retry limit exceeded) after these when a retriable failure had no retry left.
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
  /**
   * Set on requests the tendril.l7policy filter checked (Cilium's L7 flow record): the verdict, the
   * rule or reason that decided it, and the names of headers a headerMatches rule found mismatched
   * (LOG, ADD, DELETE, REPLACE). Header values are never logged: they may be Secrets.
   */
  l7_policy?: L7PolicyLogEntry;
}

export interface L7PolicyLogEntry {
  verdict: 'allowed' | 'denied';
  reason: string;
  mismatched_headers: string[];
}

export type AccessLogSink = (entry: AccessLogEntry) => void;

/** What JSON.stringify would escape in a string: quote, backslash, control characters, surrogates (lone ones get \u escapes). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string literal; values with nothing to escape (nearly all) skip JSON.stringify. */
function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function jsonStringOrNull(value: string | null): string {
  return value === null ? 'null' : jsonString(value);
}

/** As JSON.stringify writes numbers: NaN and infinities become null. */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/**
 * One access-log line without its newline: exactly what JSON.stringify(entry) gives, written field
 * by field because the record's shape is fixed (this runs once per request).
 */
export function formatAccessLogLine(entry: AccessLogEntry): string {
  return (
    `{"start_time":${jsonString(entry.start_time)},"method":${jsonString(entry.method)},"path":${jsonString(entry.path)}` +
    `,"protocol":${jsonString(entry.protocol)},"response_code":${jsonNumber(entry.response_code)},"response_flags":${jsonString(entry.response_flags)}` +
    `,"bytes_received":${jsonNumber(entry.bytes_received)},"bytes_sent":${jsonNumber(entry.bytes_sent)},"duration_ms":${jsonNumber(entry.duration_ms)}` +
    `,"upstream_host":${jsonStringOrNull(entry.upstream_host)},"upstream_cluster":${jsonStringOrNull(entry.upstream_cluster)}` +
    `,"route_name":${jsonStringOrNull(entry.route_name)},"authority":${jsonString(entry.authority)},"x_request_id":${jsonString(entry.x_request_id)}` +
    `,"user_agent":${jsonStringOrNull(entry.user_agent)},"listener":${jsonString(entry.listener)}` +
    (entry.l7_policy === undefined ? '}' : `,"l7_policy":${JSON.stringify(entry.l7_policy)}}`)
  );
}

let lastTimestampMs = NaN;
let lastTimestamp = '';

/** new Date(ms).toISOString(), remembered for the last millisecond: requests arrive many per millisecond under load. */
export function isoTimestamp(ms: number): string {
  if (ms !== lastTimestampMs) {
    lastTimestamp = new Date(ms).toISOString();
    lastTimestampMs = ms;
  }
  return lastTimestamp;
}

/** A sink that holds lines in memory; flush() writes out whatever is pending. */
export interface FlushableAccessLogSink extends AccessLogSink {
  flush(): void;
}

/** Bytes a batch holds before it is written right away instead of at the end of the flush interval. */
const BATCH_BYTES = 64 * 1024;

/** How long a line may wait for company before it is written (Envoy's access_log_flush_interval defaults to 1 s). */
export const DEFAULT_ACCESS_LOG_FLUSH_INTERVAL_MS = 100;

export interface BufferedLineSinkOptions {
  /** Longest time a line stays in memory before it is written; default DEFAULT_ACCESS_LOG_FLUSH_INTERVAL_MS. */
  flushIntervalMs?: number;
}

/**
 * Lines are batched: a write to a file (or a pipe, on Linux) is synchronous in node, so one write
 * per request (or per event-loop turn, a handful of requests under load) would cost a system call
 * on the request path. Each line is encoded into the batch's Buffer as it is logged, so no string
 * outlives its request (strings held for the interval would be copied by every young-generation
 * GC). The batch (a Buffer the writer may keep) goes out when the next line would not fit in
 * BATCH_BYTES, after at most `flushIntervalMs`, on flush(), and when the process exits, so a clean
 * stop loses no lines.
 */
export function bufferedLineSink(write: (chunk: Buffer) => void, options: BufferedLineSinkOptions = {}): FlushableAccessLogSink {
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_ACCESS_LOG_FLUSH_INTERVAL_MS;
  let batch: Buffer | undefined;
  let used = 0;
  let timer: NodeJS.Timeout | undefined;
  let exitHooked = false;
  const flush = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (batch === undefined || used === 0) return;
    const chunk = batch.subarray(0, used);
    // A fresh Buffer for the next batch: the writer may still hold this one (a pipe's stream does).
    batch = undefined;
    used = 0;
    write(chunk);
  };
  const flushOnTimer = (): void => {
    timer = undefined;
    try {
      flush();
    } catch (err) {
      // Nobody is on the stack to report to; a failing log destination must not stop the proxy.
      process.stderr.write(`access log write failed: ${(err as Error).message}\n`);
    }
  };
  const sink = ((entry: AccessLogEntry): void => {
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', flush);
    }
    const line = `${formatAccessLogLine(entry)}\n`;
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const maxBytes = line.length * 3;
    if (batch !== undefined && used + maxBytes > batch.length) flush();
    if (maxBytes > BATCH_BYTES) {
      // Only a huge line (a very long path) gets here; anything before it has just been written.
      write(Buffer.from(line));
      return;
    }
    batch ??= Buffer.allocUnsafe(BATCH_BYTES);
    used += batch.write(line, used);
    // Unref'd: pending lines must not keep a stopping process alive (the exit hook writes them).
    timer ??= setTimeout(flushOnTimer, flushIntervalMs).unref();
  }) as FlushableAccessLogSink;
  sink.flush = flush;
  return sink;
}

let stdoutIsFile: boolean | undefined;

/** A file on stdout (the usual redirect) is written directly; node's stream would do the same write with more steps. */
function writeStdout(bytes: Buffer): void {
  if (stdoutIsFile === undefined) {
    try {
      stdoutIsFile = fs.fstatSync(1).isFile();
    } catch {
      stdoutIsFile = false;
    }
  }
  if (!stdoutIsFile) {
    process.stdout.write(bytes);
    return;
  }
  for (let offset = 0; offset < bytes.length; ) offset += fs.writeSync(1, bytes, offset);
}

/** Envoy's default: one JSON line per request on stdout (written in batches). */
export const stdoutAccessLog: FlushableAccessLogSink = bufferedLineSink(writeStdout);

export function isFlushable(sink: AccessLogSink): sink is FlushableAccessLogSink {
  return typeof (sink as Partial<FlushableAccessLogSink>).flush === 'function';
}
