import * as net from 'node:net';
import { NativeHttp1Connections } from '../src/upstream/native-http1';
import type { UpstreamHeaders, UpstreamRequest, UpstreamResetError, UpstreamResponseHandler } from '../src/upstream/types';

/** What an exchange delivered to its handler. */
interface Outcome {
  status?: number;
  headers?: UpstreamHeaders;
  body: string;
  trailers?: UpstreamHeaders;
  error?: UpstreamResetError;
}

function exchange(connections: NativeHttp1Connections, request: Partial<UpstreamRequest> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { body: '' };
    const handler: UpstreamResponseHandler = {
      onUpstreamHeaders(status, headers) {
        outcome.status = status;
        outcome.headers = headers;
      },
      onUpstreamData(chunk) {
        outcome.body += chunk.toString('latin1');
        return true;
      },
      onUpstreamEnd(trailers) {
        outcome.trailers = trailers;
        resolve(outcome);
      },
      onUpstreamError(err) {
        outcome.error = err;
        resolve(outcome);
      },
    };
    connections.send({ method: 'GET', path: '/', authority: 'upstream.test', headers: {}, body: null, ...request }, handler);
  });
}

/**
 * A raw TCP server answering each request head it reads with the next scripted reply (a function
 * of the head, returning the bytes to write and whether to close afterwards).
 */
class ScriptedServer {
  readonly heads: string[] = [];
  connections = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly reply: (head: string, index: number) => { bytes: string; close?: boolean; delayMs?: number }) {
    this.server = net.createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      let pending = '';
      socket.on('data', (chunk) => {
        pending += chunk.toString('latin1');
        for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
          const head = pending.slice(0, end);
          pending = pending.slice(end + 4);
          this.heads.push(head);
          const { bytes, close, delayMs } = this.reply(head, this.heads.length - 1);
          const send = (): void => {
            if (close) socket.end(bytes, 'latin1');
            else socket.write(bytes, 'latin1');
          };
          if (delayMs) setTimeout(send, delayMs);
          else send();
        }
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  /** Closes the connections the server holds (as a server's keep-alive timeout does). */
  dropConnections(): void {
    for (const socket of this.sockets) socket.end();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

describe('NativeHttp1Connections (upstream HTTP/1.1 read by node’s C++ parser)', () => {
  let server: ScriptedServer | undefined;
  let connections: NativeHttp1Connections | undefined;
  afterEach(async () => {
    await connections?.close();
    await server?.close();
    connections = undefined;
    server = undefined;
  });

  async function start(reply: ConstructorParameters<typeof ScriptedServer>[0]): Promise<NativeHttp1Connections> {
    server = new ScriptedServer(reply);
    const port = await server.listen();
    connections = new NativeHttp1Connections('127.0.0.1', port, 2_000);
    return connections;
  }

  it('writes the request head with host, headers and repeated values, and reuses the connection', async () => {
    const c = await start(() => ({ bytes: ok('hello', 'x-reply: 1\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nconnection: keep-alive\r\n') }));
    const first = await exchange(c, { method: 'DELETE', path: '/items/1?x=%20', headers: { 'x-one': '1', 'x-many': ['a', 'b'] } });
    const second = await exchange(c, { method: 'POST', path: '/second' });
    expect(first).toMatchObject({ status: 200, body: 'hello', headers: { 'x-reply': '1', 'set-cookie': ['a=1', 'b=2'], 'content-length': '5' } });
    expect(first.headers?.connection).toBeUndefined();
    expect(second).toMatchObject({ status: 200, body: 'hello' });
    expect(server?.heads).toEqual([
      'DELETE /items/1?x=%20 HTTP/1.1\r\nhost: upstream.test\r\nx-one: 1\r\nx-many: a\r\nx-many: b',
      // A POST without a body says so, as undici sends it.
      'POST /second HTTP/1.1\r\nhost: upstream.test\r\ncontent-length: 0',
    ]);
    expect(server?.connections).toBe(1);
  });

  it('reads no body after a HEAD response, whatever its content-length, and keeps the connection', async () => {
    const c = await start((head) => ({ bytes: head.startsWith('HEAD') ? 'HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n' : ok('after') }));
    const head = await exchange(c, { method: 'HEAD' });
    const next = await exchange(c);
    expect([head.status, head.headers?.['content-length'], head.body]).toEqual([200, '42', '']);
    expect([next.status, next.body]).toEqual([200, 'after']);
    expect(server?.connections).toBe(1);
  });

  it('skips a 100 Continue and relays the final response', async () => {
    const c = await start(() => ({ bytes: `HTTP/1.1 100 Continue\r\n\r\n${ok('final')}` }));
    expect(await exchange(c)).toMatchObject({ status: 200, body: 'final' });
  });

  it('relays a chunked body with its trailers, and a head of many header lines intact', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `x-h${i}: v${i}\r\n`).join('');
    const c = await start(() => ({ bytes: `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n${many}\r\n3\r\nabc\r\n2\r\nde\r\n0\r\ngrpc-status: 0\r\nx-trailer: t\r\n\r\n` }));
    const outcome = await exchange(c);
    expect(outcome.body).toBe('abcde');
    expect(outcome.trailers).toEqual({ 'grpc-status': '0', 'x-trailer': 't' });
    for (let i = 0; i < 40; i++) expect(outcome.headers?.[`x-h${i}`]).toBe(`v${i}`);
    expect(outcome.headers?.['transfer-encoding']).toBeUndefined();
  });

  it('ends a body delimited by the connection close there, and does not reuse that connection', async () => {
    const c = await start(() => ({ bytes: 'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end', close: true }));
    expect(await exchange(c)).toMatchObject({ status: 200, body: 'until the end' });
    expect(await exchange(c)).toMatchObject({ status: 200, body: 'until the end' });
    expect(server?.connections).toBe(2);
  });

  it('opens a new connection when the server closed the idle one', async () => {
    const c = await start(() => ({ bytes: ok('fine') }));
    await exchange(c);
    server?.dropConnections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await exchange(c)).toMatchObject({ status: 200, body: 'fine' });
    expect(server?.connections).toBe(2);
  });

  it('fails with "connection termination" when the server closes before the response is complete', async () => {
    const c = await start(() => ({ bytes: 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial', close: true }));
    const outcome = await exchange(c);
    expect(outcome.error?.reason).toBe('connection termination');
  });

  it('fails with "connection failure" when nothing listens', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    connections = new NativeHttp1Connections('127.0.0.1', port, 2_000);
    expect((await exchange(connections)).error?.reason).toBe('connection failure');
  });

  it('refuses header values and targets that would end a line early, sending nothing', async () => {
    const c = await start(() => ({ bytes: ok('never') }));
    const injected = await exchange(c, { headers: { 'x-evil': 'a\r\nx-smuggled: 1' } });
    const badTarget = await exchange(c, { path: '/a b' });
    const badName = await exchange(c, { headers: { 'bad name': 'v' } });
    expect(injected.error?.message).toContain('invalid value for header x-evil');
    expect(badTarget.error?.message).toContain('invalid request target');
    expect(badName.error?.message).toContain('invalid header name');
    expect(server?.heads).toEqual([]);
  });

  it('close() lets the request in flight finish, then closes every connection', async () => {
    const c = await start(() => ({ bytes: ok('late'), delayMs: 100 }));
    const inFlight = exchange(c);
    await new Promise((resolve) => setTimeout(resolve, 30));
    let closed = false;
    const closing = c.close().then(() => (closed = true));
    expect(await inFlight).toMatchObject({ status: 200, body: 'late' });
    await Promise.all([closing, c.close()]);
    expect(closed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server?.openConnections).toBe(0);
  });

  it('drops a connection the server sent an unsolicited response on while idle', async () => {
    const c = await start((_head, index) => ({ bytes: index === 0 ? `${ok('one')}${ok('unasked')}` : ok('two') }));
    expect(await exchange(c)).toMatchObject({ body: 'one' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await exchange(c)).toMatchObject({ status: 200, body: 'two' });
    expect(server?.connections).toBe(2);
  });
});
