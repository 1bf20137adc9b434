/**
 * google.protobuf.Duration and Timestamp in their JSON string forms ("1.5s", RFC 3339), kept
 * exact to the nanosecond: seconds and nanos are carried separately, never as a float.
 */

/** A Duration or Timestamp as protobuf stores it; nanos has the same sign as seconds. */
export interface SecondsAndNanos {
  seconds: number;
  nanos: number;
}

const DURATION_PATTERN = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
/** Protobuf's Duration range: about +-10,000 years. */
const MAX_DURATION_SECONDS = 315_576_000_000;

/** Parses "1.5s", "0.250s", "-2s"; returns undefined for anything else. */
export function parseDuration(text: string): SecondsAndNanos | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return undefined;
  const sign = match[1] ? -1 : 1;
  const seconds = Number(match[2]);
  if (seconds > MAX_DURATION_SECONDS) return undefined;
  const nanos = match[3] ? Number(match[3].padEnd(9, '0')) : 0;
  // Avoid -0: a zero part takes the sign of nothing.
  return { seconds: seconds === 0 ? 0 : sign * seconds, nanos: nanos === 0 ? 0 : sign * nanos };
}

/** Nine fraction digits trimmed to 0, 3, 6 or 9, as protobuf's JSON printer (and Envoy's config dump) writes them. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  if (digits.endsWith('000000')) return `.${digits.slice(0, 3)}`;
  if (digits.endsWith('000')) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

/** Formats a Duration the canonical way: "15s", "1.500s", "0.000001s". */
export function formatDuration(value: Partial<SecondsAndNanos>): string {
  const seconds = value.seconds ?? 0;
  const nanos = value.nanos ?? 0;
  const negative = seconds < 0 || nanos < 0;
  return `${negative ? '-' : ''}${Math.abs(seconds)}${fraction(Math.abs(nanos))}s`;
}

/** A Duration string in milliseconds (fractional where the duration has sub-millisecond parts). */
export function durationToMilliseconds(text: string): number {
  const parsed = parseDuration(text);
  if (!parsed) throw new Error(`invalid duration ${JSON.stringify(text)}: expected a string like "1.5s"`);
  return parsed.seconds * 1000 + parsed.nanos / 1e6;
}

/** Duration in nanoseconds as a bigint, for exact comparisons. */
export function durationNanos(value: Partial<SecondsAndNanos>): bigint {
  return BigInt(value.seconds ?? 0) * 1_000_000_000n + BigInt(value.nanos ?? 0);
}

const TIMESTAMP_PATTERN = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses an RFC 3339 timestamp ("2024-01-02T03:04:05.5Z"); returns undefined when invalid. */
export function parseTimestamp(text: string): SecondsAndNanos | undefined {
  const match = TIMESTAMP_PATTERN.exec(text);
  if (!match) return undefined;
  const millis = Date.parse(`${match[1]}${match[3].toUpperCase()}`);
  if (Number.isNaN(millis)) return undefined;
  return { seconds: Math.floor(millis / 1000), nanos: match[2] ? Number(match[2].padEnd(9, '0')) : 0 };
}

/** Formats a Timestamp in UTC with 0, 3, 6 or 9 fraction digits: "2024-01-02T03:04:05.500Z". */
export function formatTimestamp(value: Partial<SecondsAndNanos>): string {
  const iso = new Date((value.seconds ?? 0) * 1000).toISOString(); // always ends in ".000Z"
  return `${iso.slice(0, 19)}${fraction(value.nanos ?? 0)}Z`;
}
