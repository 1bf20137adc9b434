import { randomUUID } from 'node:crypto';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { request, WebSocket } from 'undici';
import { attemptPath, type HttpCheck, type RedirectExpectation, type WebSocketEchoCheck } from './checks';
import { tlsClientSettings, type TlsClientSettings } from './tls-client';

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
  /** TLS requests trust only these certificates (PEM); the runner fills them in for HTTPS checks. */
  trustedCertificates?: string[];
}

export interface EchoBody {
  path?: string;
  host?: string;
  method?: string;
  namespace?: string;
  pod?: string;
  headers?: Record<string, string[]>;
  /** Present when the backend was reached over TLS. */
  tls?: { serverName?: string; peerCertificates?: string[] };
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

/** The upstream Location comparison; scheme and path default to the request's. */
function redirectProblem(location: string | undefined, want: RedirectExpectation, requestPath: string, requestScheme: string): string | undefined {
  if (!location) return 'no Location header';
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return `Location ${JSON.stringify(location)} is not an absolute URL`;
  }
  const problems: string[] = [];
  const scheme = url.protocol.replace(/:$/, '');
  const wantScheme = want.scheme ?? requestScheme;
  if (scheme !== wantScheme) problems.push(`scheme ${scheme}, want ${wantScheme}`);
  if (want.host !== undefined && url.hostname !== want.host) problems.push(`host ${url.hostname}, want ${want.host}`);
  // URL drops a port that is the scheme's default, which is what "absent or default" allows.
  const port = url.port || DEFAULT_PORTS[scheme] || '';
  if (want.port !== undefined ? port !== want.port : url.port !== '') problems.push(`port ${url.port || '(none)'}, want ${want.port ?? `none or ${DEFAULT_PORTS[wantScheme]}`}`);
  const wantPath = want.path ?? requestPath;
  if (`${url.pathname}${url.search}` !== wantPath) problems.push(`path ${url.pathname}${url.search}, want ${wantPath}`);
  return problems.length ? `Location ${location}: ${problems.join(', ')}` : undefined;
}

export interface RoundTrip {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request over HTTP/1.1 on a new connection, as the upstream client sends it (keep-alives off). */
async function http1RoundTrip(url: string, method: string, headers: Record<string, string>, timeoutMs: number): Promise<RoundTrip> {
  const res = await request(url, { method: method as 'GET', headers, reset: true, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  return { statusCode: res.statusCode, headers: res.headers as RoundTrip['headers'], text: await res.body.text() };
}

/**
 * One request over HTTP/1.1 in TLS on a new connection (no agent, so no reuse), trusting only
 * `tls.ca`, presenting `tls.cert` / `tls.key` when the server asks for a client certificate.
 */
export function https1RoundTrip(address: string, port: number, method: string, path: string, headers: Record<string, string>, tls: TlsClientSettings & { cert?: string; key?: string }, timeoutMs: number): Promise<RoundTrip> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: address, port, method, path, headers, agent: false, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`no HTTPS response within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}

/**
 * One request over HTTP/2 on a session of its own: cleartext with prior knowledge (the client speaks
 * h2 from the first byte, no Upgrade) for an http: origin, TLS with ALPN h2 for https: (`tls` then
 * says what to trust). The Host header becomes :authority.
 */
export function h2RoundTrip(origin: string, method: string, path: string, headers: Record<string, string>, timeoutMs: number, tls?: TlsClientSettings): Promise<RoundTrip> {
  return new Promise((resolve, reject) => {
    const session = tls ? http2.connect(origin, tls) : http2.connect(origin);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no ${tls ? 'h2' : 'h2c'} response within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    };
    session.on('error', fail);
    const { host, ...rest } = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    const stream = session.request({ ...rest, ':method': method, ':path': path, ':authority': host ?? new URL(origin).host });
    stream.on('error', fail);
    let status = 0;
    let responseHeaders: RoundTrip['headers'] = {};
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':'))) as RoundTrip['headers'];
    });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ statusCode: status, headers: responseHeaders, text: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

/** Sends one check's request; returns undefined when the response meets the expectation, else why not. */
export async function attempt(check: HttpCheck, target: GatewayTarget, rules: ConsistencyRules = UPSTREAM_CONSISTENCY): Promise<string | undefined> {
  const { request: req, expect } = check;
  const dialled = req.port === undefined ? target : { ...target, port: req.port };
  const host = req.host ?? urlHost(dialled);
  const path = attemptPath(req, randomUUID);
  // Every upstream request carries X-Echo-Set-Header, empty when the test asks for no response headers.
  const echoSet = Object.entries(req.backendSetsResponseHeaders)
    .map(([k, v]) => `${k}:${v}`)
    .join(',');
  const secure = req.protocol === 'https' || req.protocol === 'h2';
  const scheme = secure ? 'https' : 'http';
  const origin = `${scheme}://${dialled.address}:${dialled.port}`;
  const headers = { ...req.headers, host, 'X-Echo-Set-Header': echoSet };
  let res: RoundTrip;
  try {
    if (req.protocol === 'h2c') res = await h2RoundTrip(origin, req.method, path, headers, rules.requestTimeoutMs);
    else if (secure) {
      // As upstream's TLS client: SNI is the server name the check gives, else the Host.
      const tls = tlsClientSettings(req.serverName ?? host.replace(/:\d+$/, ''), dialled.trustedCertificates ?? [], req.protocol === 'h2' ? ['h2'] : undefined);
      res = req.protocol === 'h2' ? await h2RoundTrip(origin, req.method, path, headers, rules.requestTimeoutMs, tls) : await https1RoundTrip(dialled.address, dialled.port, req.method, path, headers, tls, rules.requestTimeoutMs);
    } else res = await http1RoundTrip(`${origin}${path}`, req.method, headers, rules.requestTimeoutMs);
  } catch (err) {
    return `request failed: ${(err as Error).message}`;
  }
  const text = res.text;
  if (!expect.status.includes(res.statusCode)) return `status ${res.statusCode}, want ${expect.status.join(' or ')}`;
  const problems: string[] = [];
  const responseHeaders = res.headers;
  for (const [name, want] of Object.entries(expect.responseHeaders)) {
    const got = joined(lookup(responseHeaders, name));
    if (got !== want) problems.push(`response header ${name}: ${got === undefined ? 'absent' : JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  for (const name of expect.absentResponseHeaders) {
    if (lookup(responseHeaders, name) !== undefined) problems.push(`response header ${name} present, want absent`);
  }
  const comparable = (value: string): string => (expect.ignoreWhitespace ? value.replace(/\s+/g, '') : value);
  for (const [name, alternatives] of Object.entries(expect.responseHeaderAlternatives ?? {})) {
    const got = joined(lookup(responseHeaders, name));
    if (got === undefined || !alternatives.some((want) => comparable(want) === comparable(got))) {
      problems.push(`response header ${name}: ${got === undefined ? 'absent' : JSON.stringify(got)}, want one of ${alternatives.map((a) => JSON.stringify(a)).join(', ')}`);
    }
  }
  if (expect.answeredByGateway) {
    // Upstream reads a non-JSON body as "the gateway answered": no path, the request's method.
    const contentType = joined(lookup(responseHeaders, 'content-type')) ?? '';
    if (res.statusCode === 200 && contentType === 'application/json') problems.push(`the request reached a backend (its JSON echo came back), want the Gateway to answer it`);
    return problems.length ? problems.join('; ') : undefined;
  }
  if (expect.redirect && res.statusCode >= 300 && res.statusCode <= 308) {
    const problem = redirectProblem(joined(lookup(responseHeaders, 'location')), expect.redirect, path, scheme);
    if (problem) problems.push(problem);
  }
  if (res.statusCode === 200 || res.statusCode === 204) {
    let echo: EchoBody;
    try {
      echo = JSON.parse(text) as EchoBody;
    } catch {
      return `${problems.join('; ')}${problems.length ? '; ' : ''}response body is not the echo backend's JSON: ${text.slice(0, 120)}`;
    }
    const wantPath = expect.pathSeenByBackend ?? path;
    const wantHost = expect.hostSeenByBackend ?? host;
    if (echo.path !== wantPath) problems.push(`backend saw path ${JSON.stringify(echo.path)}, want ${JSON.stringify(wantPath)}`);
    if (echo.host !== wantHost) problems.push(`backend saw host ${JSON.stringify(echo.host)}, want ${JSON.stringify(wantHost)}`);
    if (echo.method !== req.method) problems.push(`backend saw method ${echo.method}, want ${req.method}`);
    if (expect.namespace !== undefined && echo.namespace !== expect.namespace) problems.push(`namespace ${JSON.stringify(echo.namespace)}, want ${JSON.stringify(expect.namespace)}`);
    if (expect.backendServerName !== undefined && echo.tls?.serverName !== expect.backendServerName) {
      problems.push(echo.tls ? `backend saw SNI ${JSON.stringify(echo.tls.serverName)}, want ${JSON.stringify(expect.backendServerName)}` : `backend was reached without TLS, want TLS with SNI ${JSON.stringify(expect.backendServerName)}`);
    }
    const normalise = (pem: string): string => pem.replace(/\s/g, '');
    for (const wanted of expect.backendPeerCertificates ?? []) {
      if (!(echo.tls?.peerCertificates ?? []).some((pem) => normalise(pem) === normalise(wanted))) problems.push(`the backend did not see the expected client certificate (it saw ${echo.tls?.peerCertificates?.length ?? 0})`);
    }
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
  return consistently(check.label, target, (resolved) => attempt(check, resolved, rules), rules);
}

/**
 * The upstream AwaitConvergence: `tryOnce` is repeated until it held the required number of times
 * in a row, within the consistency window. Resolves with undefined, or `label` and the last failure.
 */
export async function consistently(label: string, target: () => GatewayTarget | string, tryOnce: (target: GatewayTarget) => Promise<string | undefined>, rules: ConsistencyRules = UPSTREAM_CONSISTENCY): Promise<string | undefined> {
  const deadline = Date.now() + rules.maxTimeToConsistencyMs;
  let streak = 0;
  let lastFailure = 'not tried';
  for (;;) {
    const resolved = target();
    const failure = typeof resolved === 'string' ? resolved : await tryOnce(resolved);
    if (failure === undefined) {
      if (++streak >= rules.requiredConsecutiveSuccesses) return undefined;
      continue;
    }
    streak = 0;
    lastFailure = failure;
    if (Date.now() + rules.pollIntervalMs > deadline) return `${label}: ${lastFailure} (not consistent within ${rules.maxTimeToConsistencyMs / 1000}s)`;
    await sleep(rules.pollIntervalMs);
  }
}

/**
 * One try of the upstream WebSocket test: dial ws://<gateway><path> with its Origin, send the text
 * message and then the binary one, each of which must come back unchanged.
 */
export async function websocketEcho(target: GatewayTarget, check: WebSocketEchoCheck['websocket'], timeoutMs: number = UPSTREAM_CONSISTENCY.requestTimeoutMs): Promise<string | undefined> {
  const ws = new WebSocket(`ws://${urlHost(target)}${check.path}`, { headers: { origin: check.origin } });
  ws.binaryType = 'arraybuffer';
  const replies: Array<string | number[]> = [];
  try {
    return await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(`no echo within ${timeoutMs} ms (got ${JSON.stringify(replies)})`), timeoutMs);
      const done = (failure: string | undefined): void => {
        clearTimeout(timer);
        resolve(failure);
      };
      ws.onerror = (event) => done(`websocket failed: ${(event as { message?: string }).message ?? 'error'}`);
      ws.onclose = (event) => done(`websocket closed (code ${event.code}) after ${replies.length} of 2 replies`);
      ws.onopen = () => ws.send(check.text);
      ws.onmessage = (event) => {
        const data: unknown = event.data;
        replies.push(typeof data === 'string' ? data : [...new Uint8Array(data as ArrayBuffer)]);
        if (replies.length === 1) {
          if (replies[0] !== check.text) return done(`text reply ${JSON.stringify(replies[0])}, want ${JSON.stringify(check.text)}`);
          ws.send(new Uint8Array(check.binary));
        } else {
          const got = replies[1];
          done(Array.isArray(got) && got.join() === check.binary.join() ? undefined : `binary reply ${JSON.stringify(got)}, want ${JSON.stringify(check.binary)}`);
        }
      };
    });
  } finally {
    ws.onclose = null;
    ws.close();
  }
}

/** The upstream weighted-traffic procedure (summary.md §1.7). */
export const UPSTREAM_WEIGHTED_TRAFFIC = { requests: 500, concurrency: 10, tolerance: 0.05, attempts: 10 };

/** The upstream suite's backend of a pod: its name without the last two '-' segments (the hashes). */
export function backendOfPod(pod: string): string {
  return pod.split('-').slice(0, -2).join('-');
}

/** Sends one request of a weighted-traffic round; resolves with the answering pod's name, rejects with why it got none. */
export type PodSampler = () => Promise<string>;

/**
 * The HTTP sampler of the weighted-traffic rounds: a GET of `path` on a new connection, about half
 * with a random X-Jitter header (upstream's entropy against caching), answered 200 by an echo pod.
 */
export function httpPodSampler(target: GatewayTarget, path: string, rules: ConsistencyRules = UPSTREAM_CONSISTENCY): PodSampler {
  return async () => {
    const headers: Record<string, string> = { host: urlHost(target), 'X-Echo-Set-Header': '' };
    if (Math.random() < 0.5) headers['X-Jitter'] = Math.random().toString(36).slice(2);
    let res: RoundTrip;
    try {
      res = await http1RoundTrip(`http://${target.address}:${target.port}${path}`, 'GET', headers, rules.requestTimeoutMs);
    } catch (err) {
      throw new Error(`request failed: ${(err as Error).message}`);
    }
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    try {
      return (JSON.parse(res.text) as EchoBody).pod ?? '';
    } catch {
      throw new Error(`response body is not the echo backend's JSON: ${res.text.slice(0, 120)}`);
    }
  };
}

/** One round: `requests` samples, `concurrency` at a time, each answering pod counted under its backend. */
async function distributionRound(sample: PodSampler, expected: Record<string, number>, settings: typeof UPSTREAM_WEIGHTED_TRAFFIC): Promise<string | undefined> {
  const counts = new Map<string, number>();
  let next = 0;
  let error: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < settings.requests && !error) {
      next++;
      try {
        const backend = backendOfPod(await sample());
        counts.set(backend, (counts.get(backend) ?? 0) + 1);
      } catch (err) {
        error = (err as Error).message;
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
export async function weightedDistribution(sample: PodSampler, expected: Record<string, number>, settings: typeof UPSTREAM_WEIGHTED_TRAFFIC = UPSTREAM_WEIGHTED_TRAFFIC): Promise<string | undefined> {
  let last: string | undefined;
  for (let i = 0; i < settings.attempts; i++) {
    last = await distributionRound(sample, expected, settings);
    if (last === undefined) return undefined;
  }
  return `traffic distribution after ${settings.attempts} rounds of ${settings.requests} requests: ${last}`;
}

/**
 * The upstream loop of HTTPRouteRequestHeaderModifierBackendWeights: `requests` sequential GETs of
 * `path`; each must be answered 200 by a pod whose name starts with the one value of `header` the
 * backend saw (every backendRef sets it to its own name). Resolves with undefined or the first miss.
 */
export async function backendHeaderLoop(target: GatewayTarget, loop: { requests: number; path: string; header: string }, rules: ConsistencyRules = UPSTREAM_CONSISTENCY): Promise<string | undefined> {
  for (let i = 1; i <= loop.requests; i++) {
    let res: RoundTrip;
    try {
      res = await http1RoundTrip(`http://${target.address}:${target.port}${loop.path}`, 'GET', { host: urlHost(target), 'X-Echo-Set-Header': '' }, rules.requestTimeoutMs);
    } catch (err) {
      return `request ${i} of ${loop.requests}: request failed: ${(err as Error).message}`;
    }
    if (res.statusCode !== 200) return `request ${i} of ${loop.requests}: status ${res.statusCode}, want 200`;
    let echo: EchoBody;
    try {
      echo = JSON.parse(res.text) as EchoBody;
    } catch {
      return `request ${i} of ${loop.requests}: response body is not the echo backend's JSON: ${res.text.slice(0, 120)}`;
    }
    // Upstream looks the header up by its exact canonical key, not case-insensitively.
    const values = echo.headers?.[loop.header] ?? [];
    if (values.length !== 1) return `request ${i} of ${loop.requests}: backend saw ${values.length} ${loop.header} headers (${JSON.stringify(values)}), want exactly one`;
    if (!(echo.pod ?? '').startsWith(values[0])) return `request ${i} of ${loop.requests}: answered by pod ${JSON.stringify(echo.pod)}, but its ${loop.header} header says ${JSON.stringify(values[0])}`;
  }
  return undefined;
}

/**
 * One percentage-mirror round: `requests` GETs of `path` (one request id for the round), `concurrency`
 * at a time; a request that fails is sent again (up to 3 times), as upstream needs one success per
 * request. Resolves with undefined once all were answered 200, else why not.
 */
export async function mirrorRound(target: GatewayTarget, path: string, headers: Record<string, string>, settings: { requests: number; concurrency: number }, rules: ConsistencyRules = UPSTREAM_CONSISTENCY): Promise<string | undefined> {
  let next = 0;
  let error: string | undefined;
  const send = async (): Promise<string | undefined> => {
    let last = '';
    for (let tries = 0; tries < 3; tries++) {
      try {
        const res = await http1RoundTrip(`http://${target.address}:${target.port}${path}`, 'GET', { ...headers, host: urlHost(target), 'X-Echo-Set-Header': '' }, rules.requestTimeoutMs);
        if (res.statusCode === 200) return undefined;
        last = `status ${res.statusCode}`;
      } catch (err) {
        last = `request failed: ${(err as Error).message}`;
      }
    }
    return last;
  };
  const worker = async (): Promise<void> => {
    while (next < settings.requests && !error) {
      next++;
      error = await send();
    }
  };
  await Promise.all(Array.from({ length: settings.concurrency }, worker));
  return error;
}
