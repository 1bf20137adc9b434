import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { request as undiciRequest } from 'undici';
import { edsCluster, httpListener, loadAssignment, ProxyHarness, routeConfig, toCluster, vhost } from './fixtures';

const TOTAL = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

/** Writes TOTAL bytes, respecting backpressure; `written` is how far it got. */
function writeLarge(res: http.ServerResponse | http2.Http2ServerResponse, progress: { written: number }): void {
  const next = (): void => {
    while (progress.written < TOTAL) {
      progress.written += CHUNK.length;
      if (!(res as http.ServerResponse).write(CHUNK)) {
        res.once('drain', next);
        return;
      }
    }
    res.end();
  };
  next();
}

describe('response backpressure', () => {
  const h = new ProxyHarness();
  afterAll(() => h.close());

  for (const protocol of ['HTTP/1.1', 'HTTP/2'] as const) {
    it(`holds the ${protocol} upstream back while the client does not read, then relays every byte`, async () => {
      const progress = { written: 0 };
      const server =
        protocol === 'HTTP/2'
          ? http2.createServer((_req, res) => writeLarge(res, progress))
          : http.createServer((_req, res) => writeLarge(res, progress));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      try {
        await h.apply({
          listeners: [httpListener('l', 'rc')],
          routes: [routeConfig('rc', [vhost('v', ['*'], [toCluster('/', 'big', {}, { timeout: '60s' })])])],
          clusters: [edsCluster('big', { http2: protocol === 'HTTP/2' })],
          endpoints: [loadAssignment('big', [{ port }])],
        });
        const response = await undiciRequest(`http://127.0.0.1:${h.port}/big`, { dispatcher: h.client });
        // The client reads nothing for a while: the backend must be stopped well short of the end.
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(progress.written).toBeLessThan(TOTAL);
        let received = 0;
        for await (const chunk of response.body) received += (chunk as Buffer).length;
        expect(received).toBe(TOTAL);
      } finally {
        // The proxy keeps its upstream connection open; closing the runtime (afterAll) ends it.
        server.close();
      }
    });
  }
});
