import * as net from 'node:net';
import { HttpListener, type RequestHandler } from '../src/listener';
import { silentLogger } from '../src/logger';
import type { ListenerRoutes } from '../src/router';

const routes: ListenerRoutes = { listenerName: 'l', routeConfigName: undefined, inlineRouteTable: undefined, appendXff: true, upgrades: new Map() };

const okHandler: RequestHandler = {
  request: (_req, res) => {
    res.writeHead(200, { 'content-length': 2 });
    res.end('ok');
  },
  upgrade: (_req, socket) => socket.destroy(),
};

/** Sends one keep-alive request on a raw connection; resolves with the connection once the response arrived. */
async function oneRequest(port: number): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  const socket = net.connect(port, '127.0.0.1');
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  let received = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.endsWith('ok')) resolve();
    });
    socket.once('error', reject);
    socket.write('GET / HTTP/1.1\r\nHost: example\r\n\r\n');
  });
  return { socket, closed };
}

describe('HttpListener', () => {
  it('closes HTTP/1.1 keep-alive connections that stay idle, and keeps busy ones', async () => {
    let release!: () => void;
    const slowHandler: RequestHandler = {
      ...okHandler,
      request: (req, res) => {
        if (req.url !== '/slow') return okHandler.request(req, res, routes);
        release = () => {
          res.writeHead(200, { 'content-length': 2 });
          res.end('ok');
        };
      },
    };
    const listener = new HttpListener('127.0.0.1', 0, routes, slowHandler, silentLogger, { idleSweepIntervalMs: 100 });
    const port = await listener.bind();
    try {
      const idle = await oneRequest(port);
      const idleSince = Date.now();
      // A second connection with a request in flight for longer than the idle timeout stays open.
      const busy = net.connect(port, '127.0.0.1');
      let busyClosed = false;
      busy.once('close', () => (busyClosed = true));
      let busyResponse = '';
      busy.on('data', (chunk: Buffer) => (busyResponse += chunk.toString('latin1')));
      busy.write('GET /slow HTTP/1.1\r\nHost: example\r\n\r\n');
      const idleClosedAt = await idle.closed;
      expect(idleClosedAt - idleSince).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(busyClosed).toBe(false);
      release();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(busyResponse).toMatch(/^HTTP\/1\.1 200 /);
      busy.destroy();
    } finally {
      await listener.drain(100);
    }
  });
});
