import type { EchoServer } from '@tendril/testing';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { request as undiciRequest } from 'undici';
import { edsCluster, httpListener, loadAssignment, nodeRequest, ProxyHarness, routeConfig, toCluster, unusedPort, vhost } from './fixtures';

async function listen(server: http.Server | http2.Http2Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function h2Get(port: number, path: string, headers: http2.OutgoingHttpHeaders = {}): Promise<{ status: number; body: string; headers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':path': path, ...headers });
    let body = '';
    let responseHeaders: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (responseHeaders = h));
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => {
      session.close();
      resolve({ status: Number(responseHeaders[':status']), body, headers: responseHeaders });
    });
    stream.on('error', reject);
  });
}

describe('upstream', () => {
  const h = new ProxyHarness();
  let a: EchoServer;
  let b: EchoServer;

  beforeAll(async () => {
    a = await h.backend('a');
    b = await h.backend('b');
  });
  afterAll(() => h.close());

  it('round-robins over endpoints respecting load_balancing_weight', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'ab')])])],
      clusters: [edsCluster('ab')],
      endpoints: [loadAssignment('ab', [{ port: a.port, weight: 2 }, { port: b.port, weight: 1 }])],
    });
    const pods: string[] = [];
    for (let i = 0; i < 9; i++) pods.push((await h.request('/')).echo.pod);
    expect(pods.filter((p) => p === 'a')).toHaveLength(6);
    expect(pods.filter((p) => p === 'b')).toHaveLength(3);
    const hosts = new Set(h.accessLog.slice(-9).map((e) => e.upstream_host));
    expect(hosts).toEqual(new Set([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]));
  });

  it('reuses keep-alive upstream connections across requests and config updates', async () => {
    let connections = 0;
    const counting = http.createServer((_req, res) => res.end('ok'));
    counting.on('connection', () => connections++);
    const port = await listen(counting);
    try {
      const countingConfig = (routeName: string) => ({
        listeners: [httpListener('l', 'rc')],
        routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'counting', { name: routeName })])])],
        clusters: [edsCluster('counting')],
        endpoints: [loadAssignment('counting', [{ port }])],
      });
      await h.apply(countingConfig('first'));
      for (let i = 0; i < 5; i++) expect((await h.request('/')).text).toBe('ok');
      await h.apply(countingConfig('second'));
      for (let i = 0; i < 5; i++) expect((await h.request('/')).text).toBe('ok');
      expect(h.accessLog.at(-1)?.route_name).toBe('second');
      expect(connections).toBe(1);
    } finally {
      counting.closeAllConnections();
      await new Promise<void>((resolve) => counting.close(() => resolve()));
    }
  });

  it('serves h2c downstream (prior knowledge) on the HTTP/1.1 port', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['h2.example'], [toCluster('/', 'a')])])],
      clusters: [edsCluster('a')],
      endpoints: [loadAssignment('a', [{ port: a.port }])],
    });
    const response = await h2Get(h.port, '/over-h2', { ':authority': 'h2.example' });
    expect(response.status).toBe(200);
    const echo = JSON.parse(response.body) as { path: string; host: string; proto: string };
    expect(echo).toMatchObject({ path: '/over-h2', host: 'h2.example', proto: 'HTTP/1.1' });
    expect(h.accessLog.at(-1)).toMatchObject({ protocol: 'HTTP/2', authority: 'h2.example', response_code: 200 });
    expect((await h.request('/', { headers: { host: 'h2.example' } })).status).toBe(200);
  });

  it('recognises an h2c connection preface split across TCP segments', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'a')])])],
      clusters: [edsCluster('a')],
      endpoints: [loadAssignment('a', [{ port: a.port }])],
    });
    // A relay that delivers the client's first bytes to the proxy in two pieces, 50ms apart.
    const relay = net.createServer((client) => {
      const upstream = net.connect(h.port, '127.0.0.1');
      let first = true;
      client.on('data', (chunk: Buffer) => {
        if (!first) return void upstream.write(chunk);
        first = false;
        client.pause();
        upstream.write(chunk.subarray(0, 5));
        setTimeout(() => {
          upstream.write(chunk.subarray(5));
          client.resume();
        }, 50);
      });
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    const relayPort = await listen(relay);
    try {
      const response = await h2Get(relayPort, '/split');
      expect(response.status).toBe(200);
      expect((JSON.parse(response.body) as { path: string }).path).toBe('/split');
    } finally {
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it('declines an HTTP/1.1 "Upgrade: h2c" and answers over HTTP/1.1, as RFC 7540 allows', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'a')])])],
      clusters: [edsCluster('a')],
      endpoints: [loadAssignment('a', [{ port: a.port }])],
    });
    const response = await nodeRequest(h.port, '/upgrade', { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA' });
    expect(response.status).toBe(200);
    const echo = JSON.parse(response.body) as { path: string; headers: Record<string, string[]> };
    expect(echo.path).toBe('/upgrade');
    expect(echo.headers['Upgrade']).toBeUndefined();
    expect(echo.headers['Http2-Settings']).toBeUndefined();
    // The connection stays usable for a keep-alive request after the declined upgrade.
    const socket = net.connect(h.port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.write('GET /first HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n');
    const deadline = Date.now() + 5_000;
    while (!received.includes('"/first"') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    socket.write('GET /second HTTP/1.1\r\nHost: a\r\n\r\n');
    while (!received.includes('"/second"') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    socket.destroy();
    expect(received.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
  });

  it('speaks h2c upstream when the cluster has http2_protocol_options, forwarding trailers', async () => {
    const grpcLike = http2.createServer((req, res) => {
      res.addTrailers({ 'grpc-status': '0' });
      res.writeHead(200, { 'content-type': 'application/grpc', 'x-upstream-proto': req.httpVersion });
      res.end('payload');
    });
    const sessions = new Set<http2.ServerHttp2Session>();
    grpcLike.on('session', (session) => sessions.add(session));
    const port = await listen(grpcLike);
    try {
      await h.apply({
        listeners: [httpListener('l', 'rc')],
        routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'grpc')])])],
        clusters: [edsCluster('grpc', { http2: true })],
        endpoints: [loadAssignment('grpc', [{ port }])],
      });
      const { headers, trailers } = await new Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
        const session = http2.connect(`http://127.0.0.1:${h.port}`);
        session.on('error', reject);
        const stream = session.request({ ':path': '/svc/Method', ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' });
        stream.end('request');
        let responseHeaders: http2.IncomingHttpHeaders = {};
        stream.on('response', (received) => (responseHeaders = received));
        stream.on('trailers', (received) => resolve({ headers: responseHeaders, trailers: received }));
        stream.on('error', reject);
        stream.resume();
        stream.on('end', () => session.close());
      });
      expect(headers['x-upstream-proto']).toBe('2.0');
      expect(trailers['grpc-status']).toBe('0');
      // Over HTTP/1.1 downstream too.
      const response = await h.request('/plain');
      expect(response.status).toBe(200);
      expect(response.headers['x-upstream-proto']).toBe('2.0');
      expect(response.text).toBe('payload');
    } finally {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => grpcLike.close(() => resolve()));
    }
  });

  it('streams bodies both ways without buffering them whole', async () => {
    let releaseResponse!: () => void;
    const firstRequestChunk = new Promise<string>((resolveChunk) => {
      const server = http.createServer((req, res) => {
        req.once('data', (chunk: Buffer) => resolveChunk(chunk.toString()));
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        releaseResponse = () => {
          res.end('last');
          server.close();
        };
        req.resume();
      });
      void listen(server).then((port) =>
        h.apply({
          listeners: [httpListener('l', 'rc')],
          routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'stream')])])],
          clusters: [edsCluster('stream')],
          endpoints: [loadAssignment('stream', [{ port }])],
        }),
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const upload = new PassThrough();
    upload.write('chunk-1');
    const response = await undiciRequest(`http://127.0.0.1:${h.port}/upload`, { method: 'POST', body: upload, dispatcher: h.client });
    // The backend sees the first request chunk while the client is still uploading…
    expect(await firstRequestChunk).toBe('chunk-1');
    // …and the client sees the first response chunk while the backend is still responding.
    const reader = response.body[Symbol.asyncIterator]();
    expect(String((await reader.next()).value)).toBe('first;');
    upload.end('chunk-2');
    releaseResponse();
    let rest = '';
    for (let next = await reader.next(); !next.done; next = await reader.next()) rest += String(next.value);
    expect(rest).toBe('last');
    await waitForLog(h, '/upload');
    expect(h.accessLog.at(-1)).toMatchObject({ path: '/upload', bytes_received: 14, bytes_sent: 10 });
  });

  it('answers 503 "no healthy upstream" (UH) for a cluster without endpoints and 503 (NC) for an unknown cluster', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/empty', 'empty'), toCluster('/unknown', 'nope')])])],
      clusters: [edsCluster('empty')],
      endpoints: [],
    });
    const empty = await h.request('/empty');
    expect([empty.status, empty.text]).toEqual([503, 'no healthy upstream']);
    expect(h.accessLog.at(-1)).toMatchObject({ response_flags: 'UH', upstream_cluster: 'empty' });
    const unknown = await h.request('/unknown');
    expect(unknown.status).toBe(503);
    expect(h.accessLog.at(-1)).toMatchObject({ response_flags: 'NC', upstream_cluster: 'nope' });
  });

  it('answers 503 with reset reason "connection failure" (UF) when the endpoint refuses connections, for HTTP/1.1 and HTTP/2 clusters', async () => {
    const port = await unusedPort();
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/h1', 'down'), toCluster('/h2', 'down2')])])],
      clusters: [edsCluster('down'), edsCluster('down2', { http2: true })],
      endpoints: [loadAssignment('down', [{ port }]), loadAssignment('down2', [{ port }])],
    });
    for (const path of ['/h1', '/h2']) {
      const response = await h.request(path);
      expect(response.status).toBe(503);
      expect(response.text).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection failure');
      expect(h.accessLog.at(-1)).toMatchObject({ response_flags: 'UF', upstream_host: `127.0.0.1:${port}` });
    }
  });

  it('answers 503 "connection termination" (UC) when the upstream closes before responding', async () => {
    const rude = http.createServer((req) => req.socket.destroy());
    const port = await listen(rude);
    try {
      await h.apply({
        listeners: [httpListener('l', 'rc')],
        routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'rude')])])],
        clusters: [edsCluster('rude')],
        endpoints: [loadAssignment('rude', [{ port }])],
      });
      const response = await h.request('/');
      expect(response.status).toBe(503);
      expect(response.text).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection termination');
      expect(h.accessLog.at(-1)?.response_flags).toBe('UC');
    } finally {
      await new Promise<void>((resolve) => rude.close(() => resolve()));
    }
  });

  it('answers 504 "upstream request timeout" (UT) for the route timeout and for per_try_timeout', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [
        routeConfig('rc', [
          vhost('v', ['*'], [
            toCluster('/route-timeout', 'a', {}, { timeout: '0.2s' }),
            toCluster('/per-try', 'a', {}, { timeout: '10s', retry_policy: { per_try_timeout: '0.2s' } }),
            toCluster('/no-timeout', 'a', {}, { timeout: '0s' }),
          ]),
        ]),
      ],
      clusters: [edsCluster('a')],
      endpoints: [loadAssignment('a', [{ port: a.port }])],
    });
    for (const path of ['/route-timeout', '/per-try']) {
      const response = await h.request(path, { headers: { 'x-echo-delay-ms': '800' } });
      expect([response.status, response.text]).toEqual([504, 'upstream request timeout']);
      expect(h.accessLog.at(-1)).toMatchObject({ path, response_code: 504, response_flags: 'UT' });
    }
    const slowButAllowed = await h.request('/no-timeout', { headers: { 'x-echo-delay-ms': '300' } });
    expect(slowButAllowed.status).toBe(200);
    const fast = await h.request('/route-timeout');
    expect(fast.status).toBe(200);
    expect(fast.echo.headers['X-Envoy-Expected-Rq-Timeout-Ms']).toEqual(['200']);
  });

  it('cancels the upstream request when the client goes away and logs DC', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'a')])])],
      clusters: [edsCluster('a')],
      endpoints: [loadAssignment('a', [{ port: a.port }])],
    });
    const abandoned = new AbortController();
    const pending = undiciRequest(`http://127.0.0.1:${h.port}/abandoned`, {
      headers: { 'x-echo-delay-ms': '500' },
      signal: abandoned.signal,
      dispatcher: h.client,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    abandoned.abort();
    await expect(pending).rejects.toThrow();
    await waitForLog(h, '/abandoned');
    expect(h.accessLog.at(-1)).toMatchObject({ response_code: 0, response_flags: 'DC', upstream_host: `127.0.0.1:${a.port}` });
    expect((await h.request('/after')).status).toBe(200);
  });

  it('passes the upstream status through and logs one JSON entry per request', async () => {
    await h.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'a', { name: 'named-route' })])])],
      clusters: [edsCluster('a')],
      endpoints: [loadAssignment('a', [{ port: a.port }])],
    });
    const before = h.accessLog.length;
    const response = await h.request('/status?x=1', { headers: { 'x-echo-set-status': '418', 'user-agent': 'jest-agent', host: 'log.example' } });
    expect(response.status).toBe(418);
    await waitForLog(h, '/status?x=1');
    expect(h.accessLog.length).toBe(before + 1);
    const entry = h.accessLog.at(-1);
    expect(entry).toMatchObject({
      method: 'GET',
      path: '/status?x=1',
      protocol: 'HTTP/1.1',
      response_code: 418,
      response_flags: '-',
      upstream_host: `127.0.0.1:${a.port}`,
      upstream_cluster: 'a',
      route_name: 'named-route',
      authority: 'log.example',
      user_agent: 'jest-agent',
      bytes_sent: response.text.length,
    });
    expect(entry?.x_request_id).toEqual(expect.any(String));
    expect(Date.parse(entry?.start_time ?? '')).not.toBeNaN();
    expect(entry?.duration_ms).toEqual(expect.any(Number));
  });
});

async function waitForLog(h: ProxyHarness, path: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (h.accessLog.at(-1)?.path !== path) {
    if (Date.now() > deadline) throw new Error(`no access log entry for ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
