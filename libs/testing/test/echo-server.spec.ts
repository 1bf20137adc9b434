import * as http2 from 'node:http2';
import { request } from 'undici';
import { parseGoDuration, startEchoServer, type EchoResponse } from '../src';

describe('echo server', () => {
  it('echoes method, path, host, canonical headers, namespace and pod over HTTP/1.1', async () => {
    const echo = await startEchoServer({ namespace: 'infra', pod: 'infra-backend-v1-abc12-xyz34' });
    try {
      const res = await request(`${echo.url}/some/path?x=1`, { method: 'POST', headers: { 'x-custom': 'v', host: 'example.com' }, body: 'hello' });
      expect(res.statusCode).toBe(200);
      const body = (await res.body.json()) as EchoResponse;
      expect(body).toMatchObject({ method: 'POST', path: '/some/path?x=1', host: 'example.com', proto: 'HTTP/1.1', namespace: 'infra', pod: 'infra-backend-v1-abc12-xyz34' });
      expect(body.headers['X-Custom']).toEqual(['v']);
    } finally {
      await echo.close();
    }
  });

  it('answers h2c with prior knowledge and honours x-echo-set-status', async () => {
    const echo = await startEchoServer();
    const session = http2.connect(echo.url);
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ':path': '/h2', ':authority': 'h2.example', 'x-echo-set-status': '418' });
        let status = 0;
        let body = '';
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (body += d));
        stream.on('end', () => resolve({ status, body }));
        stream.on('error', reject);
        stream.end();
      });
      expect(status).toBe(418);
      expect(JSON.parse(body)).toMatchObject({ path: '/h2', host: 'h2.example', proto: 'HTTP/2.0' });
    } finally {
      session.close();
      await echo.close();
    }
  });
});

describe('echo server, conformance echo-basic behaviours', () => {
  it('answers /status/NNN, sets X-Echo-Set-Header response headers and waits for ?delay=', async () => {
    const echo = await startEchoServer();
    try {
      expect((await request(`${echo.url}/status/503`)).statusCode).toBe(503);
      const res = await request(`${echo.url}/h`, { headers: { 'x-echo-set-header': 'X-Header-Set-1:val-1, X-Header-Set-1:val-2,X-Other:o' } });
      expect(res.headers['x-header-set-1']).toBe('val-1,val-2');
      expect(res.headers['x-other']).toBe('o');
      await res.body.dump();
      const started = Date.now();
      const delayed = await request(`${echo.url}/slow?delay=300ms`);
      await delayed.body.dump();
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      await echo.close();
    }
  });

  it('parses Go durations', () => {
    expect(parseGoDuration('1s')).toBe(1000);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('soon')).toBeUndefined();
  });
});
