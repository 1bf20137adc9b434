import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { ForwardAction, WeightedTarget } from './routing/route-table';

/** Hop-by-hop request headers Envoy does not forward (te is kept when it is "trailers", for gRPC). */
const REQUEST_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'expect', 'http2-settings', 'host']);

/** Names listed in a Connection header are hop-by-hop for this message too. */
function connectionNominated(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value.join(',') : value;
  return list
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '' && token !== 'close' && token !== 'keep-alive' && token !== 'upgrade');
}

export interface UpstreamHeaderContext {
  socket: Socket | undefined;
  scheme: string;
  appendXff: boolean;
  requestId: string;
}

/**
 * The headers sent upstream before route header mutations: the client's end-to-end headers plus
 * what Envoy adds by default (x-forwarded-for, x-forwarded-proto, x-request-id,
 * x-envoy-expected-rq-timeout-ms). No Host: the caller passes the authority separately.
 */
export function buildUpstreamHeaders(incoming: IncomingHttpHeaders, context: UpstreamHeaderContext, action: ForwardAction): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (name.charCodeAt(0) === 58 /* : */ || REQUEST_HOP_BY_HOP.has(name)) continue;
    headers[name] = incoming[name];
  }
  if (incoming.connection !== undefined) for (const name of connectionNominated(incoming.connection)) delete headers[name];
  const te = incoming.te;
  if (typeof te === 'string' && te.toLowerCase().includes('trailers')) headers.te = 'trailers';
  if (context.appendXff) {
    let remote = context.socket?.remoteAddress;
    // A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6; Envoy logs them as IPv4.
    if (remote?.startsWith('::ffff:') && remote.includes('.')) remote = remote.slice(7);
    if (remote) {
      const existing = headers['x-forwarded-for'];
      headers['x-forwarded-for'] = existing ? `${String(existing)},${remote}` : remote;
    }
  }
  if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = context.scheme;
  headers['x-request-id'] = context.requestId;
  const expectedTimeout = action.perTryTimeoutMs || action.timeoutMs;
  if (expectedTimeout > 0) headers['x-envoy-expected-rq-timeout-ms'] = String(Math.round(expectedTimeout));
  return headers;
}

/** The cluster a forward action sends this request to, and its weighted_clusters entry if any. */
export function pickCluster(action: ForwardAction): { cluster: string | undefined; target: WeightedTarget | undefined } {
  if (action.weighted === undefined) return { cluster: action.cluster, target: undefined };
  const point = Math.random() * action.weighted.totalWeight;
  const target = action.weighted.targets.find((t) => point < t.cumulativeWeight);
  return { cluster: target?.cluster, target };
}
