/**
 * DNS over TCP framing and connection handling (RFC 1035 §4.2.2, RFC 7766) with real sockets: the
 * two-byte length prefix, queries split across or packed into TCP segments, replies in query order,
 * and idle connections closed.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { eventually } from '@tendril/testing';
import { DnsMessageReader, DnsTcpUpstream, frameDnsMessage, serveDnsTcpConnection } from '../src';

describe('DnsMessageReader / frameDnsMessage', () => {
  it('finds messages however the stream is cut: byte by byte, or several in one chunk', () => {
    const stream = Buffer.concat([frameDnsMessage(Buffer.from('first message')), frameDnsMessage(Buffer.from('second'))]);
    const bytewise = new DnsMessageReader();
    const found: string[] = [];
    for (const byte of stream) found.push(...bytewise.push(Buffer.from([byte])).map((m) => m.toString()));
    expect(found).toEqual(['first message', 'second']);
    expect(new DnsMessageReader().push(stream).map((m) => m.toString())).toEqual(['first message', 'second']);
    // An incomplete message waits for the rest.
    expect(new DnsMessageReader().push(stream.subarray(0, 10))).toEqual([]);
  });

  it('refuses a message longer than the length prefix can say', () => {
    expect(() => frameDnsMessage(Buffer.alloc(65_536))).toThrow('a DNS message over TCP is at most 65535 bytes, not 65536');
  });
});

describe('serveDnsTcpConnection', () => {
  let server: Server;
  let port: number;
  const serve = (handler: (socket: Socket) => void): Promise<void> =>
    new Promise((resolve) => {
      server = createServer(handler);
      server.listen(0, '127.0.0.1', () => {
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Sends `bytes` and collects what comes back until the server closes the connection. */
  const exchange = (bytes: Buffer[]): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const reader = new DnsMessageReader();
      const got: string[] = [];
      const socket = connect(port, '127.0.0.1', () => {
        for (const b of bytes) socket.write(b);
      });
      socket.on('data', (d: Buffer) => got.push(...reader.push(d).map((m) => m.toString())));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });

  it('answers in query order although later answers are ready first, and closes after a reply that ends the connection', async () => {
    const delays: Record<string, number> = { slow: 200, fast: 0 };
    await serve((socket) =>
      serveDnsTcpConnection(
        socket,
        (query) => {
          const text = query.toString();
          return { response: new Promise((resolve) => setTimeout(() => resolve(Buffer.from(`answer ${text}`)), delays[text] ?? 0)), closeAfter: text === 'bad' };
        },
        { idleTimeoutMs: 10_000, maxOutstanding: 64, onClose: () => undefined },
      ),
    );
    const queries = ['slow', 'fast', 'bad', 'never'].map((q) => frameDnsMessage(Buffer.from(q)));
    expect(await exchange([Buffer.concat(queries)])).toEqual(['answer slow', 'answer fast', 'answer bad']);
  });

  it('closes a connection idle for the idle timeout', async () => {
    let closed = false;
    await serve((socket) => serveDnsTcpConnection(socket, () => ({ response: Promise.resolve(Buffer.from('x')), closeAfter: false }), { idleTimeoutMs: 100, maxOutstanding: 64, onClose: () => (closed = true) }));
    expect(await exchange([frameDnsMessage(Buffer.from('q'))])).toEqual(['x']);
    // The proxy's side has closed too (its close follows the client's answering FIN).
    await eventually(() => expect(closed).toBe(true));
  });
});

describe('DnsTcpUpstream', () => {
  let server: Server;
  let port: number;
  let connections = 0;
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A DNS-over-TCP server that answers each message with itself (same id), and closes the connection after `answersPerConnection` answers; -1: reads and never answers. */
  const start = (answersPerConnection: number): Promise<void> =>
    new Promise((resolve) => {
      connections = 0;
      server = createServer((socket) => {
        connections++;
        const reader = new DnsMessageReader();
        let answered = 0;
        socket.on('error', () => undefined);
        socket.on('data', (chunk: Buffer) => {
          for (const message of reader.push(chunk)) {
            if (answersPerConnection < 0) continue;
            if (answered++ >= answersPerConnection) return void socket.destroy();
            socket.write(frameDnsMessage(message));
            if (answered === answersPerConnection) socket.end();
          }
        });
      });
      server.listen(0, '127.0.0.1', () => {
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  const dial = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
  /** A 12-byte header with `id`, then `tag`. */
  const message = (id: number, tag: string): Buffer => {
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    return Buffer.concat([header, Buffer.from(tag)]);
  };

  it('gives each query its own answer under the client’s id, and opens a new connection after the server closed one', async () => {
    await start(1);
    const upstream = new DnsTcpUpstream('test server', dial, 2_000);
    try {
      const first = await upstream.exchange(message(7, 'one'));
      expect([first.readUInt16BE(0), first.subarray(12).toString()]).toEqual([7, 'one']);
      await eventually(async () => {
        const second = await upstream.exchange(message(7, 'two'));
        expect([second.readUInt16BE(0), second.subarray(12).toString()]).toEqual([7, 'two']);
      });
      expect(connections).toBeGreaterThanOrEqual(2);
    } finally {
      upstream.close();
    }
  });

  it('rejects a query the server does not answer in time, or closes the connection on, naming the server', async () => {
    await start(-1);
    const silent = new DnsTcpUpstream('10.0.0.53:53', dial, 300);
    try {
      await expect(silent.exchange(message(1, 'lost'))).rejects.toThrow('no answer from 10.0.0.53:53 within 300 ms');
    } finally {
      silent.close();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await start(0);
    const closing = new DnsTcpUpstream('10.0.0.53:53', dial, 2_000);
    try {
      await expect(closing.exchange(message(2, 'dropped'))).rejects.toThrow('10.0.0.53:53 closed the connection');
    } finally {
      closing.close();
    }
  });
});
