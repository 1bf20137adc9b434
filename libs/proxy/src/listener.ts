import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { listenOnFd, listenServer } from './listen-server';
import { LinkedList, type LinkedListEntry } from './linked-list';
import * as tls from 'node:tls';
import type { ProxyLogger } from './logger';
import type { DownstreamRequest, DownstreamResponse, ListenerRoutes } from './router';
import type { ServerNameIndex } from './tls/server-names';
import { clientCertificateAccepted, type ClientValidationSpec } from './tls/downstream-tls';
import type { ConnectionAddresses } from './filter-chain-match';
import { describeRedirectedConnection, markRedirected, type IdentityLookup, type RedirectDirection, type TransparentNetwork } from './transparent';

/** The HTTP/2 client connection preface; anything else on the wire is HTTP/1.x. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Links a response to its listener, so the per-request close listener is one shared function. */
const LISTENER = Symbol('listener');
/** A response's place among its listener's responses in flight. */
const IN_FLIGHT = Symbol('inFlight');
type ListenerResponse = http.ServerResponse & { [LISTENER]?: HttpListener; [IN_FLIGHT]?: LinkedListEntry<http.ServerResponse> };

function onHttp1ResponseClose(this: ListenerResponse): void {
  this[LISTENER]?.http1ResponseClosed(this);
}

/** HTTP/1 connections idle this long (up to twice as long) are closed, as node's 5 s keep-alive timeout did. */
const IDLE_SWEEP_INTERVAL_MS = 5_000;

/** A downstream connection the listener accepted, from accept (or the TLS socket's creation) until it closes. */
interface DownstreamConnection {
  readonly socket: net.Socket;
  /** Decided by the first bytes (cleartext) or by ALPN (TLS); undefined until then. */
  protocol: 'http1' | 'http2' | undefined;
  /** HTTP/1 requests in flight (an upgraded connection counts as one until it closes). */
  active: number;
  /** The sweep count when `active` last dropped to 0. */
  idleSince: number;
}

/** Links a socket to its DownstreamConnection, so per-request lookups are a property read. */
const DOWNSTREAM_CONNECTION = Symbol('downstreamConnection');
type TrackedSocket = net.Socket & { [DOWNSTREAM_CONNECTION]?: DownstreamConnection };

/** A TLS handshake not finished by then is abandoned (node's TLS server uses 120 s; Envoy has no default). */
const TLS_HANDSHAKE_TIMEOUT_MS = 15_000;

/**
 * Whether the client's certificate chained to the CA of the context SNI selected. tls.Server sets
 * `authorized` from the handle's verifyError() on 'secure'; a TLSSocket made around a raw socket
 * (as here, to pick the chain per connection) gets no such handler, so ask the handle as it does.
 */
function peerCertificateVerified(socket: tls.TLSSocket): boolean {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  return typeof handle?.verifyError === 'function' && handle.verifyError() === null;
}

/** One TLS filter chain as a listener serves it. */
export interface TlsChain {
  /** Routes for the requests of connections whose SNI selected this chain. */
  routes: ListenerRoutes;
  /** Undefined while its certificate has not arrived: handshakes selecting the chain fail. */
  secureContext: tls.SecureContext | undefined;
  /** ALPN protocols offered, in preference order. */
  alpnProtocols: readonly string[];
  /** Client certificates are requested, and connections whose certificate fails the checks are closed. */
  clientValidation?: ClientValidationSpec;
}

/** Filter chains chosen per connection by its addresses (Envoy's filter_chain_match on ports and IPs). */
export interface ConnectionRouting {
  /** The routes of the chain the connection's addresses select; undefined when no chain (nor a default one) matches. */
  select(addresses: ConnectionAddresses): ListenerRoutes | undefined;
}

/** How a transparent listener binds, and whether its connections are datapath redirects. */
export interface TransparentBinding {
  network: TransparentNetwork;
  /** Set when the listener has the tendril.bpf_metadata filter. */
  redirectDirection: RedirectDirection | undefined;
  /** bpf_metadata is_l7lb: the mesh listener, whose connections' backends the proxy picks (RedirectedConnection.l7LoadBalancer). */
  l7LoadBalancer: boolean;
  /** Identities of redirected connections' addresses: the pinned ipcache, or NPHDS with use_nphds. */
  identityOf: IdentityLookup;
}

export interface HttpListenerOptions {
  /** How often idle HTTP/1 connections are looked for; they close after one to two intervals. */
  idleSweepIntervalMs?: number;
  tlsChains?: ServerNameIndex<TlsChain>;
  connectionRouting?: ConnectionRouting;
  transparent?: TransparentBinding;
}

/** The chain a connection was matched to, and under which routing (re-selected after a config change). */
const CONNECTION_CHAIN = Symbol('connection-chain');
type RoutedSocket = net.Socket & { [CONNECTION_CHAIN]?: { routing: ConnectionRouting; routes: ListenerRoutes } };

function addressesOf(socket: net.Socket): ConnectionAddresses {
  return { localAddress: socket.localAddress ?? '', localPort: socket.localPort ?? 0, remoteAddress: socket.remoteAddress ?? '' };
}

/** How long a redirected connection waits for the client to close first before closing it itself. */
const CLIENT_CLOSE_WAIT_MS = 2_000;

/**
 * A redirected connection carries the pod's own 4-tuple on the host. If the proxy closed it first,
 * that tuple would sit in TIME_WAIT on the host for 60 s and swallow a new SYN from the same client
 * port (the datapath's socket lookup finds the TIME_WAIT socket: bpf/README.md). The proxy closes
 * first when the HTTP/1 server answers `Connection: close` (destroySoon), and when an HTTP/2
 * session ends gracefully: a gRPC client closing its channel sends GOAWAY and closes its socket a
 * moment later, but node's HTTP/2 server ends the socket as soon as the GOAWAY arrives. Both go
 * through socket.end(), so ending is deferred until the client has closed its side — the client
 * then holds the TIME_WAIT, in its own namespace — or until CLIENT_CLOSE_WAIT_MS have passed.
 */
function leaveActiveCloseToClient(socket: net.Socket): void {
  const end = socket.end.bind(socket) as (...args: unknown[]) => net.Socket;
  socket.end = ((...args: unknown[]): net.Socket => {
    if (socket.readableEnded || socket.destroyed) return end(...args);
    // What end() is given (a response, e.g. a refused upgrade's 403) goes out now; only the FIN waits.
    const callback = args.find((arg): arg is () => void => typeof arg === 'function');
    const chunk = typeof args[0] === 'function' ? undefined : (args[0] as string | Uint8Array | undefined | null);
    if (chunk !== undefined && chunk !== null) {
      if (typeof chunk === 'string' && typeof args[1] === 'string') socket.write(chunk, args[1] as BufferEncoding);
      else socket.write(chunk);
    }
    let ended = false;
    const endNow = (): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      if (callback) end(callback);
      else end();
    };
    const timer = setTimeout(endNow, CLIENT_CLOSE_WAIT_MS).unref();
    socket.once('end', endNow);
    socket.once('close', () => clearTimeout(timer));
    // Whatever the client still sends is not read; reading on is how its FIN is seen.
    socket.resume();
    return socket;
  }) as typeof socket.end;
}

/** What a listener hands its traffic to. */
export interface RequestHandler {
  request(req: DownstreamRequest, res: DownstreamResponse, routes: ListenerRoutes): void;
  /** An HTTP/1.1 request asking to switch protocols (other than h2c); the socket is the handler's from now on. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, routes: ListenerRoutes): void;
}

/**
 * One bound listener socket serving HTTP/1.1 and h2c (prior knowledge) on the same port: the
 * first bytes of each connection decide which of node's two HTTP servers takes it (node's
 * cleartext HTTP/2 server cannot fall back to HTTP/1.1 by itself).
 *
 * With `tls` set it terminates TLS instead: the client's SNI selects a filter chain, whose
 * certificate answers the handshake and whose routes serve the connection's requests; ALPN
 * decides between HTTP/2 and HTTP/1.1.
 */
export class HttpListener {
  /** Replaced when the Listener resource changes; requests read it on arrival. On a TLS listener, the routes of connections whose chain is gone. */
  routes: ListenerRoutes;
  /**
   * TLS filter chains by server name; replaced when the Listener or its Secrets change. New
   * handshakes use the new certificates; established connections keep theirs and route with
   * their chain's current routes.
   */
  tls: ServerNameIndex<TlsChain> | undefined;
  /**
   * Cleartext filter chains chosen per connection; replaced when the Listener changes, after which
   * each connection's next request re-selects its chain (and a connection no chain matches any
   * more is closed, as Envoy drains the connections of a removed chain).
   */
  connectionRouting: ConnectionRouting | undefined;
  private readonly transparent: TransparentBinding | undefined;
  private readonly idleSweepIntervalMs: number;
  private readonly server: net.Server;
  private readonly http1: http.Server;
  private readonly http2: http2.Http2Server;
  /** Connections, requests and sessions come and go all the time: LinkedLists, not Sets (see LinkedList). */
  private readonly connections = new LinkedList<DownstreamConnection>();
  /** Counts idle sweeps; a connection idle since an earlier sweep than the last one is closed. */
  private sweeps = 0;
  private idleSweep: NodeJS.Timeout | undefined;
  private readonly http1Responses = new LinkedList<http.ServerResponse>();
  private readonly sessions = new LinkedList<http2.ServerHttp2Session>();
  private draining = false;
  private boundPort = 0;

  constructor(
    readonly host: string,
    readonly port: number,
    routes: ListenerRoutes,
    private readonly handler: RequestHandler,
    private readonly logger: ProxyLogger,
    options: HttpListenerOptions = {},
  ) {
    this.routes = routes;
    this.tls = options.tlsChains;
    this.connectionRouting = options.connectionRouting;
    this.transparent = options.transparent;
    this.idleSweepIntervalMs = options.idleSweepIntervalMs ?? IDLE_SWEEP_INTERVAL_MS;
    // Envoy has no whole-request deadline by default; the route timeout governs upstream time.
    this.http1 = http.createServer({ requestTimeout: 0 }, (req, res) => this.onHttp1Request(req, res));
    // This server never listens itself (it is handed sockets), but node only starts enforcing
    // headersTimeout (slow-header protection) once it sees 'listening'.
    this.http1.emit('listening');
    // Node's keep-alive timeout re-arms a timer on every socket after every response; idle
    // connections are closed by one periodic sweep instead (see sweepIdleConnections).
    this.http1.keepAliveTimeout = 0;
    this.http1.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => this.onHttp1Upgrade(req, socket, head));
    this.http2 = http2.createServer({}, (req, res) => {
      const routes = this.routesFor(req.stream.session?.socket);
      if (routes) this.handler.request(req, res, routes);
      else req.stream.session?.destroy();
    });
    this.http2.on('session', (session) => {
      const entry = this.sessions.add(session);
      session.once('close', () => this.sessions.remove(entry));
      if (this.draining) session.close();
    });
    this.http2.on('sessionError', (err) => this.logger.debug({ err, listener: this.routes.listenerName }, 'downstream HTTP/2 session error'));
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  /** The port actually bound (differs from `port` when that is 0). */
  get localPort(): number {
    return this.boundPort;
  }

  /** Rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
  async bind(): Promise<number> {
    const onSocketError = (err: Error): void => this.logger.error({ err, listener: this.routes.listenerName }, 'listener socket error');
    if (this.transparent) {
      const fd = await this.transparent.network.listenerFd(this.host, this.port);
      this.boundPort = await listenOnFd(this.server, fd, onSocketError);
    } else {
      this.boundPort = await listenServer(this.server, this.host, this.port, onSocketError);
    }
    this.idleSweep = setInterval(() => this.sweepIdleConnections(), this.idleSweepIntervalMs).unref();
    return this.boundPort;
  }

  /**
   * The routes for requests on `socket`: its connection chain's, its TLS chain's (by the SNI it was
   * set up with), else the listener's. Undefined when the connection's chain is gone.
   */
  private routesFor(socket: net.Socket | tls.TLSSocket | undefined): ListenerRoutes | undefined {
    const chain = socket && (socket as RoutedSocket)[CONNECTION_CHAIN];
    if (chain && socket) {
      if (chain.routing === this.connectionRouting) return chain.routes;
      const routes = this.connectionRouting?.select(addressesOf(socket));
      if (routes && this.connectionRouting) (socket as RoutedSocket)[CONNECTION_CHAIN] = { routing: this.connectionRouting, routes };
      return routes;
    }
    if (!this.tls || !(socket instanceof tls.TLSSocket)) return this.routes;
    return this.tls.select(socket.servername || undefined)?.routes ?? this.routes;
  }

  private onConnection(socket: net.Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const routing = this.connectionRouting;
    if (routing) {
      const routes = routing.select(addressesOf(socket));
      if (!routes) {
        // No filter chain matches: Envoy closes the connection.
        socket.destroy();
        return;
      }
      (socket as RoutedSocket)[CONNECTION_CHAIN] = { routing, routes };
    }
    const redirectDirection = this.transparent?.redirectDirection;
    if (this.transparent && redirectDirection) {
      const redirected = describeRedirectedConnection(socket, this.transparent.identityOf, redirectDirection, this.transparent.l7LoadBalancer);
      if (!redirected) {
        socket.destroy();
        return;
      }
      markRedirected(socket, redirected);
    }
    // Every transparent connection (policy redirect or mesh) carries the client's own 4-tuple.
    if (this.transparent) leaveActiveCloseToClient(socket);
    if (this.tls) this.terminateTls(socket, this.tls);
    else this.serveCleartext(socket);
  }

  /** Keeps count of a connection (the TLS socket, for a TLS one) until it closes. */
  private track(socket: net.Socket): DownstreamConnection {
    const connection: DownstreamConnection = { socket, protocol: undefined, active: 0, idleSince: this.sweeps };
    (socket as TrackedSocket)[DOWNSTREAM_CONNECTION] = connection;
    const entry = this.connections.add(connection);
    socket.once('close', () => this.connections.remove(entry));
    socket.on('error', () => undefined);
    return connection;
  }

  /** Hands the connection to the HTTP/1 or HTTP/2 server once its protocol is known. */
  private serveProtocol(connection: DownstreamConnection, protocol: 'http1' | 'http2'): void {
    connection.protocol = protocol;
    connection.idleSince = this.sweeps;
    if (protocol === 'http2') this.http2.emit('connection', connection.socket);
    else this.http1.emit('connection', connection.socket);
  }

  private terminateTls(raw: net.Socket, chains: ServerNameIndex<TlsChain>): void {
    raw.setNoDelay(true);
    raw.on('error', () => undefined);
    // requestCert is per socket, before SNI picks the chain: ask whenever a chain of the listener
    // validates; each chain's own checks run once the handshake tells which chain it was.
    const requestCert = chains.some((chain) => chain.clientValidation !== undefined);
    const socket = new tls.TLSSocket(raw, {
      isServer: true,
      requestCert,
      rejectUnauthorized: false,
      // The context for clients that send no SNI: the chain without server_names. Without one the
      // handshake fails for lack of a certificate, as Envoy closes a connection no chain matches.
      secureContext: chains.select(undefined)?.secureContext,
      SNICallback: (serverName, callback) => {
        const context = chains.select(serverName)?.secureContext;
        if (context) callback(null, context);
        else callback(new Error(`no filter chain with a certificate serves ${JSON.stringify(serverName)}`));
      },
      ALPNCallback: ({ servername, protocols }) => {
        const offered = chains.select(servername || undefined)?.alpnProtocols ?? [];
        // The server's preference order wins, as in Envoy (BoringSSL) and node's own ALPNProtocols.
        return offered.find((p) => protocols.includes(p)) ?? (offered.length === 0 ? protocols.find((p) => p === 'http/1.1') : undefined);
      },
    });
    const connection = this.track(socket);
    const handshakeTimer = setTimeout(() => socket.destroy(), TLS_HANDSHAKE_TIMEOUT_MS).unref();
    socket.once('close', () => clearTimeout(handshakeTimer));
    socket.once('secure', () => {
      clearTimeout(handshakeTimer);
      // What node's tls.Server does before 'secureConnection'; an HTTP/2 session waits for the
      // handshake (a 'secureConnect' a server socket never emits) while this is still set.
      (socket as tls.TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      if (this.draining) {
        socket.end();
        return;
      }
      const validation = chains.select(socket.servername || undefined)?.clientValidation;
      if (validation) {
        const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
        if (!clientCertificateAccepted(validation, presented, presented && peerCertificateVerified(socket))) {
          // Envoy fails such a handshake; with TLS 1.3 the client learns it when it next reads.
          socket.destroy();
          return;
        }
      }
      this.serveProtocol(connection, socket.alpnProtocol === 'h2' ? 'http2' : 'http1');
    });
  }

  private serveCleartext(socket: net.Socket): void {
    const connection = this.track(socket);
    socket.setNoDelay(true);
    let seen: Buffer | undefined;
    const onData = (chunk: Buffer): void => {
      seen = seen ? Buffer.concat([seen, chunk]) : chunk;
      const compared = Math.min(seen.length, H2_PREFACE.length);
      const isHttp2 = seen.subarray(0, compared).equals(H2_PREFACE.subarray(0, compared));
      if (isHttp2 && compared < H2_PREFACE.length) return; // need more bytes to decide
      socket.off('data', onData);
      socket.pause();
      socket.unshift(seen);
      // The HTTP/2 session reads the unshifted bytes itself when it takes the socket.
      this.serveProtocol(connection, isHttp2 ? 'http2' : 'http1');
      if (!isHttp2) socket.resume();
    };
    socket.on('data', onData);
  }

  /** Closes HTTP/1 connections that have had no request in flight since before the previous sweep. */
  private sweepIdleConnections(): void {
    const sweep = ++this.sweeps;
    for (const connection of this.connections) {
      if (connection.protocol === 'http1' && connection.active === 0 && sweep - connection.idleSince >= 2) connection.socket.destroy();
    }
  }

  private onHttp1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    const connection = (socket as TrackedSocket)[DOWNSTREAM_CONNECTION];
    if (connection) connection.active++;
    // While draining, each response closes its connection ("Connection: close").
    if (this.draining) res.shouldKeepAlive = false;
    (res as ListenerResponse)[LISTENER] = this;
    (res as ListenerResponse)[IN_FLIGHT] = this.http1Responses.add(res);
    res.on('close', onHttp1ResponseClose);
    const routes = this.routesFor(socket);
    if (routes) this.handler.request(req, res, routes);
    else socket.destroy();
  }

  /** An HTTP/1 response is done (sent or abandoned); a draining connection closes once idle. */
  http1ResponseClosed(res: ListenerResponse): void {
    const entry = res[IN_FLIGHT];
    if (entry) this.http1Responses.remove(entry);
    res[IN_FLIGHT] = undefined;
    const connection = (res.req.socket as TrackedSocket | null)?.[DOWNSTREAM_CONNECTION];
    if (!connection) return;
    if (--connection.active === 0) {
      connection.idleSince = this.sweeps;
      if (this.draining) connection.socket.end();
    }
  }

  private onHttp1Upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    if ((req.headers.upgrade ?? '').trim().toLowerCase() === 'h2c') {
      // Envoy declines h2c upgrades and serves the request over HTTP/1.1. Node has already parsed
      // it as an upgrade, so it is replayed without the upgrade headers to a fresh parser, which
      // keeps the connection usable for keep-alive.
      const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i].toLowerCase();
        if (name === 'upgrade' || name === 'http2-settings' || name === 'connection') continue;
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      socket.unshift(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]));
      this.http1.emit('connection', socket);
      socket.resume();
      return;
    }
    if (this.draining) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    // An upgraded connection is busy until it closes; draining waits for it (up to the deadline).
    const connection = (socket as TrackedSocket)[DOWNSTREAM_CONNECTION];
    if (connection) connection.active++;
    const routes = this.routesFor(socket);
    if (routes) this.handler.upgrade(req, socket, head, routes);
    else socket.destroy();
  }

  /**
   * Stops accepting connections, lets in-flight requests finish (HTTP/2 sessions get GOAWAY, HTTP/1
   * connections close after their current response), and force-closes what remains after `timeoutMs`.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    clearInterval(this.idleSweep);
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Stops the HTTP/1 server's timeout checks; its "not running" error is expected and ignored.
    this.http1.close(() => undefined);
    for (const session of this.sessions) session.close();
    for (const res of this.http1Responses) if (!res.headersSent) res.shouldKeepAlive = false;
    for (const connection of this.connections) {
      // Idle HTTP/1 connections and connections that never sent a byte close now.
      if (connection.protocol === undefined || (connection.protocol === 'http1' && connection.active === 0)) connection.socket.end();
    }
    const deadline = setTimeout(() => {
      for (const connection of this.connections) connection.socket.destroy();
    }, timeoutMs);
    await serverClosed;
    clearTimeout(deadline);
  }
}
