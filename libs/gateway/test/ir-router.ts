import type { IrListener, IrRoute, IrValueMatch, RouteIR } from '../src';

/**
 * Test-only: routes one request through the IR with Envoy's documented semantics (virtual host by
 * most specific domain, port ignored; first matching route wins), so conformance traffic
 * expectations can be checked against the translator without a proxy.
 */
export interface SimulatedRequest {
  host?: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
}

export type SimulatedOutcome = { status: 200; service: string; namespace: string } | { status: number };

export function simulate(ir: RouteIR, listenerName: string, request: SimulatedRequest): SimulatedOutcome {
  const listener = ir.listeners.find((l) => l.name === listenerName);
  if (!listener) throw new Error(`no IR listener ${listenerName}; have ${ir.listeners.map((l) => l.name).join(', ')}`);
  const host = (request.host ?? 'example.com').replace(/:\d+$/, '').toLowerCase();
  const vhost = selectVirtualHost(listener, host);
  if (!vhost) return { status: 404 };
  const [path, query = ''] = (request.path ?? '/').split('?', 2);
  const params = new URLSearchParams(query);
  const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const route = vhost.routes.find((r) => matches(r, path, request.method ?? 'GET', headers, params));
  if (!route) return { status: 404 };
  const action = route.action;
  if (action.kind === 'directResponse') return { status: action.status };
  if (action.kind === 'redirect') return { status: action.statusCode };
  // The heaviest valid share stands for "where the traffic goes" in these single-backend checks.
  const share = [...action.backends].sort((a, b) => b.weight - a.weight)[0];
  if (share.kind === 'invalid') return { status: 500 };
  const cluster = ir.clusters.find((c) => c.name === share.cluster);
  if (!cluster) throw new Error(`route ${route.name} references unknown cluster ${share.cluster}`);
  return { status: 200, service: cluster.service.name, namespace: cluster.service.namespace };
}

function selectVirtualHost(listener: IrListener, host: string): IrListener['virtualHosts'][number] | undefined {
  const exact = listener.virtualHosts.find((v) => v.hostname === host);
  if (exact) return exact;
  const wildcards = listener.virtualHosts
    .filter((v) => v.hostname.startsWith('*.') && host.endsWith(v.hostname.slice(1)) && host.length > v.hostname.length - 1)
    .sort((a, b) => b.hostname.length - a.hostname.length);
  return wildcards[0] ?? listener.virtualHosts.find((v) => v.hostname === '*');
}

function matches(route: IrRoute, path: string, method: string, headers: Record<string, string>, params: URLSearchParams): boolean {
  const p = route.match.path;
  if (p.type === 'Exact' && path !== p.value) return false;
  if (p.type === 'PathPrefix' && p.value !== '/' && path !== p.value && !path.startsWith(`${p.value}/`)) return false;
  if (p.type === 'RegularExpression' && !new RegExp(`^(?:${p.value})$`).test(path)) return false;
  if (route.match.method && route.match.method !== method) return false;
  const valueMatches = (m: IrValueMatch, actual: string | null | undefined): boolean =>
    actual !== null && actual !== undefined && (m.type === 'Exact' ? actual === m.value : new RegExp(`^(?:${m.value})$`).test(actual));
  return (
    route.match.headers.every((h) => valueMatches(h, headers[h.name])) &&
    route.match.queryParams.every((q) => valueMatches(q, params.get(q.name)))
  );
}
