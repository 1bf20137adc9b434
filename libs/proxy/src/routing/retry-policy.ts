import { durationToMilliseconds, type envoy } from '@tendril/api-envoy';
import type { UpstreamResetError } from '../upstream/types';

type RouteRetryPolicy = envoy.config.route.v3.RetryPolicy;

/** Envoy's default retry back-off base interval. */
const DEFAULT_BASE_INTERVAL_MS = 25;

/**
 * Request bodies up to this size are kept for replay when a route retries (Envoy buffers the body
 * for retries up to a limit, and does not retry a request whose body outgrew it).
 */
export const DEFAULT_RETRY_BUFFER_LIMIT_BYTES = 64 * 1024;

const PREVIOUS_HOSTS_PREDICATE = 'envoy.retry_host_predicates.previous_hosts';
const PREVIOUS_HOSTS_TYPE_URL = 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';

/** The retry_on conditions the proxy implements (names as Envoy's x-envoy-retry-on). */
const SUPPORTED_CONDITIONS = ['5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx', 'retriable-status-codes', 'refused-stream'] as const;
type RetryCondition = (typeof SUPPORTED_CONDITIONS)[number];

/** Envoy conditions this proxy does not implement; named in the error so a NACK says what to change. */
const UNSUPPORTED_CONDITIONS = new Set([
  'envoy-ratelimited',
  'retriable-headers',
  'reset-before-request',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

/** RouteAction.retry_policy (or the virtual host's), compiled once per config. */
export interface RetryPolicy {
  conditions: ReadonlySet<RetryCondition>;
  /** Retries after the first attempt. */
  numRetries: number;
  retriableStatusCodes: ReadonlySet<number>;
  baseIntervalMs: number;
  maxIntervalMs: number;
  /** retry_host_predicate previous_hosts: a retry avoids endpoints already tried. */
  avoidPreviousHosts: boolean;
  /** Extra endpoint picks a retry may make to find one not tried yet (host_selection_retry_max_attempts). */
  hostSelectionRetries: number;
  /** Requests with a larger body are not retried (per_request_buffer_limit_bytes, else the default). */
  bufferLimitBytes: number;
}

function durationMs(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return durationToMilliseconds(value);
  } catch (err) {
    throw new Error(`retry_policy.${field}: ${(err as Error).message}`);
  }
}

function nonNegativeInteger(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`${field} must be a non-negative integer, got ${value}`);
  return value;
}

/**
 * Compiles a route's (or virtual host's) retry_policy; `bufferLimitBytes` is the route's or virtual
 * host's per_request_buffer_limit_bytes when set. Throws on fields the proxy cannot honour.
 */
export function compileRetryPolicy(policy: RouteRetryPolicy, bufferLimitBytes: number | undefined): RetryPolicy {
  const unsupported: (keyof RouteRetryPolicy)[] = ['retry_priority', 'retry_options_predicates', 'rate_limited_retry_back_off', 'retriable_headers', 'retriable_request_headers', 'per_try_idle_timeout'];
  for (const field of unsupported) {
    const value = policy[field];
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) throw new Error(`retry_policy.${field} is not supported`);
  }
  const conditions = new Set<RetryCondition>();
  for (const raw of (policy.retry_on ?? '').split(',')) {
    const condition = raw.trim();
    if (condition === '') continue;
    if ((SUPPORTED_CONDITIONS as readonly string[]).includes(condition)) conditions.add(condition as RetryCondition);
    else if (UNSUPPORTED_CONDITIONS.has(condition)) throw new Error(`retry_policy.retry_on "${condition}" is not supported`);
    else throw new Error(`retry_policy.retry_on has unknown condition "${condition}"`);
  }
  const retriableStatusCodes = new Set<number>();
  for (const code of policy.retriable_status_codes ?? []) {
    if (!Number.isInteger(code) || code < 100 || code > 599) throw new Error(`retry_policy.retriable_status_codes has invalid status ${code}`);
    retriableStatusCodes.add(code);
  }
  let avoidPreviousHosts = false;
  for (const predicate of policy.retry_host_predicate ?? []) {
    const type = predicate.typed_config?.['@type'];
    if (predicate.name === PREVIOUS_HOSTS_PREDICATE || type === PREVIOUS_HOSTS_TYPE_URL) avoidPreviousHosts = true;
    else throw new Error(`retry_policy.retry_host_predicate "${predicate.name ?? ''}"${type ? ` (${type})` : ''} is not supported`);
  }
  const backOff = policy.retry_back_off;
  const baseIntervalMs = durationMs(backOff?.base_interval, 'retry_back_off.base_interval') ?? DEFAULT_BASE_INTERVAL_MS;
  if (baseIntervalMs <= 0) throw new Error('retry_policy.retry_back_off.base_interval must be positive');
  const maxIntervalMs = durationMs(backOff?.max_interval, 'retry_back_off.max_interval') ?? baseIntervalMs * 10;
  if (maxIntervalMs < baseIntervalMs) throw new Error('retry_policy.retry_back_off.max_interval must be at least base_interval');
  return {
    conditions,
    // A retry policy without num_retries retries once (the proto's documented default).
    numRetries: nonNegativeInteger(policy.num_retries, 'retry_policy.num_retries', 1),
    retriableStatusCodes,
    baseIntervalMs,
    maxIntervalMs,
    avoidPreviousHosts,
    hostSelectionRetries: nonNegativeInteger(policy.host_selection_retry_max_attempts, 'retry_policy.host_selection_retry_max_attempts', 1),
    bufferLimitBytes: nonNegativeInteger(bufferLimitBytes, 'per_request_buffer_limit_bytes', DEFAULT_RETRY_BUFFER_LIMIT_BYTES),
  };
}

/** Whether a response with this status is retried (Envoy's wouldRetryFromHeaders). */
export function retriableStatus(policy: RetryPolicy, status: number): boolean {
  const on = policy.conditions;
  if (on.has('5xx') && status >= 500 && status <= 599) return true;
  if (on.has('gateway-error') && (status === 502 || status === 503 || status === 504)) return true;
  if (on.has('retriable-4xx') && status === 409) return true;
  return on.has('retriable-status-codes') && policy.retriableStatusCodes.has(status);
}

/**
 * Whether an attempt that failed without a response is retried (Envoy's wouldRetryFromReset): any
 * reset counts as a 5xx; connect failures also under connect-failure; HTTP/2 REFUSED_STREAM also
 * under refused-stream.
 */
export function retriableReset(policy: RetryPolicy, err: UpstreamResetError): boolean {
  const on = policy.conditions;
  if (on.has('5xx') || on.has('gateway-error') || on.has('reset')) return true;
  if (err.reason === 'connection failure') return on.has('connect-failure');
  return err.reason === 'remote refused stream reset' && on.has('refused-stream');
}

/** Whether an attempt that hit per_try_timeout is retried: Envoy counts it as a 5xx / gateway error / reset. */
export function retriableTimeout(policy: RetryPolicy): boolean {
  const on = policy.conditions;
  return on.has('5xx') || on.has('gateway-error') || on.has('reset');
}

/**
 * The wait before retry number `retry` (1 for the first retry), as Envoy's jittered exponential
 * back-off: uniformly random below base × 2^(retry-1), that bound capped at max_interval.
 */
export function retryBackOffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const bound = Math.min(policy.baseIntervalMs * 2 ** Math.max(0, retry - 1), policy.maxIntervalMs);
  return Math.floor(random() * bound);
}
