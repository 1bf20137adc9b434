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

/** The client address as Envoy logs it: IPv4-mapped IPv6 addresses (from a dual-stack listener) as IPv4. */
function clientAddress(socket: Socket | undefined): string | undefined {
  const remote = socket?.remoteAddress;
  if (remote !== undefined && remote.startsWith('::ffff:') && remote.includes('.')) return remote.slice(7);
  return remote;
}

/**
 * The headers sent upstream before route header mutations: the client's end-to-end headers plus
 * what Envoy adds by default (x-forwarded-for unless `appendXff` is off, x-forwarded-proto,
 * x-request-id, x-envoy-expected-rq-timeout-ms). No Host: the caller passes the authority
 * separately. Runs once per request, so it takes plain arguments rather than an options object.
 */
export function buildUpstreamHeaders(
  incoming: IncomingHttpHeaders,
  socket: Socket | undefined,
  scheme: string,
  appendXff: boolean,
  requestId: string,
  action: ForwardAction,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (name.charCodeAt(0) === 58 /* : */ || REQUEST_HOP_BY_HOP.has(name)) continue;
    headers[name] = incoming[name];
  }
  if (incoming.connection !== undefined) for (const name of connectionNominated(incoming.connection)) delete headers[name];
  const te = incoming.te;
  if (typeof te === 'string' && te.toLowerCase().includes('trailers')) headers.te = 'trailers';
  if (appendXff) {
    const remote = clientAddress(socket);
    if (remote) {
      const existing = headers['x-forwarded-for'];
      headers['x-forwarded-for'] = existing ? `${String(existing)},${remote}` : remote;
    }
  }
  if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = scheme;
  headers['x-request-id'] = requestId;
  if (action.expectedTimeoutHeader !== undefined) headers['x-envoy-expected-rq-timeout-ms'] = action.expectedTimeoutHeader;
  return headers;
}

/** The weighted_clusters entry this request goes to (random by weight). */
export function pickWeightedTarget(weighted: NonNullable<ForwardAction['weighted']>): WeightedTarget | undefined {
  const point = Math.random() * weighted.totalWeight;
  const targets = weighted.targets;
  for (let i = 0; i < targets.length; i++) if (point < targets[i].cumulativeWeight) return targets[i];
  return undefined;
}
