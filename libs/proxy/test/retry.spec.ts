import type { envoy } from '@tendril/api-envoy';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { validateConfig } from '../src';
import { compileRetryPolicy, retriableReset, retriableStatus, retryBackOffMs } from '../src/routing/retry-policy';
import { UpstreamResetError } from '../src/upstream/types';
import { edsCluster, httpListener, loadAssignment, ProxyHarness, routeConfig, toCluster, unusedPort, vhost } from './fixtures';

type RetryPolicy = envoy.config.route.v3.RetryPolicy;

/** What a scripted backend saw of one request. */
interface Seen {
  path: string;
  body: string;
  attemptCount: string | undefined;
}

/**
 * A backend whose answer to the n-th request on a path is scripted: a status, or "reset" to close the
 * connection without answering, or "slow" to answer 200 after a second.
 */
class ScriptedBackend {
  readonly seen: Seen[] = [];
  private readonly counts = new Map<string, number>();
  private readonly server: http.Server;
  port = 0;

  constructor(private readonly script: (path: string, n: number) => number | 'reset' | 'slow') {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('latin1');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const path = req.url ?? '/';
        const n = (this.counts.get(path) ?? 0) + 1;
        this.counts.set(path, n);
        const attemptCount = req.headers['x-envoy-attempt-count'];
        this.seen.push({ path, body, attemptCount: typeof attemptCount === 'string' ? attemptCount : undefined });
        const action = this.script(path, n);
        if (action === 'reset') return req.socket.destroy();
        const answer = (status: number): void => {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(`attempt ${n} answered ${status}; body ${body.length} bytes`);
        };
        if (action === 'slow') setTimeout(() => !res.destroyed && answer(200), 1_000);
        else answer(action);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  requests(path: string): Seen[] {
    return this.seen.filter((s) => s.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Retries without noticeable back-off, so tests do not wait on the default 25 ms steps. */
const FAST_BACK_OFF = { base_interval: '0.001s', max_interval: '0.002s' };

describe('retry_policy', () => {
  const h = new ProxyHarness();
  let backend: ScriptedBackend;

  beforeAll(async () => {
    // /fail-twice: 503, 503, then 200. /always-503 and /always-500: that status every time.
    // /reset-once: the first connection is closed without a response. /slow-once: the first answer takes a second.
    // /teapot-once: 418 once, then 200.
    backend = await new ScriptedBackend((path, n) => {
      if (path.startsWith('/fail-twice')) return n <= 2 ? 503 : 200;
      if (path.startsWith('/always-503')) return 503;
      if (path.startsWith('/always-500')) return 500;
      if (path.startsWith('/reset-once')) return n === 1 ? 'reset' : 200;
      if (path.startsWith('/slow-once')) return n === 1 ? 'slow' : 200;
      if (path.startsWith('/teapot-once')) return n === 1 ? 418 : 200;
      return 200;
    }).start();
  });

  afterAll(async () => {
    await h.close();
    await backend.close();
  });

  async function serve(
    routes: envoy.config.route.v3.Route[],
    vhostExtra: Partial<envoy.config.route.v3.VirtualHost> = {},
    endpoints = [{ port: backend.port }],
    lbPolicy: 'ROUND_ROBIN' | 'RANDOM' = 'ROUND_ROBIN',
  ): Promise<void> {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], routes, vhostExtra)])],
      clusters: [edsCluster('backend', { lbPolicy })],
      endpoints: [loadAssignment('backend', endpoints)],
    });
  }

  const retrying = (policy: RetryPolicy, action: envoy.config.route.v3.RouteAction = {}): envoy.config.route.v3.RouteAction => ({
    retry_policy: { retry_back_off: FAST_BACK_OFF, ...policy },
    ...action,
  });

  it('retries 5xx responses until one succeeds, counting attempts in x-envoy-attempt-count both ways', async () => {
    await serve([toCluster('/', 'backend', {}, retrying({ retry_on: '5xx', num_retries: 3 }))], {
      include_request_attempt_count: true,
      include_attempt_count_in_response: true,
    });
    const response = await h.request('/fail-twice/a');
    expect(response.status).toBe(200);
    expect(response.text).toBe('attempt 3 answered 200; body 0 bytes');
    expect(response.headers['x-envoy-attempt-count']).toBe('3');
    expect(backend.requests('/fail-twice/a').map((s) => s.attemptCount)).toEqual(['1', '2', '3']);
    expect(h.accessLog.at(-1)).toMatchObject({ path: '/fail-twice/a', response_code: 200, response_flags: '-', upstream_cluster: 'backend' });
  });

  it('passes the last response through with URX when the retries run out', async () => {
    await serve([toCluster('/', 'backend', {}, retrying({ retry_on: '5xx', num_retries: 2 }))]);
    const response = await h.request('/always-503/a');
    expect(response.status).toBe(503);
    expect(response.text).toBe('attempt 3 answered 503; body 0 bytes');
    expect(backend.requests('/always-503/a')).toHaveLength(3);
    expect(h.accessLog.at(-1)).toMatchObject({ path: '/always-503/a', response_code: 503, response_flags: 'URX' });
  });

  it('retries once when the policy gives no num_retries, and not at all without retry_on', async () => {
    await serve([
      toCluster('/always-503/default-count', 'backend', {}, retrying({ retry_on: '5xx' })),
      toCluster('/always-503/no-conditions', 'backend', {}, retrying({ num_retries: 5 })),
    ]);
    expect((await h.request('/always-503/default-count')).status).toBe(503);
    expect(backend.requests('/always-503/default-count')).toHaveLength(2);
    expect((await h.request('/always-503/no-conditions')).status).toBe(503);
    expect(backend.requests('/always-503/no-conditions')).toHaveLength(1);
  });

  it('lets a status the policy does not name pass through on the first attempt', async () => {
    await serve([
      toCluster('/always-500', 'backend', {}, retrying({ retry_on: 'gateway-error', num_retries: 3 })),
      toCluster('/teapot-once/not-listed', 'backend', {}, retrying({ retry_on: 'retriable-status-codes', retriable_status_codes: [409], num_retries: 3 })),
      toCluster('/teapot-once/listed', 'backend', {}, retrying({ retry_on: 'retriable-status-codes', retriable_status_codes: [418], num_retries: 3 })),
    ]);
    const gatewayOnly = await h.request('/always-500/a');
    expect(gatewayOnly.status).toBe(500);
    expect(backend.requests('/always-500/a')).toHaveLength(1);
    expect(h.accessLog.at(-1)?.response_flags).toBe('-');

    expect((await h.request('/teapot-once/not-listed')).status).toBe(418);
    expect(backend.requests('/teapot-once/not-listed')).toHaveLength(1);
    const listed = await h.request('/teapot-once/listed');
    expect(listed.status).toBe(200);
    expect(backend.requests('/teapot-once/listed')).toHaveLength(2);
  });

  it('retries a connection that is closed before the response (reset)', async () => {
    await serve([toCluster('/', 'backend', {}, retrying({ retry_on: 'reset', num_retries: 1 }))]);
    const response = await h.request('/reset-once/a');
    expect(response.status).toBe(200);
    expect(backend.requests('/reset-once/a')).toHaveLength(2);
  });

  it('retries connect failures on another endpoint', async () => {
    const refused = await unusedPort();
    await serve([toCluster('/without-retries', 'backend'), toCluster('/', 'backend', {}, retrying({ retry_on: 'connect-failure', num_retries: 1 }))], {}, [
      { port: refused },
      { port: backend.port },
    ]);
    // Round robin alternates between the refused endpoint and the live one.
    const without = [await h.request('/without-retries'), await h.request('/without-retries')];
    expect(without.map((r) => r.status).sort()).toEqual([200, 503]);
    for (let i = 0; i < 4; i++) expect((await h.request(`/ok/${i}`)).status).toBe(200);
    expect(h.accessLog.slice(-4).map((e) => e.upstream_host)).toEqual(Array(4).fill(`127.0.0.1:${backend.port}`));
  });

  it('avoids endpoints already tried with the previous_hosts predicate', async () => {
    const refused = await unusedPort();
    const policy: RetryPolicy = {
      retry_on: 'connect-failure',
      num_retries: 1,
      retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }],
      host_selection_retry_max_attempts: 30,
    };
    // Random balancing would send about one retry in two back to the refused endpoint without the predicate.
    await serve([toCluster('/', 'backend', {}, retrying(policy))], {}, [{ port: refused }, { port: backend.port }], 'RANDOM');
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await h.request(`/random/${i}`)).status);
    expect(statuses).toEqual(Array(20).fill(200));
  });

  it('answers 503 UF,URX when every attempt is refused', async () => {
    const refused = await unusedPort();
    await serve([toCluster('/', 'backend', {}, retrying({ retry_on: 'connect-failure', num_retries: 2 }))], {}, [{ port: refused }]);
    const response = await h.request('/refused');
    expect(response.status).toBe(503);
    expect(response.text).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection failure');
    expect(h.accessLog.at(-1)).toMatchObject({ path: '/refused', response_code: 503, response_flags: 'UF,URX' });
  });

  it('replays a request body to every attempt, and does not retry a body larger than the buffer limit', async () => {
    await serve([
      toCluster('/fail-twice/small-limit', 'backend', { per_request_buffer_limit_bytes: 1024 }, retrying({ retry_on: '5xx', num_retries: 3 })),
      toCluster('/', 'backend', {}, retrying({ retry_on: '5xx', num_retries: 3 })),
    ]);
    const body = 'x'.repeat(10_000);
    const replayed = await h.request('/fail-twice/post', { method: 'POST', body });
    expect(replayed.status).toBe(200);
    expect(backend.requests('/fail-twice/post').map((s) => s.body.length)).toEqual([10_000, 10_000, 10_000]);
    expect(h.accessLog.at(-1)).toMatchObject({ path: '/fail-twice/post', bytes_received: 10_000 });

    const tooLarge = await h.request('/fail-twice/small-limit', { method: 'POST', body });
    expect(tooLarge.status).toBe(503);
    expect(backend.requests('/fail-twice/small-limit').map((s) => s.body.length)).toEqual([10_000]);
    expect(h.accessLog.at(-1)).toMatchObject({ path: '/fail-twice/small-limit', bytes_received: 10_000 });
  });

  it('retries an attempt that exceeds per_try_timeout', async () => {
    await serve([toCluster('/', 'backend', {}, retrying({ retry_on: '5xx', num_retries: 1, per_try_timeout: '0.2s' }, { timeout: '10s' }))]);
    const response = await h.request('/slow-once/a');
    expect(response.status).toBe(200);
    expect(response.text).toBe('attempt 2 answered 200; body 0 bytes');
  });

  it('stops retrying when the route timeout, which bounds all attempts, expires', async () => {
    await serve([
      toCluster('/', 'backend', {}, { timeout: '0.3s', retry_policy: { retry_on: '5xx', num_retries: 1000, retry_back_off: { base_interval: '0.05s' } } }),
    ]);
    const response = await h.request('/always-503/bounded');
    expect([response.status, response.text]).toEqual([504, 'upstream request timeout']);
    expect(h.accessLog.at(-1)).toMatchObject({ path: '/always-503/bounded', response_code: 504, response_flags: 'UT' });
    expect(backend.requests('/always-503/bounded').length).toBeLessThan(1001);
  });

  it('uses the virtual host retry_policy when the route has none', async () => {
    await serve([toCluster('/', 'backend')], { retry_policy: { retry_on: 'gateway-error', num_retries: 2, retry_back_off: FAST_BACK_OFF } });
    expect((await h.request('/fail-twice/vhost')).status).toBe(200);
    expect(backend.requests('/fail-twice/vhost')).toHaveLength(3);
  });
});

describe('retry_policy with an HTTP/2 upstream', () => {
  const h = new ProxyHarness();
  const bodies: string[] = [];
  // 503 to the first request, then 200; each echoes the body it received.
  const server = http2.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(bodies.length === 1 ? 503 : 200);
      res.end(body);
    });
  });

  afterAll(async () => {
    await h.close();
    server.close();
  });

  it('replays the buffered body on the h2c session', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'h2', {}, { retry_policy: { retry_on: '5xx', retry_back_off: FAST_BACK_OFF } })])])],
      clusters: [edsCluster('h2', { http2: true })],
      endpoints: [loadAssignment('h2', [{ port: (server.address() as AddressInfo).port }])],
    });
    const response = await h.request('/upload', { method: 'POST', body: 'payload' });
    expect([response.status, response.text]).toEqual([200, 'payload']);
    expect(bodies).toEqual(['payload', 'payload']);
  });
});

describe('retry_policy validation', () => {
  const config = (policy: RetryPolicy) => ({
    listeners: [httpListener('l', 'rc')],
    routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'a', {}, { retry_policy: policy })])])],
    clusters: [edsCluster('a')],
    endpoints: [loadAssignment('a', [{ port: 1 }])],
  });

  it.each([
    [{ retry_on: '5xx,bogus' }, 'retry_policy.retry_on has unknown condition "bogus"'],
    [{ retry_on: 'retriable-headers' }, 'retry_policy.retry_on "retriable-headers" is not supported'],
    [{ retry_back_off: { base_interval: '1s', max_interval: '0.5s' } }, 'max_interval must be at least base_interval'],
    [{ retry_back_off: { base_interval: '0s' } }, 'base_interval must be positive'],
    [{ retriable_status_codes: [99] }, 'invalid status 99'],
    [{ retry_host_predicate: [{ name: 'envoy.retry_host_predicates.omit_canary_hosts' }] }, 'retry_host_predicate "envoy.retry_host_predicates.omit_canary_hosts" is not supported'],
    [{ num_retries: -1 }, 'num_retries must be a non-negative integer'],
  ] as [RetryPolicy, string][])('rejects %j', (policy, message) => {
    const errors = validateConfig(config(policy));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ kind: 'RouteConfiguration', resource: 'rc' });
    expect(errors[0].message).toContain(message);
  });

  it('accepts the conditions it implements', () => {
    expect(validateConfig(config({ retry_on: '5xx, gateway-error,reset,connect-failure,retriable-4xx,retriable-status-codes,refused-stream' }))).toEqual([]);
  });
});

describe('retry decisions', () => {
  const policy = (retryOn: string, codes: number[] = []) => compileRetryPolicy({ retry_on: retryOn, retriable_status_codes: codes }, undefined);

  it('classifies statuses as Envoy does', () => {
    expect([500, 502, 503, 504, 501].map((s) => retriableStatus(policy('gateway-error'), s))).toEqual([false, true, true, true, false]);
    expect([500, 599, 499].map((s) => retriableStatus(policy('5xx'), s))).toEqual([true, true, false]);
    expect([409, 404].map((s) => retriableStatus(policy('retriable-4xx'), s))).toEqual([true, false]);
    expect(retriableStatus(policy('retriable-status-codes', [418]), 418)).toBe(true);
    expect(retriableStatus(policy('connect-failure'), 503)).toBe(false);
  });

  it('classifies resets as Envoy does', () => {
    const refused = new UpstreamResetError('remote refused stream reset');
    const connectFailure = new UpstreamResetError('connection failure');
    const termination = new UpstreamResetError('connection termination');
    expect(retriableReset(policy('connect-failure'), connectFailure)).toBe(true);
    expect(retriableReset(policy('connect-failure'), termination)).toBe(false);
    expect(retriableReset(policy('refused-stream'), refused)).toBe(true);
    expect(retriableReset(policy('refused-stream'), termination)).toBe(false);
    expect(retriableReset(policy('5xx'), termination)).toBe(true);
    expect(retriableReset(policy('retriable-status-codes', [503]), termination)).toBe(false);
  });

  it('backs off with full jitter below base × 2^(n-1), capped at max_interval', () => {
    const p = compileRetryPolicy({ retry_on: '5xx', retry_back_off: { base_interval: '0.1s' } }, undefined);
    expect(p.maxIntervalMs).toBe(1000);
    const highest = (retry: number) => retryBackOffMs(p, retry, () => 0.999999);
    expect([1, 2, 3, 4, 5, 10].map(highest)).toEqual([99, 199, 399, 799, 999, 999]);
    expect(retryBackOffMs(p, 3, () => 0)).toBe(0);
    expect(compileRetryPolicy({}, undefined)).toMatchObject({ numRetries: 1, baseIntervalMs: 25, maxIntervalMs: 250, bufferLimitBytes: 64 * 1024 });
  });
});
