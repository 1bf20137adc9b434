import * as fs from 'node:fs';

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

/** A sink that holds lines in memory; flush() writes out whatever is pending. */
export interface FlushableAccessLogSink extends AccessLogSink {
  flush(): void;
}

/** Pending characters that trigger a write right away instead of on the next turn of the event loop. */
const FLUSH_THRESHOLD_CHARS = 64 * 1024;

/**
 * Lines are batched: a write to a file (or a pipe, on Linux) is synchronous in node, so one write
 * per request would cost a system call on the request path. The batch goes out on the next turn of
 * the event loop, as soon as it grows past FLUSH_THRESHOLD_CHARS, on flush(), and when the process
 * exits, so a clean stop loses no lines.
 */
export function bufferedLineSink(write: (text: string) => void): FlushableAccessLogSink {
  let pending = '';
  let scheduled = false;
  let exitHooked = false;
  const flush = (): void => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };
  const flushOnTurn = (): void => {
    if (!scheduled) return;
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
    pending += `${JSON.stringify(entry)}\n`;
    if (pending.length >= FLUSH_THRESHOLD_CHARS) return flush();
    if (!scheduled) {
      scheduled = true;
      setImmediate(flushOnTurn);
    }
  }) as FlushableAccessLogSink;
  sink.flush = flush;
  return sink;
}

let stdoutIsFile: boolean | undefined;

/** A file on stdout (the usual redirect) is written directly; node's stream would do the same write with more steps. */
function writeStdout(text: string): void {
  if (stdoutIsFile === undefined) {
    try {
      stdoutIsFile = fs.fstatSync(1).isFile();
    } catch {
      stdoutIsFile = false;
    }
  }
  if (!stdoutIsFile) {
    process.stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text);
  for (let offset = 0; offset < bytes.length; ) offset += fs.writeSync(1, bytes, offset);
}

/** Envoy's default: one JSON line per request on stdout (written in batches). */
export const stdoutAccessLog: FlushableAccessLogSink = bufferedLineSink(writeStdout);

export function isFlushable(sink: AccessLogSink): sink is FlushableAccessLogSink {
  return typeof (sink as Partial<FlushableAccessLogSink>).flush === 'function';
}
