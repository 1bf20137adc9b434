import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { isoTimestamp, type AccessLogSink, type ResponseFlag } from './access-log';
import type { ProxyLogger } from './logger';
import { applyHeaderMutation, applyHeaderMutations, type HeaderBag, type HeaderMutation } from './routing/header-mutation';
import { redirectLocation, rewritePath } from './routing/path-rewrite';
import { RequestView } from './routing/request-view';
import { findRoute, type ListenerRoutes, type RoutingState } from './router';
import { buildUpstreamHeaders, pickWeightedTarget } from './upstream-request';

/**
 * HTTP/1.1 upgrades (WebSocket and the like) as Envoy handles them: allowed only when the HCM's or
 * the route's upgrade_configs enable the upgrade type (403 otherwise); the request head goes to an
 * endpoint over a fresh TCP connection and, from then on, bytes are relayed both ways untouched.
 * The upstream is spoken to in HTTP/1.1 whatever the cluster's protocol.
 */
export class UpgradeProxy {
  constructor(
    private readonly state: () => RoutingState,
    private readonly accessLog: AccessLogSink,
    private readonly logger: ProxyLogger,
  ) {}

  handle(req: IncomingMessage, socket: Duplex, head: Buffer, routes: ListenerRoutes): void {
    const startMs = Date.now();
    const startTick = performance.now();
    const authority = req.headers.host ?? '';
    const path = req.url ?? '/';
    const upgradeType = (req.headers.upgrade ?? '').split(',')[0].trim().toLowerCase();
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && incomingId !== '' ? incomingId : randomUUID();
    let status = 0;
    let flag: ResponseFlag | undefined;
    let routeName: string | null = null;
    let clusterName: string | null = null;
    let upstreamHost: string | null = null;
    let bytesReceived = head.length;
    let bytesSent = 0;
    let logged = false;
    const log = (): void => {
      if (logged) return;
      logged = true;
      try {
        this.accessLog({
          start_time: isoTimestamp(startMs),
          method: req.method ?? '',
          path,
          protocol: `HTTP/${req.httpVersion}`,
          response_code: status,
          response_flags: flag ?? '-',
          bytes_received: bytesReceived,
          bytes_sent: bytesSent,
          duration_ms: Math.round(performance.now() - startTick),
          upstream_host: upstreamHost,
          upstream_cluster: clusterName,
          route_name: routeName,
          authority,
          x_request_id: requestId,
          user_agent: req.headers['user-agent'] ?? null,
          listener: routes.listenerName,
        });
      } catch (err) {
        this.logger.warn({ err }, 'access log sink failed');
      }
    };
    socket.on('error', () => undefined);
    socket.once('close', log);
    const reply = (code: number, body: string | Buffer | undefined, replyFlag: ResponseFlag | undefined, mutations: readonly HeaderMutation[], location?: string): void => {
      status = code;
      flag = replyFlag;
      const payload = typeof body === 'string' ? Buffer.from(body) : (body ?? Buffer.alloc(0));
      const headers: HeaderBag = { 'content-length': payload.length, connection: 'close' };
      if (payload.length > 0) headers['content-type'] = 'text/plain';
      if (location !== undefined) headers.location = location;
      applyHeaderMutations(headers, mutations);
      bytesSent += payload.length;
      socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}\r\n${formatHeaders(headers)}\r\n`, 'latin1'), payload]));
      // Node paused the socket for the upgrade; read (and drop) until the client closes its side.
      socket.resume();
    };

    const state = this.state();
    const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
    const view = new RequestView(req.method ?? 'GET', authority, path, scheme, req.headers);
    const route = findRoute(state, routes, view);
    if (route === undefined) return reply(404, undefined, 'NR', []);
    routeName = route.name || null;
    const action = route.action;
    if (action.kind === 'direct') return reply(action.status, action.body, undefined, route.responseMutations);
    if (action.kind === 'redirect') {
      const location = redirectLocation(action, view, route.rewrittenLength(view.pathOnly), (req.headers['x-forwarded-proto'] as string | undefined) ?? scheme);
      return reply(action.status, undefined, undefined, route.responseMutations, location);
    }
    // Envoy: a route-level setting wins; otherwise the HCM must enable the type.
    if (!(action.upgrades.get(upgradeType) ?? routes.upgrades.get(upgradeType) ?? false)) return reply(403, undefined, undefined, route.responseMutations);
    const target = action.weighted !== undefined ? pickWeightedTarget(action.weighted) : undefined;
    const picked = action.weighted !== undefined ? target?.cluster : action.cluster;
    clusterName = picked ?? null;
    const responseMutations = target?.responseMutation ? [target.responseMutation, ...route.responseMutations] : route.responseMutations;
    const cluster = picked !== undefined ? state.clusters.get(picked) : undefined;
    if (cluster === undefined) return reply(action.clusterNotFoundStatus, undefined, 'NC', responseMutations);
    const endpoint = cluster.pick(req.socket);
    if (endpoint === undefined) return reply(503, 'no healthy upstream', 'UH', responseMutations);
    upstreamHost = endpoint.address;

    const headers = buildUpstreamHeaders(req.headers, req.socket, scheme, routes.appendXff, requestId, action) as HeaderBag;
    const upstreamPath = rewritePath(view, route.rewrittenLength(view.pathOnly), action.prefixRewrite, action.regexRewrite);
    if (upstreamPath !== path) headers['x-envoy-original-path'] = path;
    if (target?.requestMutation) applyHeaderMutation(headers, target.requestMutation);
    applyHeaderMutations(headers, route.requestMutations);
    headers.host = target?.hostRewrite ?? action.hostRewrite ?? authority;
    headers.connection = 'upgrade';
    headers.upgrade = req.headers.upgrade;
    const requestHead = `${req.method ?? 'GET'} ${upstreamPath} HTTP/1.1\r\n${formatHeaders(headers)}\r\n`;
    // The L7 load balancer (mesh listener): the client's egress policy must allow the backend picked.
    if (endpoint.admit) {
      const textHeaders = Object.fromEntries(Object.entries(headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, typeof v === 'number' ? String(v) : v]])));
      const decision = endpoint.admit(state.policies, { method: req.method ?? 'GET', path: upstreamPath, authority: String(headers.host), headers: textHeaders });
      if (!decision.allowed) return reply(403, 'Access denied\r\n', undefined, []);
    }

    // Its sockets carry the client's identity, so the backend's ingress policy sees the client.
    const upstream = endpoint.createSocket ? endpoint.createSocket().connect({ host: endpoint.host, port: endpoint.port }) : net.connect({ host: endpoint.host, port: endpoint.port });
    upstream.setNoDelay(true);
    let connected = false;
    const connectTimer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), cluster.spec.connectTimeoutMs);
    upstream.once('error', (err) => {
      if (connected) return;
      clearTimeout(connectTimer);
      this.logger.debug({ err, upstream: endpoint.address }, 'upgrade connect failed');
      reply(503, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure', 'UF', responseMutations);
    });
    upstream.on('error', () => undefined);
    upstream.once('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
      upstream.write(requestHead);
      if (head.length > 0) upstream.write(head);
      upstream.once('data', (first: Buffer) => {
        const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(first.subarray(0, 16).toString('latin1'));
        status = statusLine ? Number(statusLine[1]) : 0;
      });
      upstream.on('data', (chunk: Buffer) => (bytesSent += chunk.length));
      socket.on('data', (chunk: Buffer) => (bytesReceived += chunk.length));
      upstream.pipe(socket);
      socket.pipe(upstream);
      upstream.once('close', () => {
        if (status === 0) flag = 'UC';
        socket.destroy();
      });
      socket.once('close', () => upstream.destroy());
    });
    socket.once('close', () => {
      if (!connected) upstream.destroy();
    });
  }
}

function formatHeaders(headers: HeaderBag): string {
  let out = '';
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) out += `${name}: ${item}\r\n`;
    else out += `${name}: ${value}\r\n`;
  }
  return out;
}
