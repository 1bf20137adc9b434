import * as http2 from 'node:http2';
import { request, WebSocket } from 'undici';
import { parseGoDuration, startEchoServer, websocketAccept, type EchoResponse } from '../src';

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

  it('simulates failing attempts under /retry per uuid: a status, a reset, a delay, then echoes', async () => {
    const echo = await startEchoServer();
    const get = async (query: string): Promise<number | string> => {
      try {
        const res = await request(`${echo.url}/retry/x?${query}`, { reset: true });
        await res.body.text();
        return res.statusCode;
      } catch (err) {
        return (err as { code?: string }).code ?? 'error';
      }
    };
    try {
      expect(await get('uuid=a&succeedAfter=2&responseCode=503')).toBe(503);
      expect(await get('uuid=a&succeedAfter=2&responseCode=503')).toBe(503);
      expect(await get('uuid=a&succeedAfter=2&responseCode=503')).toBe(200);
      // Another uuid counts on its own; no responseCode means a connection reset.
      expect(await get('uuid=b&succeedAfter=1')).toBe('ECONNRESET');
      expect(await get('uuid=b&succeedAfter=1')).toBe(200);
      const started = Date.now();
      expect(await get('uuid=c&succeedAfter=1&responseCode=500&delayRetry=150ms')).toBe(500);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(await get('succeedAfter=1')).toBe(400);
      expect(await get('uuid=d&succeedAfter=1&delayRetry=soon')).toBe(400);
    } finally {
      await echo.close();
    }
  });
});

describe('echo server, WebSocket on /ws (the conformance echo image\'s endpoint)', () => {
  it('computes the RFC 6455 accept value', () => {
    // The example of RFC 6455 §1.3.
    expect(websocketAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('echoes a text and a binary message back, and refuses upgrades elsewhere', async () => {
    const echo = await startEchoServer();
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${echo.port}/ws`);
      ws.binaryType = 'arraybuffer';
      const received: Array<string | number[]> = [];
      await new Promise<void>((resolve, reject) => {
        ws.onerror = () => reject(new Error('websocket error'));
        ws.onopen = () => ws.send('Websocket Support!');
        ws.onmessage = (event) => {
          received.push(typeof event.data === 'string' ? event.data : [...new Uint8Array(event.data as ArrayBuffer)]);
          if (received.length === 1) ws.send(new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
          else resolve();
        };
      });
      ws.close();
      expect(received).toEqual(['Websocket Support!', [1, 2, 3, 4, 5, 6, 7]]);
      const elsewhere = new WebSocket(`ws://127.0.0.1:${echo.port}/other`);
      await expect(new Promise((resolve, reject) => ((elsewhere.onopen = resolve), (elsewhere.onerror = () => reject(new Error('refused')))))).rejects.toThrow('refused');
    } finally {
      await echo.close();
    }
  });
});

describe('echo server, the h2c-only port (echo-basic\'s 3001)', () => {
  it('answers HTTP/2 with prior knowledge there and refuses HTTP/1.1 with 400', async () => {
    const echo = await startEchoServer({ h2cPort: 0, pod: 'infra-backend-v1-a-b' });
    try {
      expect(echo.h2cPort).toBeGreaterThan(0);
      const session = http2.connect(`http://127.0.0.1:${echo.h2cPort}`);
      const body = await new Promise<EchoResponse>((resolve, reject) => {
        const stream = session.request({ ':path': '/h2c' });
        let text = '';
        stream.on('data', (c: Buffer) => (text += c.toString()));
        stream.on('end', () => resolve(JSON.parse(text) as EchoResponse));
        stream.on('error', reject);
      });
      session.close();
      expect([body.proto, body.path, body.pod]).toEqual(['HTTP/2.0', '/h2c', 'infra-backend-v1-a-b']);
      const plain = await request(`http://127.0.0.1:${echo.h2cPort}/`, { reset: true });
      expect(plain.statusCode).toBe(400);
      await plain.body.text();
    } finally {
      await echo.close();
    }
  });
});
