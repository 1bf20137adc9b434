/**
 * The route IR: the contract between Kubernetes-shaped input (Gateway API today, Ingress and mesh
 * routes later) and proxy-shaped output (Envoy xDS). It keeps Gateway API semantics (segment-aware
 * prefixes, prefix replacement, redirect port rules already resolved) and leaves Envoy encoding
 * choices to the renderer.
 */

export interface RouteIR {
  /** One entry per bound socket (Gateway address + port), sorted by name. */
  listeners: IrListener[];
  /** Every upstream referenced by a route, sorted by name. */
  clusters: IrCluster[];
  /** Certificates of served TLS listeners, sorted by name. */
  secrets: IrSecret[];
  /** East-west routes (GAMMA: routes whose parentRef is a Service), present when the translation renders a mesh listener. */
  mesh?: IrMeshListener;
}

/**
 * The node proxy's transparent mesh listener: the datapath steers a pod's connection to a mesh
 * Service's ClusterIP:port to it unchanged, and the original destination (and, for consumer routes,
 * the client's address) picks the frontend whose routes apply.
 */
export interface IrMeshListener {
  name: string;
  address: string;
  port: number;
  /** The pinned BPF maps the proxy reads client identities and egress policy from; empty for the default. */
  bpfRoot: string;
  /** Sorted by name. */
  frontends: IrMeshFrontend[];
}

export interface IrMeshFrontend {
  /** `mesh/<namespace>/<service>/<port>`, plus `/consumer/<namespace>` for a consumer namespace's own routes; also the route configuration name. */
  name: string;
  service: { namespace: string; name: string; port: number };
  /** The Service's ClusterIP. */
  vip: string;
  /**
   * Set on a consumer frontend: the routes of one namespace other than the Service's, which apply
   * only to connections from that namespace's pods (their addresses, sorted).
   */
  consumer?: { namespace: string; sources: string[] };
  /** One virtual host for any Host: a mesh route's hostnames do not narrow what it serves. */
  virtualHosts: IrVirtualHost[];
}

export interface IrListener {
  /** `<gateway namespace>/<gateway name>/<port>`; also the route configuration name. */
  name: string;
  gateway: { namespace: string; name: string };
  address: string;
  port: number;
  /** Sorted by hostname. */
  virtualHosts: IrVirtualHost[];
  /**
   * Present when the socket terminates TLS (HTTPS listeners): one entry per Gateway listener on the
   * socket, sorted by hostname. The client's SNI selects one; each virtual host belongs to the entry
   * whose hostname owns it (the most specific covering one, `*` last).
   */
  tls?: IrTlsListener[];
  /**
   * Present on TLS passthrough sockets (TLS listeners in Passthrough mode, TLSRoutes), which carry no
   * virtual hosts: the client's SNI picks the route and the TLS session goes to its backend untouched.
   * Sorted by hostname.
   */
  passthrough?: IrPassthroughRoute[];
  /**
   * Present on plain TCP sockets (TCP listeners, TCPRoutes): every connection goes to one of the
   * route's backends, picked by weight when the connection opens.
   */
  tcp?: IrTcpRoute;
  /**
   * Present on UDP sockets (UDP listeners, UDPRoutes): each client address gets a session with one
   * of the route's backends, picked by weight when the session starts. The listener's name ends
   * in `/udp`, so a TCP listener on the same port keeps its own.
   */
  udp?: IrUdpRoute;
}

export interface IrUdpRoute {
  /** `UDPRoute/<namespace>/<name>` */
  name: string;
  /**
   * Resolved backends with a weight above 0, in backendRefs order (empty: every datagram is
   * dropped). Unresolvable backendRefs are left out: a UDP session has no error to report.
   */
  backends: Array<{ cluster: string; weight: number }>;
}

export interface IrTcpRoute {
  /** `TCPRoute/<namespace>/<name>` */
  name: string;
  /**
   * Backends with a weight above 0, in backendRefs order. An invalid backend keeps its weight under
   * INVALID_BACKEND_CLUSTER (connections picked for it are closed), as HTTP gives its share a 500.
   */
  backends: Array<{ cluster: string; weight: number }>;
}

export interface IrPassthroughRoute {
  /** `TLSRoute/<namespace>/<name>` */
  name: string;
  /** The SNI it serves: exact, `*.suffix`, or `*` for connections no other route's name matches. */
  hostname: string;
  /** The backend cluster; INVALID_BACKEND_CLUSTER (no such cluster: connections are closed) when the backend is invalid. */
  cluster: string;
  /** Terminate mode: TLS is ended with these certificates (IrSecret names) and the plaintext relayed. */
  terminate?: { certificates: string[] };
}

export interface IrTlsListener {
  /** The Gateway listener's hostname (exact or `*.suffix`), or `*` for a listener without one. */
  hostname: string;
  /** IrSecret names, in certificateRefs order. */
  certificates: string[];
  /** Client certificates are asked for and checked against this CA bundle (Gateway spec.tls.frontend). */
  clientValidation?: { trustedCa: string; mode: 'AllowValidOnly' | 'AllowInsecureFallback' };
}

export interface IrSecret {
  /** `<namespace>/<name>` of the Kubernetes Secret. */
  name: string;
  /** PEM certificate chain (tls.crt). */
  certificateChain: string;
  /** PEM private key (tls.key). */
  privateKey: string;
}

export interface IrVirtualHost {
  name: string;
  /** Exact host, `*.suffix` wildcard (one or more labels) or `*` for any host. */
  hostname: string;
  /** In match precedence order: the first matching route wins. */
  routes: IrRoute[];
}

/** Route kinds the translator reads; IR routes come from HTTPRoutes and GRPCRoutes, passthrough routes from TLSRoutes, TCP routes from TCPRoutes. */
export type IrRouteKind = 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute' | 'UDPRoute';

export interface IrRouteSource {
  kind: IrRouteKind;
  namespace: string;
  name: string;
  ruleIndex: number;
  matchIndex: number;
}

export interface IrRoute {
  /** `<kind>/<namespace>/<name>/rule/<i>/match/<j>` */
  name: string;
  source: IrRouteSource;
  /** Used only for precedence ordering between routes (oldest first). */
  creationTimestamp: string;
  match: IrRouteMatch;
  requestHeaders?: IrHeaderMutation;
  responseHeaders?: IrHeaderMutation;
  /** The rule's CORS filter: preflights answered by the proxy, CORS headers on allowed origins' responses. */
  cors?: IrCorsPolicy;
  action: IrRouteAction;
}

/** HTTPRoute CORS filter values as the rule gives them (`*` entries kept). */
export interface IrCorsPolicy {
  /** Exact origins, `*`, or origins with a `*` wildcard. */
  allowOrigins: string[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds: number;
  allowCredentials: boolean;
}

export type IrPathMatch =
  | { type: 'Exact'; value: string }
  /** Segment-aware prefix with trailing slashes removed ("/" matches everything). */
  | { type: 'PathPrefix'; value: string }
  | { type: 'RegularExpression'; value: string };

export interface IrValueMatch {
  /** Header names are lower-cased; query parameter names keep their case. */
  name: string;
  type: 'Exact' | 'RegularExpression';
  value: string;
}

export interface IrRouteMatch {
  path: IrPathMatch;
  headers: IrValueMatch[];
  queryParams: IrValueMatch[];
  method?: string;
  /** The gRPC service/method match `path` was derived from; GRPCRoute precedence is defined on it. */
  grpcMethod?: { service: string; method: string };
}

export interface IrHeaderMutation {
  set: Array<{ name: string; value: string }>;
  add: Array<{ name: string; value: string }>;
  remove: string[];
}

export type IrPathModifier =
  | { type: 'ReplaceFullPath'; replacement: string }
  /** `prefix` is the matched PathPrefix (normalised), replaced segment-wise by `replacement`. */
  | { type: 'ReplacePrefixMatch'; prefix: string; replacement: string };

export type IrRouteAction = IrForwardAction | IrRedirectAction | IrDirectResponseAction;

export interface IrForwardAction {
  kind: 'forward';
  /** Traffic shares with weight > 0; at least one is valid (otherwise the action is a direct response). */
  backends: IrBackendShare[];
  /** Whole-request timeout as an Envoy duration ("0s" disables it). */
  timeout?: string;
  /** Per upstream attempt timeout as an Envoy duration. */
  perTryTimeout?: string;
  /** HTTPRoute rule `retry`: retried on connection errors, resets and per-try timeouts, and on `codes`. */
  retry?: IrRetry;
  hostRewrite?: string;
  pathRewrite?: IrPathModifier;
  mirrors: IrMirror[];
}

export interface IrRetry {
  /** Retries after the first attempt; the proxy's default (Envoy: 1) when unset. */
  attempts?: number;
  /** HTTP status codes that are retried. */
  codes: number[];
  /** Base back-off between attempts as an Envoy duration. */
  backoff?: string;
}

export type IrBackendShare =
  | {
      kind: 'cluster';
      cluster: string;
      weight: number;
      requestHeaders?: IrHeaderMutation;
      responseHeaders?: IrHeaderMutation;
    }
  /** A share of traffic for a backend that could not be resolved; the spec requires a 500 for it. */
  | { kind: 'invalid'; weight: number };

export interface IrMirror {
  cluster: string;
  /** Fraction of requests mirrored, in parts per million (1000000 = all). */
  partsPerMillion: number;
}

export interface IrRedirectAction {
  kind: 'redirect';
  scheme?: string;
  hostname?: string;
  /** Already resolved per the spec's port rules; a well-known port for the final scheme may be omitted. */
  port: number;
  path?: IrPathModifier;
  statusCode: number;
}

export interface IrDirectResponseAction {
  kind: 'directResponse';
  status: number;
  body: string;
}

export interface IrCluster {
  /** `<namespace>/<service>/<port>`, with `/h2c` appended when HTTP/2 is forced by a GRPCRoute, `/udp` for a Service's UDP port. */
  name: string;
  service: { namespace: string; name: string; port: number };
  /** How the proxy speaks to the endpoints: HTTP/1.1 or HTTP/2 requests, or UDP datagrams (UDPRoute backends). */
  protocol: 'HTTP1' | 'HTTP2' | 'UDP';
  /** Ready endpoints, sorted by address then port. */
  endpoints: IrEndpoint[];
  /** TLS to every endpoint (a BackendTLSPolicy targets the Service port); plaintext when absent. */
  tls?: IrUpstreamTls;
}

/** TLS origination towards a backend, as a BackendTLSPolicy's validation asks for it. */
export interface IrUpstreamTls {
  /** The SNI sent (the policy's hostname). */
  sni: string;
  /** PEM bundle of trusted CAs, or 'System' for the system's well-known CAs. */
  trustedCa: string;
  /** The certificate must carry one of these names. */
  subjectAltNames: Array<{ type: 'DNS' | 'URI'; value: string }>;
  /** Presented when the backend asks for a client certificate (the Gateway's spec.tls.backend). */
  clientCertificate?: { certificateChain: string; privateKey: string };
}

export interface IrEndpoint {
  address: string;
  port: number;
}
