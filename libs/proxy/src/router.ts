import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import * as http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { isoTimestamp, type AccessLogSink, type L7PolicyLogEntry, type ResponseFlag } from './access-log';
import { DeadlineLists, type DeadlineEntry, type DeadlineList } from './deadline-list';
import type { ProxyLogger } from './logger';
import { evaluateCors } from './routing/cors-policy';
import { applyHeaderMutation, applyHeaderMutations, type HeaderBag, type HeaderMutation } from './routing/header-mutation';
import { redirectLocation, rewritePath } from './routing/path-rewrite';
import { RequestView } from './routing/request-view';
import { retriableReset, retriableStatus, retriableTimeout, retryBackOffMs, type RetryPolicy } from './routing/retry-policy';
import type { CompiledRoute, CompiledRouteTable, ForwardAction, WeightedTarget } from './routing/route-table';
import type { UpstreamCluster, UpstreamEndpoint } from './upstream/cluster';
import { RESPONSE_HOP_BY_HOP, type UpstreamExchange, type UpstreamHeaders, type UpstreamRequest, type UpstreamResetError, type UpstreamResponseHandler } from './upstream/types';
import { buildUpstreamHeaders, pickWeightedTarget } from './upstream-request';
import { normalizeRequestPath, type HeaderEdit, type HttpRequestFacts } from '@tendril/policy';
import type { L7PolicyIndex } from './l7-policy';
import { redirectedConnectionOf } from './transparent';

export type DownstreamRequest = IncomingMessage | http2.Http2ServerRequest;
export type DownstreamResponse = ServerResponse | http2.Http2ServerResponse;

/** What one listener serves; replaced (not mutated) when its Listener resource changes. */
export interface ListenerRoutes {
  listenerName: string;
  /** RDS name, looked up per request so a route update applies to the next request. */
  routeConfigName: string | undefined;
  /** HCM route_config given inline instead of through RDS. */
  inlineRouteTable: CompiledRouteTable | undefined;
  /** Append the client address to x-forwarded-for (off with HCM skip_xff_append). */
  appendXff: boolean;
  /** HCM upgrade_configs: lower-case upgrade type → enabled by default. */
  upgrades: ReadonlyMap<string, boolean>;
  /** The tendril.l7policy filter: requests are checked against the L7 policy of their redirect first. */
  l7Policy?: { isIngress: boolean };
  /** The envoy.filters.http.cors filter: a matched route's CorsPolicy answers preflights and adds CORS response headers. */
  cors?: boolean;
}

/** The routing state of one applied config; swapped atomically, read once per request. */
export interface RoutingState {
  routeTables: ReadonlyMap<string, CompiledRouteTable>;
  clusters: ReadonlyMap<string, UpstreamCluster>;
  /** NPDS, for listeners with the tendril.l7policy filter; absent: such requests are denied. */
  policies?: L7PolicyIndex;
}

/** The route a request takes: the listener's current route table, its virtual host, its first matching route. */
export function findRoute(state: RoutingState, routes: ListenerRoutes, view: RequestView): CompiledRoute | undefined {
  const table = routes.inlineRouteTable ?? (routes.routeConfigName !== undefined ? state.routeTables.get(routes.routeConfigName) : undefined);
  return table?.selectVirtualHost(view.authority)?.match(view);
}

/** A mirror copy of the body is dropped rather than let a slow shadow upstream hold memory. */
const MIRROR_BUFFER_LIMIT = 1 << 20;

/** Counts request body bytes and feeds mirror copies as the body streams to the primary upstream. */
class RequestBodyTap extends Transform {
  bytes = 0;
  readonly copies: PassThrough[] = [];

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    for (const copy of this.copies) {
      if (copy.destroyed) continue;
      if (copy.writableLength > MIRROR_BUFFER_LIMIT) copy.destroy();
      else copy.write(chunk);
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    for (const copy of this.copies) if (!copy.destroyed) copy.end();
    callback();
  }
}

/** Envoy's shadow host: "-shadow" goes before the port. */
function shadowAuthority(authority: string): string {
  const colon = authority.indexOf(':');
  if (colon === -1 || colon !== authority.lastIndexOf(':')) return `${authority}-shadow`;
  return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
}

function requestHasBody(req: DownstreamRequest, isHttp2: boolean): boolean {
  if (isHttp2) return !(req as http2.Http2ServerRequest).stream.endAfterHeaders;
  const headers = req.headers;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/** Cilium's L7 denial body (policy-semantics §3). */
const ACCESS_DENIED = 'Access denied\r\n';

function stripMapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * headerMatches mismatch actions, on the request headers before they are copied upstream. ADD
 * appends a header line of its own (as Envoy's addCopy does), so upstream sees both values.
 */
function applyHeaderEdits(headers: DownstreamRequest['headers'], edits: readonly HeaderEdit[]): void {
  for (const edit of edits) {
    const existing = headers[edit.name];
    if (edit.action === 'DELETE') delete headers[edit.name];
    else if (edit.action === 'REPLACE' || existing === undefined) headers[edit.name] = edit.value;
    else (headers as Record<string, string | string[] | undefined>)[edit.name] = [...(Array.isArray(existing) ? existing : [existing]), edit.value];
  }
}

/** The request as it goes upstream, for the L7 load balancer's policy check (header values as text, as a backend sees them). */
function upstreamRequestFacts(request: UpstreamRequest): HttpRequestFacts {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers[name] = typeof value === 'number' ? String(value) : value;
  return { method: request.method, path: request.path, authority: request.authority, headers };
}

function isGrpcRequest(headers: DownstreamRequest['headers']): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && type.startsWith('application/grpc');
}

/** Envoy's Http::Utility::httpToGrpcStatus. */
function grpcStatusOf(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** grpc-message's encoding (gRPC over HTTP/2): bytes outside printable ASCII, and '%', as %XX. */
function percentEncodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** The router filter plus the HTTP connection manager's request handling, one instance per proxy. */
export class Router {
  /** Route timeouts: one timer per distinct duration instead of one per request. */
  private readonly routeTimeouts = new DeadlineLists();

  constructor(
    private readonly state: () => RoutingState,
    private readonly accessLog: AccessLogSink,
    private readonly logger: ProxyLogger,
  ) {}

  handle(req: DownstreamRequest, res: DownstreamResponse, routes: ListenerRoutes): void {
    try {
      new Exchange(req, res, routes, this.state(), this.accessLog, this.logger, this.routeTimeouts).run();
    } catch (err) {
      // A bug must cost one request, not the process (node would rethrow from its parser callback).
      this.logger.error({ err, path: req.url }, 'request handling failed');
      if (!res.headersSent) {
        (res as ServerResponse).writeHead(500, { 'content-length': 0 });
        res.end();
      } else if (req.httpVersionMajor === 2) {
        (res as http2.Http2ServerResponse).stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      } else {
        (res as ServerResponse).destroy();
      }
    }
  }
}

/** Links a downstream response to its exchange, so per-request listeners can be shared functions. */
const EXCHANGE = Symbol('exchange');
type LinkedResponse = DownstreamResponse & { [EXCHANGE]?: Exchange };

function onDownstreamFinish(this: LinkedResponse): void {
  const exchange = this[EXCHANGE];
  if (exchange) exchange.finished = true;
}

function onDownstreamClose(this: LinkedResponse): void {
  this[EXCHANGE]?.onDownstreamClose();
}

function onDownstreamDrain(this: LinkedResponse): void {
  this[EXCHANGE]?.resumeUpstream();
}

function onPerTryTimeout(exchange: Exchange): void {
  exchange.onPerTryTimeout();
}

function onRetryBackOffDone(exchange: Exchange): void {
  exchange.retryNow();
}

/** A mirrored request: its response is drained and dropped; the route timeout bounds it. */
class MirrorResponse implements UpstreamResponseHandler {
  timer: NodeJS.Timeout | undefined;
  onUpstreamHeaders(): void {
    return undefined;
  }
  onUpstreamData(): boolean {
    return true;
  }
  onUpstreamEnd(): void {
    clearTimeout(this.timer);
  }
  onUpstreamError(): void {
    clearTimeout(this.timer);
  }
}

/** One downstream request from arrival to its access log line. */
class Exchange implements UpstreamResponseHandler, DeadlineEntry {
  private readonly startMs = Date.now();
  private readonly startTick = performance.now();
  private readonly isHttp2: boolean;
  private readonly authority: string;
  /** The request target; the normalised one once the L7 policy filter checked it. */
  private path: string;
  private readonly requestId: string;
  private status = 0;
  private flag: ResponseFlag | undefined;
  private routeName: string | null = null;
  private clusterName: string | null = null;
  private endpoint: UpstreamEndpoint | undefined;
  private upstream: UpstreamExchange | undefined;
  /** The endpoint's `active` count includes this request. */
  private holdsEndpoint = false;
  private responseMutations: readonly HeaderMutation[] = [];
  /** CORS headers the route's policy puts on this request's response, whichever answers it. */
  private corsHeaders: Record<string, string> | undefined;
  private tap: RequestBodyTap | undefined;
  /** Request body bytes read into memory for replay (when the body is not streamed through `tap`). */
  private bufferedBytes = 0;
  private bytesSent = 0;
  /** A response (upstream or local) has started; later events must not send another. */
  private responding = false;
  /** The forward action and what each upstream attempt sends; set once the request is forwarded. */
  private action: ForwardAction | undefined;
  private cluster: UpstreamCluster | undefined;
  private upstreamRequest: UpstreamRequest | undefined;
  /** The retry policy while a retry is still possible (the body, if any, is held for replay). */
  private retry: RetryPolicy | undefined;
  /** Upstream attempts started (the first one included). */
  private attempts = 0;
  /** Endpoints already tried, when the retry policy avoids previous hosts. */
  private triedEndpoints: UpstreamEndpoint[] | undefined;
  /** A retriable failure found no retry left: the access log shows URX. */
  private retryLimitExceeded = false;
  /** The whole request has been received: Envoy's timeouts start then. */
  private requestComplete = false;
  /** The route timeout, bounding all attempts: this exchange's place on the route timeouts' list. */
  deadlineAt = 0;
  deadlinePrev: DeadlineEntry | undefined;
  deadlineNext: DeadlineEntry | undefined;
  deadlineList: DeadlineList | undefined;
  private perTryTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private logged = false;
  /** What the tendril.l7policy filter decided, for the access log. */
  private l7Log: L7PolicyLogEntry | undefined;
  finished = false;
  /** The upstream response head went downstream; its body is being relayed. */
  private relaying = false;
  /** The upstream response body has been fully relayed. */
  private responseDone = false;

  constructor(
    private readonly req: DownstreamRequest,
    private readonly res: DownstreamResponse,
    private readonly routes: ListenerRoutes,
    private readonly state: RoutingState,
    private readonly accessLog: AccessLogSink,
    private readonly logger: ProxyLogger,
    private readonly routeTimeouts: DeadlineLists,
  ) {
    this.isHttp2 = req.httpVersionMajor === 2;
    const headers = req.headers;
    this.authority = (this.isHttp2 ? (headers[':authority'] as string | undefined) : undefined) ?? headers.host ?? '';
    this.path = req.url ?? '/';
    // Every request gets an id, as Envoy's connection manager generates one before routing.
    const requestId = headers['x-request-id'];
    this.requestId = typeof requestId === 'string' && requestId !== '' ? requestId : randomUUID();
  }

  run(): void {
    const res = this.res as LinkedResponse;
    res[EXCHANGE] = this;
    res.on('finish', onDownstreamFinish);
    res.on('close', onDownstreamClose);
    if (this.routes.l7Policy && !this.enforceL7Policy(this.routes.l7Policy.isIngress)) return;
    // An HTTP/1 request carries no scheme: the connection's transport is it (TLS-terminating listeners serve https).
    const scheme = this.isHttp2 ? ((this.req.headers[':scheme'] as string | undefined) ?? 'http') : (this.req.socket as TLSSocket).encrypted ? 'https' : 'http';
    const view = new RequestView(this.req.method ?? 'GET', this.authority, this.path, scheme, this.req.headers);
    const route = findRoute(this.state, this.routes, view);
    if (route === undefined) return this.localReply(404, undefined, 'NR', []);
    this.routeName = route.name || null;
    if (this.routes.cors && route.cors) {
      const cors = evaluateCors(route.cors, this.req.method ?? 'GET', this.req.headers);
      this.corsHeaders = cors.responseHeaders;
      // The cors filter sits before the router: a preflight it answers never reaches the route's action.
      if (cors.preflightResponse) {
        this.corsHeaders = cors.preflightResponse;
        return this.localReply(200, undefined, undefined, []);
      }
    }
    const action = route.action;
    switch (action.kind) {
      case 'direct':
        return this.localReply(action.status, action.body, undefined, route.responseMutations);
      case 'redirect': {
        const forwardedProto = (this.req.headers['x-forwarded-proto'] as string | undefined) ?? scheme;
        const location = redirectLocation(action, view, route.rewrittenLength(view.pathOnly), forwardedProto);
        return this.localReply(action.status, undefined, undefined, route.responseMutations, location);
      }
      case 'forward':
        return this.forward(view, route, action);
    }
  }

  /**
   * The tendril.l7policy filter: the request of a redirected connection is allowed only when the L7
   * policy of its endpoint and port allows it for the remote identity (policy-semantics §3), after
   * the path is normalised (the normalised path is what goes upstream). A denial is Cilium's 403
   * `Access denied` (gRPC clients get PERMISSION_DENIED); a request on a connection that is no
   * redirect, or a target that cannot be normalised, is refused too. Returns whether to go on.
   */
  private enforceL7Policy(isIngress: boolean): boolean {
    const redirected = redirectedConnectionOf(this.req.socket);
    const normalized = normalizeRequestPath(this.path);
    if (!normalized.ok) {
      this.localReply(400, 'Bad Request', undefined, []);
      return false;
    }
    const direction = isIngress ? 'ingress' : 'egress';
    const decision =
      redirected && this.state.policies
        ? this.state.policies.decide(
            direction,
            isIngress ? redirected.originalDestination.host : stripMapped(this.req.socket.remoteAddress ?? ''),
            redirected.originalDestination.port,
            isIngress ? redirected.sourceIdentity : redirected.destinationIdentity,
            { method: this.req.method ?? 'GET', path: normalized.path, authority: this.authority, headers: this.req.headers },
          )
        : undefined;
    this.l7Log = decision
      ? { verdict: decision.allowed ? 'allowed' : 'denied', reason: decision.reason, mismatched_headers: [...decision.mismatchedHeaders] }
      : { verdict: 'denied', reason: redirected ? 'no L7 policy received yet' : 'not a redirected connection', mismatched_headers: [] };
    if (!decision?.allowed) {
      this.localReply(403, ACCESS_DENIED, undefined, []);
      return false;
    }
    this.path = normalized.path;
    applyHeaderEdits(this.req.headers, decision.edits);
    return true;
  }

  private forward(view: RequestView, route: CompiledRoute, action: ForwardAction): void {
    let clusterName = action.cluster;
    let target: WeightedTarget | undefined;
    if (action.weighted !== undefined) {
      target = pickWeightedTarget(action.weighted);
      clusterName = target?.cluster;
    }
    this.clusterName = clusterName ?? null;
    const responseMutations = target?.responseMutation ? [target.responseMutation, ...route.responseMutations] : route.responseMutations;
    const cluster = clusterName !== undefined ? this.state.clusters.get(clusterName) : undefined;
    if (cluster === undefined) return this.localReply(action.clusterNotFoundStatus, undefined, 'NC', responseMutations);
    const endpoint = cluster.pick(this.req.socket, this.isHttp2);
    if (endpoint === undefined) return this.localReply(503, 'no healthy upstream', 'UH', responseMutations);

    const headers = buildUpstreamHeaders(this.req.headers, this.req.socket, view.scheme, this.routes.appendXff, this.requestId, action);
    const path = rewritePath(view, route.rewrittenLength(view.pathOnly), action.prefixRewrite, action.regexRewrite);
    if (path !== this.path) headers['x-envoy-original-path'] = this.path;
    if (target?.requestMutation) applyHeaderMutation(headers as HeaderBag, target.requestMutation);
    applyHeaderMutations(headers as HeaderBag, route.requestMutations);
    const authority = target?.hostRewrite ?? action.hostRewrite ?? this.authority;
    this.responseMutations = responseMutations;
    this.action = action;
    this.cluster = cluster;
    this.upstreamRequest = { method: this.req.method ?? 'GET', path, authority, headers, body: null };
    // A policy that can never retry (no retry_on, num_retries 0: e.g. only per_try_timeout) costs nothing here.
    if (action.retry !== undefined && action.retry.numRetries > 0 && action.retry.conditions.size > 0) this.retry = action.retry;

    if (!requestHasBody(this.req, this.isHttp2)) {
      this.mirror();
      this.requestReceived();
      return this.sendAttempt(endpoint);
    }
    // A retried request is sent again whole, so its body is read into memory first (up to a limit).
    if (this.retry !== undefined) return this.bufferBody(endpoint, this.retry.bufferLimitBytes);
    this.streamBody([]);
    this.sendAttempt(endpoint);
  }

  /** Streams the request body upstream (after `head`, what was already read of it); no retry can replay it. */
  private streamBody(head: readonly Buffer[]): void {
    const req = this.req;
    const tap = new RequestBodyTap();
    this.tap = tap;
    // Whoever reads the body (the upstream pool) sees its errors; an unread tap must not crash us.
    tap.on('error', () => undefined);
    req.on('error', (err: Error) => tap.destroy(err));
    (this.upstreamRequest as UpstreamRequest).body = tap;
    this.mirror();
    for (const chunk of head) tap.write(chunk);
    req.pipe(tap);
    if (req.readableEnded) this.requestReceived();
    else req.once('end', () => this.requestReceived());
  }

  /**
   * Reads the request body into memory so that every attempt can send it, then sends the first
   * attempt. A body larger than `limit` is streamed instead, and the request is not retried (Envoy
   * does not retry once its retry buffer overflows).
   */
  private bufferBody(endpoint: UpstreamEndpoint, limit: number): void {
    const req = this.req;
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      this.retry = undefined;
      if (this.logged) return;
      chunks.push(chunk);
      this.streamBody(chunks);
      this.sendAttempt(endpoint);
    };
    const onEnd = (): void => {
      req.off('data', onData);
      if (this.logged) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      this.bufferedBytes = size;
      (this.upstreamRequest as UpstreamRequest).body = body;
      this.mirror();
      this.requestReceived();
      this.sendAttempt(endpoint);
    };
    // A client that goes away mid-body closes the response, which logs the request (DC).
    req.on('error', () => undefined);
    req.on('data', onData);
    req.once('end', onEnd);
  }

  /** One upstream attempt of the request, on `endpoint`. */
  private sendAttempt(endpoint: UpstreamEndpoint): void {
    const request = this.upstreamRequest as UpstreamRequest;
    if (endpoint.admit !== undefined && !this.admitted(endpoint, request)) return;
    this.attempts++;
    if (this.action?.attemptCountInRequest) request.headers['x-envoy-attempt-count'] = String(this.attempts);
    if (this.retry?.avoidPreviousHosts) (this.triedEndpoints ??= []).push(endpoint);
    this.endpoint = endpoint;
    this.holdsEndpoint = true;
    endpoint.active++;
    if (this.requestComplete) this.armPerTryTimer();
    const upstream = endpoint.pool.send(request, this);
    // A pool may report a failure synchronously, before send() returns.
    if (this.holdsEndpoint) this.upstream = upstream;
  }

  /**
   * Schedules the next attempt after the retry back-off, when the policy has retries left; returns
   * whether it did. Only called for failures the policy calls retriable.
   */
  private scheduleRetry(): boolean {
    const policy = this.retry;
    if (policy === undefined) return false;
    const retriesDone = this.attempts - 1;
    if (retriesDone >= policy.numRetries) {
      this.retryLimitExceeded = true;
      return false;
    }
    this.clearPerTryTimer();
    this.retryTimer = setTimeout(onRetryBackOffDone, retryBackOffMs(policy, retriesDone + 1), this);
    return true;
  }

  retryNow(): void {
    this.retryTimer = undefined;
    if (this.logged || this.responding) return;
    const endpoint = this.pickRetryEndpoint();
    if (endpoint === undefined) return this.localReply(503, 'no healthy upstream', 'UH', this.responseMutations);
    this.sendAttempt(endpoint);
  }

  /** The endpoint for a retry; with previous_hosts, up to host_selection_retry_max_attempts re-picks avoid tried ones. */
  private pickRetryEndpoint(): UpstreamEndpoint | undefined {
    const cluster = this.cluster as UpstreamCluster;
    let endpoint = cluster.pick(this.req.socket, this.isHttp2);
    const tried = this.triedEndpoints;
    if (tried !== undefined) {
      for (let i = 0; i < (this.retry?.hostSelectionRetries ?? 0) && endpoint !== undefined && tried.includes(endpoint); i++) endpoint = cluster.pick(this.req.socket, this.isHttp2);
    }
    return endpoint;
  }

  /**
   * The L7 load balancer's upstream policy check (client-identity-endpoints.ts): the client's egress
   * policy must allow the backend picked, else Cilium's 403 `Access denied` (gRPC clients get
   * PERMISSION_DENIED); header edits of a matching headerMatches rule apply to what goes upstream.
   */
  private admitted(endpoint: UpstreamEndpoint, request: UpstreamRequest): boolean {
    const decision = (endpoint.admit as NonNullable<UpstreamEndpoint['admit']>)(this.state.policies, upstreamRequestFacts(request));
    this.l7Log = { verdict: decision.allowed ? 'allowed' : 'denied', reason: decision.reason, mismatched_headers: [...decision.mismatchedHeaders] };
    if (!decision.allowed) {
      this.localReply(403, ACCESS_DENIED, undefined, []);
      return false;
    }
    applyHeaderEdits(request.headers as DownstreamRequest['headers'], decision.edits);
    return true;
  }

  /** Fire-and-forget copies (Envoy's request mirroring): responses and failures are ignored. */
  private mirror(): void {
    const action = this.action as ForwardAction;
    const request = this.upstreamRequest as UpstreamRequest;
    for (const mirror of action.mirrors) {
      if (mirror.fraction < 1 && Math.random() >= mirror.fraction) continue;
      const endpoint = this.state.clusters.get(mirror.cluster)?.pick(this.req.socket, this.isHttp2);
      if (endpoint === undefined) continue;
      // A mirror the client's egress policy does not allow is not sent (the primary request is unaffected).
      if (endpoint.admit?.(this.state.policies, upstreamRequestFacts(request)).allowed === false) continue;
      let body: Readable | Buffer | null = null;
      if (Buffer.isBuffer(request.body)) {
        body = request.body;
      } else if (this.tap) {
        const copy = new PassThrough();
        copy.on('error', () => undefined);
        this.tap.copies.push(copy);
        body = copy;
      }
      const response = new MirrorResponse();
      const exchange = endpoint.pool.send(
        {
          method: request.method,
          path: request.path,
          authority: mirror.appendShadowSuffix ? shadowAuthority(request.authority) : request.authority,
          headers: { ...request.headers },
          body,
        },
        response,
      );
      if (action.timeoutMs > 0) response.timer = setTimeout(() => exchange.abort(), action.timeoutMs).unref();
    }
  }

  /** Envoy starts the route timeout, and the per-try timeout of the attempt in flight, once the whole request has been received. */
  private requestReceived(): void {
    if (this.requestComplete || this.responseDone || this.logged) return;
    this.requestComplete = true;
    const timeoutMs = (this.action as ForwardAction).timeoutMs;
    if (timeoutMs > 0) this.routeTimeouts.add(this, timeoutMs);
    if (this.holdsEndpoint) this.armPerTryTimer();
  }

  private armPerTryTimer(): void {
    const action = this.action as ForwardAction;
    // A per-try timeout no shorter than the route timeout would never be the one that fires.
    if (action.perTryTimeoutMs <= 0 || (action.timeoutMs > 0 && action.perTryTimeoutMs >= action.timeoutMs)) return;
    this.clearPerTryTimer();
    this.perTryTimer = setTimeout(onPerTryTimeout, action.perTryTimeoutMs, this);
  }

  private clearPerTryTimer(): void {
    if (this.perTryTimer !== undefined) {
      clearTimeout(this.perTryTimer);
      this.perTryTimer = undefined;
    }
  }

  private clearTimers(): void {
    this.deadlineList?.remove(this);
    this.clearPerTryTimer();
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
  }

  /** The route timeout bounds all attempts and back-offs: no retry after it. */
  onDeadline(): void {
    if (this.logged) return;
    this.clearTimers();
    this.upstream?.abort();
    this.releaseEndpoint();
    if (!this.responding) {
      this.localReply(504, 'upstream request timeout', 'UT', this.responseMutations);
    } else {
      this.flag = 'UT';
      this.resetDownstream();
    }
  }

  /** As in Envoy, a per-try timeout only counts until the response has started downstream. */
  onPerTryTimeout(): void {
    this.perTryTimer = undefined;
    if (this.logged || this.responding) return;
    this.upstream?.abort();
    this.releaseEndpoint();
    if (this.retry !== undefined && retriableTimeout(this.retry) && this.scheduleRetry()) return;
    this.localReply(504, 'upstream request timeout', 'UT', this.responseMutations);
  }

  onUpstreamError(err: UpstreamResetError): void {
    this.releaseEndpoint();
    this.clearPerTryTimer();
    if (this.logged) return;
    if (this.relaying) {
      // The body broke off after the response head went downstream.
      this.flag ??= 'UR';
      return this.resetDownstream();
    }
    if (this.responding) return;
    const reason = err.reason;
    this.logger.debug({ err, upstream: this.endpoint?.address, cluster: this.clusterName, attempt: this.attempts }, 'upstream request failed');
    if (this.retry !== undefined && retriableReset(this.retry, err) && this.scheduleRetry()) return;
    const flag: ResponseFlag = reason === 'connection failure' ? 'UF' : reason === 'connection termination' ? 'UC' : 'UR';
    this.localReply(503, `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`, flag, this.responseMutations);
  }

  onUpstreamHeaders(status: number, headers: UpstreamHeaders): void {
    if (this.responding || this.logged) {
      this.upstream?.abort();
      this.releaseEndpoint();
      return;
    }
    if (this.retry !== undefined && retriableStatus(this.retry, status) && this.scheduleRetry()) {
      // This response is dropped; the next attempt's goes downstream.
      this.upstream?.abort();
      this.releaseEndpoint();
      return;
    }
    this.responding = true;
    this.clearPerTryTimer();
    for (const name in headers) if (RESPONSE_HOP_BY_HOP.has(name)) delete headers[name];
    if (this.action?.attemptCountInResponse) headers['x-envoy-attempt-count'] = String(this.attempts);
    applyHeaderMutations(headers as HeaderBag, this.responseMutations);
    if (this.corsHeaders) Object.assign(headers, this.corsHeaders);
    this.status = status;
    try {
      (this.res as ServerResponse).writeHead(status, headers as OutgoingHttpHeaders);
    } catch (err) {
      this.logger.warn({ err, upstream: this.endpoint?.address }, 'upstream response headers cannot be sent downstream');
      this.upstream?.abort();
      this.releaseEndpoint();
      this.flag = 'UR';
      this.resetDownstream();
      return;
    }
    this.relaying = true;
  }

  resumeUpstream(): void {
    this.upstream?.resume();
  }

  onUpstreamData(chunk: Buffer): boolean {
    this.bytesSent += chunk.length;
    if ((this.res as ServerResponse).write(chunk)) return true;
    this.res.once('drain', onDownstreamDrain);
    return false;
  }

  onUpstreamEnd(trailers: UpstreamHeaders | undefined): void {
    this.responseDone = true;
    const res = this.res;
    this.releaseEndpoint();
    this.clearTimers();
    if (this.logged) return;
    if (trailers && this.isHttp2 && Object.keys(trailers).length > 0) (res as http2.Http2ServerResponse).addTrailers(trailers as OutgoingHttpHeaders);
    res.end();
  }

  localReply(status: number, body: string | Buffer | undefined, flag: ResponseFlag | undefined, mutations: readonly HeaderMutation[], location?: string): void {
    this.clearTimers();
    this.flag = flag;
    this.status = status;
    if (this.responding) return this.resetDownstream();
    this.responding = true;
    if (isGrpcRequest(this.req.headers)) return this.grpcLocalReply(status, body, mutations);
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    const headers: HeaderBag = { 'content-length': payload?.length ?? 0 };
    if (payload && payload.length > 0) headers['content-type'] = 'text/plain';
    if (location !== undefined) headers.location = location;
    if (this.attempts > 0 && this.action?.attemptCountInResponse) headers['x-envoy-attempt-count'] = String(this.attempts);
    applyHeaderMutations(headers, mutations);
    if (this.corsHeaders) Object.assign(headers, this.corsHeaders);
    this.bytesSent += payload?.length ?? 0;
    const res = this.res;
    try {
      (res as ServerResponse).writeHead(status, headers as OutgoingHttpHeaders);
      if (payload) res.end(payload);
      else res.end();
    } catch (err) {
      this.logger.warn({ err }, 'local reply cannot be sent');
      this.resetDownstream();
    }
  }

  /**
   * Envoy answers a gRPC request's local reply (no route, no upstream, a direct response such as an
   * L7 policy's 403) the gRPC way: HTTP 200, trailers-only, the HTTP status mapped to a grpc-status
   * and the body as the percent-encoded grpc-message, so the client sees e.g. PERMISSION_DENIED.
   */
  private grpcLocalReply(httpStatus: number, body: string | Buffer | undefined, mutations: readonly HeaderMutation[]): void {
    const text = body === undefined ? '' : body.toString();
    const headers: HeaderBag = { 'content-type': 'application/grpc', 'grpc-status': String(grpcStatusOf(httpStatus)) };
    if (text !== '') headers['grpc-message'] = percentEncodeGrpcMessage(text);
    applyHeaderMutations(headers, mutations);
    this.status = 200;
    try {
      if (this.isHttp2) {
        const stream = (this.res as http2.Http2ServerResponse).stream;
        stream.respond({ ':status': 200, ...(headers as http2.OutgoingHttpHeaders) }, { endStream: true });
      } else {
        (this.res as ServerResponse).writeHead(200, { ...(headers as OutgoingHttpHeaders), 'content-length': 0 });
        this.res.end();
      }
    } catch (err) {
      this.logger.warn({ err }, 'local reply cannot be sent');
      this.resetDownstream();
    }
  }

  private resetDownstream(): void {
    if (this.isHttp2) {
      const stream = (this.res as http2.Http2ServerResponse).stream;
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    } else {
      (this.res as ServerResponse).destroy();
    }
  }

  private releaseEndpoint(): void {
    if (this.holdsEndpoint && this.endpoint) {
      this.endpoint.active--;
      this.holdsEndpoint = false;
    }
    this.upstream = undefined;
  }

  onDownstreamClose(): void {
    this.clearTimers();
    if (!this.finished) {
      // The client went away (or we reset it) before the response completed.
      this.flag ??= 'DC';
      this.upstream?.abort();
      this.releaseEndpoint();
      this.tap?.destroy();
      if (!this.responding) this.status = 0;
    }
    this.log();
  }

  private log(): void {
    if (this.logged) return;
    this.logged = true;
    try {
      this.writeAccessLog();
    } catch (err) {
      this.logger.warn({ err }, 'access log sink failed');
    }
  }

  private writeAccessLog(): void {
    const headers = this.req.headers;
    this.accessLog({
      start_time: isoTimestamp(this.startMs),
      method: this.req.method ?? '',
      path: this.path,
      protocol: this.isHttp2 ? 'HTTP/2' : `HTTP/${this.req.httpVersion}`,
      response_code: this.status,
      // Envoy lists URX (retry limit exceeded) after the flag of the last attempt's failure.
      response_flags: this.retryLimitExceeded ? (this.flag !== undefined ? `${this.flag},URX` : 'URX') : (this.flag ?? '-'),
      bytes_received: this.tap !== undefined ? this.tap.bytes : this.bufferedBytes,
      bytes_sent: this.bytesSent,
      duration_ms: Math.round(performance.now() - this.startTick),
      upstream_host: this.endpoint?.address ?? null,
      upstream_cluster: this.clusterName,
      route_name: this.routeName,
      authority: this.authority,
      x_request_id: this.requestId,
      user_agent: (headers['user-agent'] as string | undefined) ?? null,
      listener: this.routes.listenerName,
      ...(this.l7Log ? { l7_policy: this.l7Log } : {}),
    });
  }
}
