import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { edsCluster, httpListener, loadAssignment, ProxyHarness, routeConfig, toCluster, vhost } from './fixtures';

/** Answers an upgrade with 101 and then echoes raw bytes back, upper-cased; records the request head. */
async function startUpgradeEcho(): Promise<{ server: http.Server; port: number; heads: http.IncomingHttpHeaders[]; upgraded: Set<net.Socket> }> {
  const heads: http.IncomingHttpHeaders[] = [];
  const upgraded = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    heads.push(req.headers);
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
    socket.on('end', () => socket.end());
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, heads, upgraded };
}

/** Sends an upgrade request on a raw socket; resolves with the response head and a way to talk after it. */
function openUpgrade(port: number, path: string): Promise<{ head: string; socket: net.Socket; next: () => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    });
    socket.on('error', reject);
    let buffered = '';
    const waiters: ((data: string) => void)[] = [];
    let headDone = false;
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      if (!headDone) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        headDone = true;
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        resolve({
          head,
          socket,
          next: () =>
            new Promise((resolveData) => {
              if (buffered) {
                resolveData(buffered);
                buffered = '';
              } else {
                waiters.push(resolveData);
              }
            }),
        });
        return;
      }
      const waiter = waiters.shift();
      if (waiter) {
        waiter(buffered);
        buffered = '';
      }
    });
  });
}

describe('HTTP/1.1 upgrades (WebSocket)', () => {
  const h = new ProxyHarness();
  let backend: Awaited<ReturnType<typeof startUpgradeEcho>>;

  beforeAll(async () => {
    backend = await startUpgradeEcho();
  });
  afterAll(async () => {
    await h.close();
    for (const socket of backend.upgraded) socket.destroy();
    backend.server.closeAllConnections();
    await new Promise<void>((resolve) => backend.server.close(() => resolve()));
  });

  const serve = (hcmUpgrades: boolean, routeUpgrade?: boolean) =>
    h.apply({
      listeners: [httpListener('l', 'rc', 0, '127.0.0.1', hcmUpgrades ? { upgrade_configs: [{ upgrade_type: 'websocket' }] } : {})],
      routes: [
        routeConfig('rc', [
          vhost('v', ['*'], [
            toCluster('/chat', 'ws', {}, routeUpgrade === undefined ? {} : { upgrade_configs: [{ upgrade_type: 'WebSocket', enabled: routeUpgrade }] }),
          ]),
        ]),
      ],
      clusters: [edsCluster('ws')],
      endpoints: [loadAssignment('ws', [{ port: backend.port }])],
    });

  it('relays an upgrade enabled in the HCM and then bytes both ways', async () => {
    await serve(true);
    const { head, socket, next } = await openUpgrade(h.port, '/chat/room');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    socket.write('hello');
    expect(await next()).toBe('HELLO');
    socket.write('again');
    expect(await next()).toBe('AGAIN');
    socket.destroy();
    const seen = backend.heads.at(-1);
    expect(seen).toMatchObject({ host: 'ws.example', upgrade: 'websocket', connection: 'upgrade', 'x-forwarded-proto': 'http' });
    expect(seen?.['x-request-id']).toEqual(expect.any(String));
    const deadline = Date.now() + 5_000;
    while (h.accessLog.at(-1)?.path !== '/chat/room' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(h.accessLog.at(-1)).toMatchObject({ path: '/chat/room', response_code: 101, upstream_cluster: 'ws', bytes_received: 10 });
  });

  it('answers 403 when neither the HCM nor the route enables the upgrade type, as Envoy does', async () => {
    await serve(false);
    const { head, socket } = await openUpgrade(h.port, '/chat');
    socket.destroy();
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 403 Forbidden');
  });

  it('lets the route enable or disable an upgrade type over the HCM default', async () => {
    await serve(false, true);
    const enabled = await openUpgrade(h.port, '/chat');
    enabled.socket.destroy();
    expect(enabled.head.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    await serve(true, false);
    const disabled = await openUpgrade(h.port, '/chat');
    disabled.socket.destroy();
    expect(disabled.head.split('\r\n')[0]).toBe('HTTP/1.1 403 Forbidden');
  });

  it('answers 404 for an upgrade request no route matches', async () => {
    await serve(true);
    const { head, socket } = await openUpgrade(h.port, '/elsewhere');
    socket.destroy();
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
  });
});
