import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { TraceError, type EndpointManager, type NodeEnforcement, type TraceHttpRequest, type TracePeer } from '@tendril/endpoints';
import type { PodRuntimeInfo } from '@tendril/workloads';
import type { EndpointView } from './kubectl-format';

/** What the agent's admin API exposes; the agent implements it. */
export interface AdminState {
  status(): unknown;
  /** Objects of one kind (case-insensitive kind, plural or singular), with their status. */
  resources(kind: string, namespace: string | undefined): { items: unknown[] } | { error: string };
  configDump(): unknown;
  /** The pods this node runs: sandbox, endpoint number, PIDs (what `tendril exec` and `get endpoints` need). */
  localPods(): Promise<PodRuntimeInfo[]>;
  /** Network policy enforcement on this node, or why it is off; undefined when the agent runs no workloads. */
  nodeEnforcement?(): NodeEnforcement | undefined;
}

/** The endpoint manager, or the reason there is none (answered as 503, as the cilium CLI does when a subsystem is disabled). */
function enforcementManager(state: AdminState): EndpointManager | { error: string } {
  const enforcement = state.nodeEnforcement?.();
  if (!enforcement) return { error: 'network policy is not enforced: this agent runs no workloads (tendril up runs them)' };
  return enforcement.enabled ? enforcement.manager : { error: enforcement.notice };
}

/** GET /api/v1/endpoints[?namespace=N]: the node's pods as endpoints, with identity and policy state when enforced. */
async function sendEndpoints(state: AdminState, url: URL, res: http.ServerResponse): Promise<void> {
  const namespace = url.searchParams.get('namespace');
  const manager = enforcementManager(state);
  const items: EndpointView[] = (await state.localPods())
    .filter((p) => namespace === null || p.namespace === namespace)
    .map((p) => {
      const endpoint = 'error' in manager ? undefined : manager.endpoint(p.namespace, p.name);
      if (!endpoint || endpoint.endpointId !== p.endpointId) return p;
      return {
        ...p,
        identity: endpoint.identity,
        policy: { state: endpoint.state, ...(endpoint.enforcement ? { enforcement: endpoint.enforcement } : {}), policyWrites: endpoint.policyWrites, ...(endpoint.error ? { error: endpoint.error } : {}) },
      };
    })
    .sort((a, b) => a.endpointId - b.endpointId);
  sendJson(res, 200, { items });
}

/** GET /api/v1/identities, /api/v1/bpf/ipcache, /api/v1/bpf/lb, /api/v1/bpf/metrics, /api/v1/bpf/policy?namespace=N&name=P, /api/v1/fqdn/cache, /api/v1/policy/trace. */
function sendEnforcementView(state: AdminState, path: string, url: URL, res: http.ServerResponse): void {
  const manager = enforcementManager(state);
  if ('error' in manager) return sendJson(res, 503, manager);
  switch (path) {
    case '/api/v1/identities':
      return sendJson(res, 200, { items: manager.identities() });
    case '/api/v1/bpf/ipcache':
      return sendJson(res, 200, { items: manager.ipcache() });
    case '/api/v1/bpf/lb':
      return sendJson(res, 200, { items: manager.services() });
    case '/api/v1/bpf/metrics':
      return sendJson(res, 200, { items: manager.dropMetrics() });
    case '/api/v1/fqdn/cache':
      return sendJson(res, 200, manager.fqdnCacheView());
    case '/api/v1/policy/trace':
      return sendPolicyTrace(manager, url, res);
    default: {
      const name = url.searchParams.get('name');
      const namespace = url.searchParams.get('namespace') ?? 'default';
      if (!name) return sendJson(res, 400, { error: 'the name query parameter is required' });
      const view = manager.policyOf(namespace, name);
      if (!view) return sendJson(res, 404, { error: `no endpoint for pod "${name}" in namespace "${namespace}" on this node` });
      return sendJson(res, 200, view);
    }
  }
}

/** A peer as `tendril policy trace` names it: an IP address, `svc/NAME`, `NAMESPACE/NAME`, or a NAME in `namespace`. */
function tracePeer(text: string, namespace: string): TracePeer | { service: { namespace: string; name: string } } {
  if (net.isIP(text)) return { ip: text };
  const service = /^(?:svc|service)\/(.+)$/.exec(text);
  if (service) return { service: { namespace, name: service[1] } };
  const slash = text.indexOf('/');
  return slash > 0 ? { pod: { namespace: text.slice(0, slash), name: text.slice(slash + 1) } } : { pod: { namespace, name: text } };
}

const TRACE_PROTOCOLS: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** `METHOD:PATH` (the path may contain ':'); undefined when malformed. */
function parseHttpRequestLine(text: string): { method: string; path: string } | undefined {
  const colon = text.indexOf(':');
  if (colon < 1 || colon === text.length - 1) return undefined;
  return { method: text.slice(0, colon), path: text.slice(colon + 1) };
}

/** GET /api/v1/policy/trace?src=…&dst=…&dport=N[&protocol=TCP][&namespace=NS][&http=METHOD:PATH[&header=K:V…]]. */
function sendPolicyTrace(manager: EndpointManager, url: URL, res: http.ServerResponse): void {
  const namespace = url.searchParams.get('namespace') ?? 'default';
  const src = url.searchParams.get('src');
  const dst = url.searchParams.get('dst');
  const dport = Number(url.searchParams.get('dport'));
  const protocol = TRACE_PROTOCOLS[(url.searchParams.get('protocol') ?? 'TCP').toUpperCase()];
  if (!src || !dst) return sendJson(res, 400, { error: 'the src and dst query parameters are required' });
  if (protocol === undefined) return sendJson(res, 400, { error: `protocol must be TCP, UDP or SCTP` });
  const source = tracePeer(src, namespace);
  if ('service' in source) return sendJson(res, 400, { error: 'the source must be a pod or an IP address' });
  const httpParam = url.searchParams.get('http');
  const headerParams = url.searchParams.getAll('header');
  let http: TraceHttpRequest | undefined;
  if (httpParam !== null) {
    const line = parseHttpRequestLine(httpParam);
    if (!line) return sendJson(res, 400, { error: `--http ${JSON.stringify(httpParam)} is not METHOD:PATH (e.g. GET:/public/index.html)` });
    const headers: Record<string, string> = {};
    for (const header of headerParams) {
      const colon = header.indexOf(':');
      if (colon < 1) return sendJson(res, 400, { error: `--header ${JSON.stringify(header)} is not NAME:VALUE` });
      const name = header.slice(0, colon).trim();
      const value = header.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
    }
    http = { ...line, headers };
  } else if (headerParams.length > 0) {
    return sendJson(res, 400, { error: '--header needs --http' });
  }
  try {
    return sendJson(res, 200, { items: manager.trace({ source, destination: tracePeer(dst, namespace), port: dport, protocol, ...(http ? { http } : {}) }) });
  } catch (err) {
    if (err instanceof TraceError) return sendJson(res, 400, { error: err.message });
    throw err;
  }
}

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  const payload = JSON.stringify(body, null, 2);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

/** GET /api/v1/pods[?namespace=N][&name=P]: the node-local pods, sorted by namespace and name. */
async function sendPods(state: AdminState, url: URL, res: http.ServerResponse): Promise<void> {
  const namespace = url.searchParams.get('namespace');
  const name = url.searchParams.get('name');
  const items = (await state.localPods())
    .filter((p) => (namespace === null || p.namespace === namespace) && (name === null || p.name === name))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  sendJson(res, 200, { items });
}

/**
 * The agent's local HTTP admin API, which `tendril status`, `get` and `exec` read:
 * GET /healthz, /api/v1/status, /api/v1/resources?kind=K[&namespace=N], /api/v1/config_dump,
 * /api/v1/pods[?namespace=N][&name=P], /api/v1/endpoints[?namespace=N], /api/v1/identities,
 * /api/v1/bpf/ipcache, /api/v1/bpf/lb, /api/v1/bpf/metrics, /api/v1/bpf/policy?namespace=N&name=P,
 * /api/v1/policy/trace?src=…&dst=…&dport=N[&protocol=P][&namespace=NS].
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
        case '/api/v1/pods':
          return void sendPods(state, url, res).catch((err: unknown) => sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) }));
        case '/api/v1/endpoints':
          return void sendEndpoints(state, url, res).catch((err: unknown) => sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) }));
        case '/api/v1/identities':
        case '/api/v1/bpf/ipcache':
        case '/api/v1/bpf/lb':
        case '/api/v1/bpf/metrics':
        case '/api/v1/bpf/policy':
        case '/api/v1/fqdn/cache':
        case '/api/v1/policy/trace':
          return sendEnforcementView(state, url.pathname, url, res);
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
