import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the agent's admin API exposes; the agent implements it. */
export interface AdminState {
  status(): unknown;
  /** Objects of one kind (case-insensitive kind, plural or singular), with their status. */
  resources(kind: string, namespace: string | undefined): { items: unknown[] } | { error: string };
  configDump(): unknown;
}

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  const payload = JSON.stringify(body, null, 2);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

/**
 * The agent's local HTTP admin API, which `tendril status` and `tendril get` read:
 * GET /healthz, /api/v1/status, /api/v1/resources?kind=K[&namespace=N], /api/v1/config_dump.
 */
export async function startAdminServer(state: AdminState, host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'only GET is supported' });
    try {
      switch (url.pathname) {
        case '/healthz':
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end('ok\n');
        case '/api/v1/status':
          return sendJson(res, 200, state.status());
        case '/api/v1/resources': {
          const kind = url.searchParams.get('kind');
          if (!kind) return sendJson(res, 400, { error: 'the kind query parameter is required' });
          const result = state.resources(kind, url.searchParams.get('namespace') ?? undefined);
          return sendJson(res, 'error' in result ? 404 : 200, result);
        }
        case '/api/v1/config_dump':
          return sendJson(res, 200, state.configDump());
        default:
          return sendJson(res, 404, { error: `no such endpoint ${url.pathname}` });
      }
    } catch (err) {
      return sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
