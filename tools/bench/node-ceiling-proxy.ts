/**
 * The data-plane bench's reference row: the least a Node reverse proxy can do per request with the
 * same building blocks as tendril-proxy (node:http server, undici Pool dispatch with a callback
 * handler, one Node thread), and nothing else: no routing, no access log, no timeouts, no header
 * rules. Its requests/s is the ceiling stock Node sets on this machine, so the bench shows how much
 * of tendril-proxy's gap to nginx is its own work and how much is Node's. Not a product: it
 * forwards every request to one backend.
 *
 *   node --require tsx/cjs tools/bench/node-ceiling-proxy.ts <listen-port> <backend-port>
 */
import * as http from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const [listenPort, backendPort] = process.argv.slice(2).map(Number);
if (!Number.isInteger(listenPort) || !Number.isInteger(backendPort)) {
  process.stderr.write('usage: node-ceiling-proxy.ts <listen-port> <backend-port>\n');
  process.exit(2);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);
const pool = new Pool(`http://127.0.0.1:${backendPort}`, { headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 60_000 });
pool.on('connectionError', () => undefined);

function relay(res: http.ServerResponse): Dispatcher.DispatchHandler {
  return {
    onConnect: () => undefined,
    onHeaders(status, raw) {
      const headers: Record<string, string> = {};
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i].toString('latin1').toLowerCase();
        if (!HOP_BY_HOP.has(name)) headers[name] = raw[i + 1].toString('latin1');
      }
      res.writeHead(status, headers);
      return true;
    },
    onData: (chunk) => res.write(chunk),
    onComplete: () => res.end(),
    onError() {
      if (!res.headersSent) res.writeHead(502, { 'content-length': 0 });
      res.end();
    },
  };
}

const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const name in req.headers) if (!HOP_BY_HOP.has(name)) headers[name] = req.headers[name] as string | string[];
  pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.url ?? '/', headers }, relay(res));
});
server.keepAliveTimeout = 0;
server.listen(listenPort, '127.0.0.1');
// A clean exit on SIGTERM, so that a --cpu-prof profile gets written.
process.once('SIGTERM', () => process.exit(0));
