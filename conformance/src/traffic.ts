import { request } from 'undici';
import type { HttpCheck, RedirectExpectation } from './checks';

/**
 * The upstream suite's timing for traffic checks (summary.md §1.7): a check is retried until it
 * holds, then must hold RequiredConsecutiveSuccesses times in a row, all within
 * MaxTimeToConsistency; after a failure the next try waits DefaultPollInterval.
 */
export interface ConsistencyRules {
  requiredConsecutiveSuccesses: number;
  maxTimeToConsistencyMs: number;
  pollIntervalMs: number;
  requestTimeoutMs: number;
}

export const UPSTREAM_CONSISTENCY: ConsistencyRules = {
  requiredConsecutiveSuccesses: 3,
  maxTimeToConsistencyMs: 30_000,
  pollIntervalMs: 100,
  requestTimeoutMs: 10_000,
};

/** Where a check's request is dialled: the Gateway's status address and its listener port. */
export interface GatewayTarget {
  address: string;
  port: number;
}

interface EchoBody {
  path?: string;
  host?: string;
  method?: string;
  namespace?: string;
  pod?: string;
  headers?: Record<string, string[]>;
}

function urlHost(target: GatewayTarget): string {
  // The upstream client leaves :80 out of the URL, so the Host header it sends has no port.
  return target.port === 80 ? target.address : `${target.address}:${target.port}`;
}

function joined(value: string | string[] | undefined): string | undefined {
  return value === undefined ? undefined : Array.isArray(value) ? value.join(',') : value;
}

function lookup<T>(map: Record<string, T>, name: string): T | undefined {
  const key = Object.keys(map).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : map[key];
}

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' };

/** The upstream Location comparison; requests are plain HTTP, so the request's scheme is http. */
function redirectProblem(location: string | undefined, want: RedirectExpectation, requestPath: string): string | undefined {
  if (!location) return 'no Location header';
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return `Location ${JSON.stringify(location)} is not an absolute URL`;
  }
  const problems: string[] = [];
  const scheme = url.protocol.replace(/:$/, '');
  const wantScheme = want.scheme ?? 'http';
  if (scheme !== wantScheme) problems.push(`scheme ${scheme}, want ${wantScheme}`);
  if (want.host !== undefined && url.hostname !== want.host) problems.push(`host ${url.hostname}, want ${want.host}`);
  // URL drops a port that is the scheme's default, which is what "absent or default" allows.
  const port = url.port || DEFAULT_PORTS[scheme] || '';
  if (want.port !== undefined ? port !== want.port : url.port !== '') problems.push(`port ${url.port || '(none)'}, want ${want.port ?? `none or ${DEFAULT_PORTS[wantScheme]}`}`);
  const wantPath = want.path ?? requestPath;
  if (`${url.pathname}${url.search}` !== wantPath) problems.push(`path ${url.pathname}${url.search}, want ${wantPath}`);
  return problems.length ? `Location ${location}: ${problems.join(', ')}` : undefined;
}

/** Sends one check's request; returns undefined when the response meets the expectation, else why not. */
export async function attempt(check: HttpCheck, target: GatewayTarget, rules: ConsistencyRules = UPSTREAM_CONSISTENCY): Promise<string | undefined> {
  const { request: req, expect } = check;
  const host = req.host ?? urlHost(target);
  // Every upstream request carries X-Echo-Set-Header, empty when the test asks for no response headers.
  const echoSet = Object.entries(req.backendSetsResponseHeaders)
    .map(([k, v]) => `${k}:${v}`)
    .join(',');
  let res;
  try {
    res = await request(`http://${target.address}:${target.port}${req.path}`, {
      method: req.method as 'GET',
      headers: { ...req.headers, host, 'X-Echo-Set-Header': echoSet },
      // A new connection per request, as the upstream client (keep-alives off).
      reset: true,
      headersTimeout: rules.requestTimeoutMs,
      bodyTimeout: rules.requestTimeoutMs,
    });
  } catch (err) {
    return `request failed: ${(err as Error).message}`;
  }
  const text = await res.body.text();
  if (!expect.status.includes(res.statusCode)) return `status ${res.statusCode}, want ${expect.status.join(' or ')}`;
  const problems: string[] = [];
  const responseHeaders = res.headers as Record<string, string | string[] | undefined>;
  for (const [name, want] of Object.entries(expect.responseHeaders)) {
    const got = joined(lookup(responseHeaders, name));
    if (got !== want) problems.push(`response header ${name}: ${got === undefined ? 'absent' : JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  for (const name of expect.absentResponseHeaders) {
    if (lookup(responseHeaders, name) !== undefined) problems.push(`response header ${name} present, want absent`);
  }
  if (expect.redirect && res.statusCode >= 300 && res.statusCode <= 308) {
    const problem = redirectProblem(joined(lookup(responseHeaders, 'location')), expect.redirect, req.path);
    if (problem) problems.push(problem);
  }
  if (res.statusCode === 200 || res.statusCode === 204) {
    let echo: EchoBody;
    try {
      echo = JSON.parse(text) as EchoBody;
    } catch {
      return `${problems.join('; ')}${problems.length ? '; ' : ''}response body is not the echo backend's JSON: ${text.slice(0, 120)}`;
    }
    if (echo.path !== req.path) problems.push(`backend saw path ${JSON.stringify(echo.path)}, want ${JSON.stringify(req.path)}`);
    if (echo.host !== host) problems.push(`backend saw host ${JSON.stringify(echo.host)}, want ${JSON.stringify(host)}`);
    if (echo.method !== req.method) problems.push(`backend saw method ${echo.method}, want ${req.method}`);
    if (expect.namespace !== undefined && echo.namespace !== expect.namespace) problems.push(`namespace ${JSON.stringify(echo.namespace)}, want ${JSON.stringify(expect.namespace)}`);
    if (expect.backend !== undefined && !(echo.pod ?? '').startsWith(expect.backend)) problems.push(`answered by pod ${JSON.stringify(echo.pod)}, want ${expect.backend}-…`);
    const seen = echo.headers ?? {};
    for (const [name, want] of Object.entries(expect.requestHeadersSeenByBackend)) {
      const got = joined(lookup(seen, name));
      if (got !== want) problems.push(`backend saw header ${name}: ${got === undefined ? 'absent' : JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
    for (const name of expect.absentRequestHeaders) {
      if (lookup(seen, name) !== undefined) problems.push(`backend saw header ${name}, want it removed`);
    }
  }
  return problems.length ? problems.join('; ') : undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a check under the upstream consistency rules. Resolves with undefined once it held the
 * required number of times in a row, or with the last failure when the window ran out.
 */
export async function eventuallyConsistent(check: HttpCheck, target: () => GatewayTarget | string, rules: ConsistencyRules = UPSTREAM_CONSISTENCY): Promise<string | undefined> {
  const deadline = Date.now() + rules.maxTimeToConsistencyMs;
  let streak = 0;
  let lastFailure = 'not tried';
  for (;;) {
    const resolved = target();
    const failure = typeof resolved === 'string' ? resolved : await attempt(check, resolved, rules);
    if (failure === undefined) {
      if (++streak >= rules.requiredConsecutiveSuccesses) return undefined;
      continue;
    }
    streak = 0;
    lastFailure = failure;
    if (Date.now() + rules.pollIntervalMs > deadline) return `${check.label}: ${lastFailure} (not consistent within ${rules.maxTimeToConsistencyMs / 1000}s)`;
    await sleep(rules.pollIntervalMs);
  }
}

/** The upstream weighted-traffic procedure (summary.md §1.7). */
export const UPSTREAM_WEIGHTED_TRAFFIC = { requests: 500, concurrency: 10, tolerance: 0.05, attempts: 10 };

/** The upstream suite's backend of a pod: its name without the last two '-' segments (the hashes). */
export function backendOfPod(pod: string): string {
  return pod.split('-').slice(0, -2).join('-');
}

/** One round: `requests` GETs of `path`, `concurrency` at a time, about half with a random X-Jitter header. */
async function distributionRound(target: GatewayTarget, path: string, expected: Record<string, number>, settings: typeof UPSTREAM_WEIGHTED_TRAFFIC, rules: ConsistencyRules): Promise<string | undefined> {
  const counts = new Map<string, number>();
  let next = 0;
  let error: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < settings.requests && !error) {
      next++;
      const headers: Record<string, string> = { host: urlHost(target), 'X-Echo-Set-Header': '' };
      if (Math.random() < 0.5) headers['X-Jitter'] = Math.random().toString(36).slice(2);
      try {
        const res = await request(`http://${target.address}:${target.port}${path}`, { headers, reset: true, headersTimeout: rules.requestTimeoutMs, bodyTimeout: rules.requestTimeoutMs });
        const text = await res.body.text();
        if (res.statusCode !== 200) error = `status ${res.statusCode}`;
        else {
          const backend = backendOfPod((JSON.parse(text) as EchoBody).pod ?? '');
          counts.set(backend, (counts.get(backend) ?? 0) + 1);
        }
      } catch (err) {
        error = `request failed: ${(err as Error).message}`;
      }
    }
  };
  await Promise.all(Array.from({ length: settings.concurrency }, worker));
  if (error) return error;
  const problems: string[] = [];
  for (const backend of new Set([...Object.keys(expected), ...counts.keys()])) {
    const want = expected[backend] ?? 0;
    const got = (counts.get(backend) ?? 0) / settings.requests;
    if (want === 0 ? got > 0 : Math.abs(got - want) > settings.tolerance) problems.push(`${backend} got ${(got * 100).toFixed(1)}%, want ${(want * 100).toFixed(0)}%`);
  }
  return problems.length ? problems.join('; ') : undefined;
}

/**
 * Sends the upstream weighted-traffic rounds until one matches the expected shares (backend → 0..1):
 * every share within the tolerance, zero-weight backends get nothing. Resolves with undefined or the
 * last round's mismatch.
 */
export async function weightedDistribution(
  target: GatewayTarget,
  path: string,
  expected: Record<string, number>,
  rules: ConsistencyRules = UPSTREAM_CONSISTENCY,
  settings: typeof UPSTREAM_WEIGHTED_TRAFFIC = UPSTREAM_WEIGHTED_TRAFFIC,
): Promise<string | undefined> {
  let last: string | undefined;
  for (let i = 0; i < settings.attempts; i++) {
    last = await distributionRound(target, path, expected, settings, rules);
    if (last === undefined) return undefined;
  }
  return `traffic distribution after ${settings.attempts} rounds of ${settings.requests} requests: ${last}`;
}
