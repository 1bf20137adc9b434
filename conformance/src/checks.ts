import { GRPC_ECHO_METHODS, grpcEchoFullMethod, type GrpcEchoMethod } from '@tendril/api-gateway';
/**
 * The traffic expectations of inventory.json, normalised into one shape. The inventory writes them
 * for people: as {request, expect} objects, as compact [host, path, backend-or-status] case tuples
 * under a group, or as prose (weighted distributions). Free-text notes ride along in parentheses
 * after a value ("infra-backend-v1 (port in Host header ignored …)"); they are stripped here.
 */
export interface HttpRequestSpec {
  /** Host header; the Gateway's address when absent (as the upstream client's URL gives it). */
  host?: string;
  path: string;
  /**
   * Query string appended to the path for every attempt. `<new>` stands for a fresh UUID per
   * attempt; the retry tests' `succeedAfter` queries always get a fresh `uuid`, as the upstream
   * test regenerates it on every probe so the echo backend counts each probe's attempts alone.
   */
  query?: string;
  method: string;
  headers: Record<string, string>;
  /** Response headers the echo backend is asked to add (the X-Echo-Set-Header request header). */
  backendSetsResponseHeaders: Record<string, string>;
  /** The Gateway listener port dialled, when not the Gateway's first listener's ("to": "port 8080"). */
  port?: number;
  /**
   * 'h2c': HTTP/2 cleartext with prior knowledge (no Upgrade), as the upstream h2c test dials;
   * 'https': HTTP/1.1 over TLS; 'h2': HTTP/2 over TLS (ALPN h2). Absent: HTTP/1.1 in the clear.
   */
  protocol?: RequestProtocol;
  /** TLS: the SNI server name, when not the Host (HTTPRouteHTTPSListenerDetectMisdirectedRequests sends them apart). */
  serverName?: string;
  /**
   * TLS: the Secret (in the infra namespace) whose certificate the client trusts, when the check
   * names one; else the certificates the dialled Gateway's listeners serve.
   */
  trustSecret?: string;
}

export type RequestProtocol = 'h2c' | 'https' | 'h2';

export interface HttpExpectation {
  /** Acceptable status codes. */
  status: number[];
  /** Prefix of the echoing pod's name (the backend Service's name); undefined matches any pod. */
  backend?: string;
  namespace?: string;
  requestHeadersSeenByBackend: Record<string, string>;
  absentRequestHeaders: string[];
  responseHeaders: Record<string, string>;
  absentResponseHeaders: string[];
  /** For 3xx answers: the Location header's parts. Unset parts default as the upstream suite defaults them. */
  redirect?: RedirectExpectation;
  /** The path (with query) the backend must see, when a filter rewrites it; else the request's. */
  pathSeenByBackend?: string;
  /** The Host the backend must see, when a filter rewrites it; else the request's. */
  hostSeenByBackend?: string;
  /** Upstream ValidHeaderValues: each response header must be one of these values. */
  responseHeaderAlternatives?: Record<string, string[]>;
  /** Upstream IgnoreWhitespace: header values are compared with all whitespace removed. */
  ignoreWhitespace?: boolean;
  /**
   * The Gateway answers itself (upstream's expected request with an empty path): a 200 must not be
   * the echo backend's JSON, which would show the request was forwarded.
   */
  answeredByGateway?: boolean;
  /** The SNI the backend must have seen on the Gateway's TLS connection to it (a BackendTLSPolicy's hostname). */
  backendServerName?: string;
  /** PEM certificates the backend must have seen among the client certificates the Gateway presented to it. */
  backendPeerCertificates?: string[];
}

/**
 * A redirect's expected Location. `scheme` and `path` default to the request's; an unset `port` means
 * "absent or the scheme's default"; `host` is checked only when set.
 */
export interface RedirectExpectation {
  scheme?: string;
  host?: string;
  port?: string;
  path?: string;
}

export interface HttpCheck {
  /** The Gateway (infra namespace) the request goes to, when the inventory names one. */
  gateway?: string;
  request: HttpRequestSpec;
  expect: HttpExpectation;
  /** How the check reads, for failure messages. */
  label: string;
}

/** Checks whose shape the runner cannot execute yet (e.g. weighted distributions); a test holding one is not run. */
export interface UnsupportedCheck {
  unsupported: string;
}

/**
 * A weighted-traffic check (HTTPRouteWeight): many requests, each backend's share compared with its
 * weight. The inventory states it in prose; the runner takes the shares from the route's weights.
 */
export interface DistributionCheck {
  distribution: string;
}

/**
 * HTTPRouteRequestHeaderModifierBackendWeights' loop: `requests` sequential GETs of `path`, each
 * answered by a pod whose name starts with the one `Backend` header value the backend saw (each
 * backendRef's own filter sets it), so a backendRef's filters apply only to traffic sent to it.
 */
export interface BackendHeaderLoopCheck {
  loop: { requests: number; path: string; header: string };
}

/**
 * HTTPRouteBackendProtocolWebSocket: a WebSocket dialled through the Gateway to the echo backend's
 * `path`; a text and a binary message must come back unchanged (upstream sends these two).
 */
export interface WebSocketEchoCheck {
  websocket: { path: string; origin: string; text: string; binary: number[] };
}

/**
 * One gRPC call through the Gateway (the GATEWAY-GRPC tests): a GrpcEcho method, with request
 * metadata and the :authority the client dials with, and the upstream comparison of its answer.
 */
export interface GrpcCheck {
  grpc: {
    method: GrpcEchoMethod;
    /** Outgoing metadata; gRPC sends the keys lower-cased. */
    metadata: Record<string, string>;
    /** :authority, when the check sets one (else the Gateway's host:port, as gRPC clients default it). */
    authority?: string;
  };
  expect: GrpcExpectation;
  label: string;
}

export interface GrpcExpectation {
  /** The gRPC status code's name as grpc-js spells it: OK, UNIMPLEMENTED, … */
  code: string;
  /** Prefix of the answering pod's name; undefined matches any pod. */
  backend?: string;
  namespace?: string;
}

export type NormalisedCheck = HttpCheck | GrpcCheck | DistributionCheck | BackendHeaderLoopCheck | WebSocketEchoCheck | UnsupportedCheck;

const NOTE = /\s+\(.*\)\s*$/;

function stripNote(value: string): string {
  return value.replace(NOTE, '');
}

function record(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, stripNote(String(v))]));
}

function list(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function statusList(value: unknown): number[] {
  if (Array.isArray(value)) return value.map(Number);
  return value === undefined ? [200] : [Number(value)];
}

function describe(req: HttpRequestSpec): string {
  const headers = Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`);
  const via = [req.port !== undefined ? `port ${req.port}` : '', req.protocol ?? '', req.serverName !== undefined ? `SNI ${req.serverName}` : ''].filter(Boolean).join(', ');
  return `${req.method} ${req.host ?? '<gateway>'}${req.path}${req.query ? `?${req.query}` : ''}${headers.length ? ` [${headers.join(', ')}]` : ''}${via ? ` (${via})` : ''}`;
}

// followRedirects is always false upstream (and for undici's request()); it is accepted and ignored.
const REQUEST_KEYS = new Set(['host', 'path', 'query', 'method', 'headers', 'backendSetsResponseHeaders', 'followRedirects', 'to', 'protocol', 'sni']);
// `rule` and `note` explain the expectation to people; they assert nothing.
const EXPECT_KEYS = new Set(['status', 'backend', 'namespace', 'requestHeadersSeenByBackend', 'absentRequestHeaders', 'responseHeaders', 'absentResponseHeaders', 'note', 'rule', 'redirect', 'pathSeenByBackend', 'hostSeenByBackend', 'backendSNI']);
const REDIRECT_KEYS = new Set(['scheme', 'host', 'port', 'path']);

/**
 * inventory.json writes redirect parts for people: "80 or absent", "http (unchanged)", "unchanged
 * (gateway host)". Only a plain value is an expectation; prose means the upstream default applies.
 */
function redirectExpectation(raw: Record<string, unknown>): RedirectExpectation {
  const plain = (key: string, pattern: RegExp): string | undefined => {
    const v = typeof raw[key] === 'string' ? stripNote(raw[key] as string) : undefined;
    return v !== undefined && v !== 'unchanged' && pattern.test(v) ? v : undefined;
  };
  return { scheme: plain('scheme', /^https?$/), host: plain('host', /^[a-z0-9.-]+$/i), port: plain('port', /^\d+$/), path: plain('path', /^\//) };
}
/** Top-level keys of a check besides the request fields (which some entries give at the top level). */
const CHECK_KEYS = new Set(['request', 'expect', 'gateway', 'note']);

function unknownKeys(o: Record<string, unknown>, known: Set<string>): string[] {
  return Object.keys(o).filter((k) => !known.has(k));
}

function fromObject(raw: Record<string, unknown>, gateway: string | undefined): NormalisedCheck {
  // Either {request: {...}, expect} or the request's fields at the top level ({path, headers, expect}).
  const r = (raw['request'] ?? Object.fromEntries(Object.entries(raw).filter(([k]) => REQUEST_KEYS.has(k)))) as Record<string, unknown>;
  const rawExpect = raw['expect'] ?? {};
  // A bare string expectation names the backend ("expect": "infra-backend-v1").
  const e = (typeof rawExpect === 'string' ? { backend: rawExpect } : rawExpect) as Record<string, unknown>;
  const unknown = [
    ...unknownKeys(raw, new Set([...CHECK_KEYS, ...(raw['request'] ? [] : REQUEST_KEYS)])),
    ...(r && typeof r === 'object' ? unknownKeys(r, REQUEST_KEYS).map((k) => `request.${k}`) : ['request']),
    ...(e && typeof e === 'object' ? unknownKeys(e, EXPECT_KEYS).map((k) => `expect.${k}`) : ['expect']),
    ...(e && typeof e === 'object' && e['redirect'] !== undefined
      ? typeof e['redirect'] === 'object' && e['redirect']
        ? unknownKeys(e['redirect'] as Record<string, unknown>, REDIRECT_KEYS).map((k) => `expect.redirect.${k}`)
        : ['expect.redirect']
      : []),
  ];
  if (unknown.length > 0) return { unsupported: `${unknown.join(', ')} in ${JSON.stringify(raw)}` };
  const port = listenerPort(r['to']);
  const protocol = requestProtocol(r['protocol']);
  if (port === null) return { unsupported: `request.to ${JSON.stringify(r['to'])} (only "port N" is understood) in ${JSON.stringify(raw)}` };
  if (protocol === null) return { unsupported: `request.protocol ${JSON.stringify(r['protocol'])} in ${JSON.stringify(raw)}` };
  if (r['sni'] !== undefined && (typeof r['sni'] !== 'string' || !protocol || protocol.protocol === 'h2c')) return { unsupported: `request.sni ${JSON.stringify(r['sni'])} without TLS in ${JSON.stringify(raw)}` };
  const request: HttpRequestSpec = {
    host: typeof r['host'] === 'string' ? r['host'] : undefined,
    path: typeof r['path'] === 'string' ? r['path'] : '/',
    ...(typeof r['query'] === 'string' ? { query: r['query'] } : {}),
    method: typeof r['method'] === 'string' ? r['method'] : 'GET',
    headers: record(r['headers']),
    backendSetsResponseHeaders: record(r['backendSetsResponseHeaders']),
    ...(port !== undefined ? { port } : {}),
    ...(protocol !== undefined ? { protocol: protocol.protocol } : {}),
    ...(typeof r['sni'] === 'string' ? { serverName: r['sni'] } : {}),
    ...(protocol?.trustSecret !== undefined ? { trustSecret: protocol.trustSecret } : {}),
  };
  const expect: HttpExpectation = {
    status: statusList(e['status']),
    backend: typeof e['backend'] === 'string' ? stripNote(e['backend']) : undefined,
    namespace: typeof e['namespace'] === 'string' ? e['namespace'] : undefined,
    requestHeadersSeenByBackend: record(e['requestHeadersSeenByBackend']),
    absentRequestHeaders: list(e['absentRequestHeaders']),
    responseHeaders: record(e['responseHeaders']),
    absentResponseHeaders: list(e['absentResponseHeaders']),
    ...(e['redirect'] ? { redirect: redirectExpectation(e['redirect'] as Record<string, unknown>) } : {}),
    ...(typeof e['pathSeenByBackend'] === 'string' ? { pathSeenByBackend: stripNote(e['pathSeenByBackend']) } : {}),
    ...(typeof e['hostSeenByBackend'] === 'string' ? { hostSeenByBackend: stripNote(e['hostSeenByBackend']) } : {}),
    ...(typeof e['backendSNI'] === 'string' ? { backendServerName: stripNote(e['backendSNI']) } : {}),
  };
  const target = typeof raw['gateway'] === 'string' ? stripNote(raw['gateway']) : gateway;
  return { gateway: target, request, expect, label: describe(request) };
}

/**
 * "port 8080", "gateway addr port 80": the listener port a request is sent to. Undefined when
 * absent (the first listener's), null when the text names something else (another Gateway, TLS).
 */
function listenerPort(to: unknown): number | undefined | null {
  if (to === undefined) return undefined;
  const m = typeof to === 'string' ? /^(?:gateway addr )?port (\d+)$/.exec(to.trim()) : null;
  return m ? Number(m[1]) : null;
}

/**
 * "HTTP/2 cleartext with prior knowledge (…)" is h2c, "HTTPS [(HTTP/1.1)] …" HTTP/1.1 over TLS,
 * "HTTP/2 over TLS (h2) …" h2; "trust[ing] NAME" names the Secret whose certificate is trusted.
 * Any other protocol is null.
 */
function requestProtocol(protocol: unknown): { protocol: RequestProtocol; trustSecret?: string } | undefined | null {
  if (protocol === undefined) return undefined;
  if (typeof protocol !== 'string') return null;
  const trust = /\btrust(?:ing)? ([a-z0-9][a-z0-9.-]*)/.exec(protocol)?.[1];
  const withTrust = (p: RequestProtocol) => ({ protocol: p, ...(trust ? { trustSecret: trust } : {}) });
  if (/^HTTP\/2 cleartext with prior knowledge\b/.test(protocol)) return { protocol: 'h2c' };
  if (/^HTTP\/2 over TLS\b/.test(protocol)) return withTrust('h2');
  if (/^HTTPS(?: \(HTTP\/1\.1\))?(?:,|$)/.test(protocol)) return withTrust('https');
  return null;
}

/** "100 sequential requests to /: each captured request must carry exactly one 'Backend' header …". */
function backendHeaderLoop(text: string): BackendHeaderLoopCheck | undefined {
  const m = /^(\d+) sequential requests to (\/\S*): each captured request must carry exactly one '([A-Za-z-]+)' header\b.*pod name must start with that header's value$/.exec(text);
  return m ? { loop: { requests: Number(m[1]), path: m[2], header: m[3] } } : undefined;
}

/** {"request": {"websocket": "dial ws://<gw>/ws (origin ws://gateway/…)"}, "expect": {textFrameEcho, binaryFrameEcho}}. */
function websocketEcho(raw: Record<string, unknown>): WebSocketEchoCheck | UnsupportedCheck {
  const r = raw['request'] as Record<string, unknown>;
  const e = (raw['expect'] ?? {}) as Record<string, unknown>;
  const m = typeof r['websocket'] === 'string' ? /^dial ws:\/\/<gw>(\/\S*)(?: \(origin (ws:\/\/\S+?)\))?$/.exec(r['websocket']) : null;
  const expectsBoth = typeof e['textFrameEcho'] === 'string' && typeof e['binaryFrameEcho'] === 'string';
  if (!m || !expectsBoth || Object.keys(r).length !== 1 || unknownKeys(e, new Set(['textFrameEcho', 'binaryFrameEcho'])).length > 0) return { unsupported: `websocket check ${JSON.stringify(raw)}` };
  // The upstream test's messages: the text "Websocket Support!" and the bytes 1..7.
  // Upstream puts the Go subtest's name in the Origin; nothing reads it, so any name does.
  const origin = (m[2] ?? 'ws://gateway/<testname>').replace('<testname>', 'HTTPRouteBackendProtocolWebSocket');
  return { websocket: { path: m[1], origin, text: 'Websocket Support!', binary: [1, 2, 3, 4, 5, 6, 7] } };
}

/** "Unimplemented", "DeadlineExceeded" (grpc-go's code names) → "UNIMPLEMENTED", "DEADLINE_EXCEEDED"; undefined if not a code. */
function grpcCodeName(text: string): string | undefined {
  const name = text.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  return GRPC_CODE_NAMES.has(name) ? name : undefined;
}

const GRPC_CODE_NAMES = new Set(['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED']);
/**
 * `declaredExpectedHeaders`: headers a Go test puts in grpc.Response.Headers, which upstream's
 * grpc.compareResponse never compares (GRPCRouteRequestHeaderModifier declares some that its own
 * route, three rules with one match, cannot all produce). Read, and not compared, as upstream.
 */
const GRPC_CHECK_KEYS = new Set(['request', 'rpc', 'metadata', 'authority', 'expect', 'declaredExpectedHeaders']);
const GRPC_EXPECT_KEYS = new Set(['code', 'backend', 'namespace', 'fullyQualifiedMethodSeenByBackend', 'note']);

/** A check is a gRPC call when it names an RPC, gRPC metadata or :authority, or expects a gRPC code. */
function isGrpcShaped(o: Record<string, unknown>): boolean {
  const request = o['request'] as Record<string, unknown> | undefined;
  const expect = o['expect'] as Record<string, unknown> | string | undefined;
  return 'rpc' in o || 'metadata' in o || 'authority' in o || (typeof request === 'object' && request !== null && 'rpc' in request) || (typeof expect === 'object' && expect !== null && 'code' in expect);
}

function describeGrpc(call: GrpcCheck['grpc']): string {
  const metadata = Object.entries(call.metadata).map(([k, v]) => `${k}: ${v}`);
  return `gRPC ${call.authority ?? '<gateway>'}${grpcEchoFullMethod(call.method)}${metadata.length ? ` [${metadata.join(', ')}]` : ''}`;
}

/**
 * {request: {rpc}, expect: {code, backend, namespace, fullyQualifiedMethodSeenByBackend}},
 * {metadata, expect: "backend-or-code"}, {authority, expect: …}: the upstream grpc.ExpectedResponse.
 * The fully qualified method seen by the backend is always compared (upstream compareResponse does),
 * so the inventory's copy of it must agree with the method called.
 */
function grpcCheck(o: Record<string, unknown>): GrpcCheck | UnsupportedCheck {
  const unsupported = (why: string): UnsupportedCheck => ({ unsupported: `gRPC check ${JSON.stringify(o)}: ${why}` });
  const unknown = unknownKeys(o, GRPC_CHECK_KEYS);
  if (unknown.length > 0) return unsupported(`unknown keys ${unknown.join(', ')}`);
  const request = (o['request'] ?? {}) as Record<string, unknown>;
  if (typeof request !== 'object' || unknownKeys(request, new Set(['rpc'])).length > 0) return unsupported('request may only name an rpc');
  const rpc = request['rpc'] ?? o['rpc'] ?? 'Echo';
  if (!(GRPC_ECHO_METHODS as readonly unknown[]).includes(rpc)) return unsupported(`rpc ${JSON.stringify(rpc)} is not a GrpcEcho method`);
  const metadata = o['metadata'] ?? {};
  if (typeof metadata !== 'object' || metadata === null || Object.values(metadata).some((v) => typeof v !== 'string')) return unsupported('metadata must map names to strings');
  if (o['authority'] !== undefined && typeof o['authority'] !== 'string') return unsupported('authority must be a string');
  const call: GrpcCheck['grpc'] = { method: rpc as GrpcEchoMethod, metadata: metadata as Record<string, string>, ...(typeof o['authority'] === 'string' ? { authority: o['authority'] } : {}) };
  const rawExpect = o['expect'];
  let expect: GrpcExpectation;
  if (typeof rawExpect === 'string') {
    // A bare string is a code ("Unimplemented") or the backend that must answer OK.
    const code = grpcCodeName(rawExpect);
    expect = code ? { code } : { code: 'OK', backend: stripNote(rawExpect) };
  } else if (rawExpect && typeof rawExpect === 'object') {
    const e = rawExpect as Record<string, unknown>;
    const unknownExpect = unknownKeys(e, GRPC_EXPECT_KEYS);
    if (unknownExpect.length > 0) return unsupported(`unknown expect keys ${unknownExpect.join(', ')}`);
    const code = e['code'] === undefined ? 'OK' : typeof e['code'] === 'string' ? grpcCodeName(e['code']) : undefined;
    if (!code) return unsupported(`expect.code ${JSON.stringify(e['code'])} is not a gRPC status code`);
    const method = e['fullyQualifiedMethodSeenByBackend'];
    if (method !== undefined && method !== grpcEchoFullMethod(call.method)) return unsupported(`fullyQualifiedMethodSeenByBackend ${JSON.stringify(method)} is not the method called`);
    expect = { code, ...(typeof e['backend'] === 'string' ? { backend: stripNote(e['backend']) } : {}), ...(typeof e['namespace'] === 'string' ? { namespace: e['namespace'] } : {}) };
  } else return unsupported('no expectation');
  return { grpc: call, expect, label: describeGrpc(call) };
}

function fromCase(tuple: unknown[], gateway: string | undefined): HttpCheck | UnsupportedCheck {
  const [host, path, outcome] = tuple;
  if (tuple.length !== 3 || typeof host !== 'string' || typeof path !== 'string' || !['string', 'number'].includes(typeof outcome)) return { unsupported: `case ${JSON.stringify(tuple)}` };
  const request: HttpRequestSpec = { host, path, method: 'GET', headers: {}, backendSetsResponseHeaders: {} };
  const expect: HttpExpectation = {
    status: typeof outcome === 'number' ? [outcome] : [200],
    backend: typeof outcome === 'string' ? stripNote(outcome) : undefined,
    requestHeadersSeenByBackend: {},
    absentRequestHeaders: [],
    responseHeaders: {},
    absentResponseHeaders: [],
  };
  return { gateway, request, expect, label: describe(request) };
}

/**
 * A case table over a request template: {request: {…, sni: "<serverName>", host: "<host>"}, cases:
 * [[serverName, host, status, backend?]]} (HTTPRouteHTTPSListenerDetectMisdirectedRequests).
 */
function templateCases(o: Record<string, unknown>): NormalisedCheck[] {
  const template = o['request'] as Record<string, unknown>;
  const format = typeof o['caseFormat'] === 'string' ? o['caseFormat'] : '';
  const unknown = unknownKeys(o, new Set(['request', 'cases', 'caseFormat']));
  if (unknown.length > 0 || template['sni'] !== '<serverName>' || template['host'] !== '<host>' || !/^\[SNI serverName, Host\b.*, expected status, backend\]$/.test(format)) {
    return [{ unsupported: `case table ${JSON.stringify(o)}` }];
  }
  return (o['cases'] as unknown[]).map((c) => {
    if (!Array.isArray(c) || c.length < 3 || c.length > 4 || typeof c[0] !== 'string' || typeof c[1] !== 'string' || typeof c[2] !== 'number' || (c[3] !== undefined && typeof c[3] !== 'string')) return { unsupported: `case ${JSON.stringify(c)}` };
    return fromObject({ request: { ...template, sni: c[0], host: c[1] }, expect: { status: c[2], ...(c[3] ? { backend: c[3] } : {}) } }, undefined);
  });
}

/**
 * A redirect table for one Gateway: {listener: "NAME :PORT (HTTP|HTTPS[, SNI/Host HOST])", cases:
 * [[path, status, "scheme://host[:port] (notes)"]]} (HTTPRouteRedirectPortAndScheme). Without a
 * port in the Location, the scheme's default or none is expected, as upstream allows either.
 */
function listenerRedirectCases(o: Record<string, unknown>): NormalisedCheck[] {
  const m = typeof o['listener'] === 'string' ? /^([a-z0-9.-]+) :(\d+) \((HTTPS?)(?:, SNI\/Host ([a-z0-9.-]+))?\)$/.exec(o['listener']) : null;
  if (!m || unknownKeys(o, new Set(['listener', 'cases'])).length > 0) return [{ unsupported: `listener table ${JSON.stringify(o)}` }];
  const [, gateway, port, scheme, host] = m;
  return (o['cases'] as unknown[]).map((c) => {
    const location = Array.isArray(c) && c.length === 3 && typeof c[0] === 'string' && typeof c[1] === 'number' && typeof c[2] === 'string' ? /^(https?):\/\/([a-z0-9.-]+)(?::(\d+))?$/.exec(stripNote(c[2])) : null;
    if (!location || !Array.isArray(c)) return { unsupported: `redirect case ${JSON.stringify(c)}` };
    const request = { path: c[0], to: `port ${port}`, ...(scheme === 'HTTPS' ? { protocol: 'HTTPS', ...(host ? { host } : {}) } : {}) };
    return fromObject({ gateway, request, expect: { status: c[1], redirect: { scheme: location[1], host: location[2], ...(location[3] ? { port: location[3] } : {}) } } }, undefined);
  });
}

/** A group title naming its Gateway ("gateway httproute-hostname-intersection-all (…) + …") sends its cases there. */
function groupGateway(title: unknown): string | undefined {
  return typeof title === 'string' ? /^gateway ([a-z0-9.-]+)/.exec(title)?.[1] : undefined;
}

/** Normalises inventory.json `checks`; anything not plainly an HTTP/1.1 request and its expectation comes back as unsupported. */
export function normaliseChecks(raw: readonly unknown[]): NormalisedCheck[] {
  const out: NormalisedCheck[] = [];
  let previousCases: unknown[] | undefined;
  for (const item of raw) {
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      out.push({ unsupported: JSON.stringify(item) });
      continue;
    }
    const o = item as Record<string, unknown>;
    const gateway = typeof o['gateway'] === 'string' ? stripNote(o['gateway']) : groupGateway(o['group']);
    // `caseFormat` only tells people how to read the tuples.
    if (Array.isArray(o['cases']) && unknownKeys(o, new Set(['group', 'gateway', 'cases', 'caseFormat'])).length === 0) {
      previousCases = o['cases'];
      for (const c of o['cases']) out.push(Array.isArray(c) ? fromCase(c, gateway) : { unsupported: JSON.stringify(c) });
    } else if (o['cases'] === 'identical expectations' && previousCases && gateway && Object.keys(o).length === 2) {
      // "The same cases against this other Gateway" (GatewayHTTPListenerIsolation's second Gateway).
      for (const c of previousCases) out.push(Array.isArray(c) ? fromCase(c, gateway) : { unsupported: JSON.stringify(c) });
    } else if (typeof o['distribution'] === 'string' && Object.keys(o).length === 1) out.push({ distribution: o['distribution'] });
    else if (typeof o['loop'] === 'string' && Object.keys(o).length === 1) out.push(backendHeaderLoop(o['loop']) ?? { unsupported: `loop ${JSON.stringify(o['loop'])}` });
    else if (o['request'] && typeof o['request'] === 'object' && 'websocket' in (o['request'] as object)) out.push(websocketEcho(o));
    else if (isGrpcShaped(o)) out.push(grpcCheck(o));
    else if (Array.isArray(o['cases']) && o['request'] && typeof o['request'] === 'object') out.push(...templateCases(o));
    else if (Array.isArray(o['cases']) && 'listener' in o) out.push(...listenerRedirectCases(o));
    else if ('expect' in o) out.push(fromObject(o, undefined));
    else out.push({ unsupported: JSON.stringify(o) });
  }
  return out;
}

/** The path (with query) one attempt of a check requests: fresh UUIDs where the check asks for them. */
export function attemptPath(req: HttpRequestSpec, newUuid: () => string): string {
  if (req.query === undefined) return req.path;
  const params = new URLSearchParams(req.query);
  for (const [name, value] of [...params]) if (value === '<new>') params.set(name, newUuid());
  if (params.has('succeedAfter') && !params.has('uuid')) params.set('uuid', newUuid());
  return `${req.path}?${params.toString()}`;
}

export function isUnsupported(check: NormalisedCheck): check is UnsupportedCheck {
  return 'unsupported' in check;
}

export function isDistribution(check: NormalisedCheck): check is DistributionCheck {
  return 'distribution' in check;
}

export function isBackendHeaderLoop(check: NormalisedCheck): check is BackendHeaderLoopCheck {
  return 'loop' in check;
}

export function isWebSocketEcho(check: NormalisedCheck): check is WebSocketEchoCheck {
  return 'websocket' in check;
}

export function isHttpCheck(check: NormalisedCheck): check is HttpCheck {
  return 'request' in check;
}

export function isGrpcCheck(check: NormalisedCheck): check is GrpcCheck {
  return 'grpc' in check;
}
