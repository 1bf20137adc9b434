import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { ProxyLogger } from './logger';
import type { RoutingState } from './router';
import { formatHostPort } from './upstream/cluster';

/** Envoy's default udp_proxy idle_timeout. */
export const DEFAULT_UDP_IDLE_TIMEOUT_MS = 60_000;

/**
 * Datagrams a session holds while its upstream socket connects (a connected UDP socket is ready
 * after one event-loop turn); more are dropped, as a full socket buffer would drop them.
 */
const MAX_DATAGRAMS_WHILE_CONNECTING = 64;

/** A udp_proxy listener filter (UdpProxyConfig) as the proxy serves it. */
export interface UdpProxySpec {
  /** The cluster the matcher's on_no_match Route (or the deprecated `cluster` field) names. */
  cluster: string;
  /** A session without a datagram either way for this long is closed. */
  idleTimeoutMs: number;
}

/** One downstream source address and the upstream socket its datagrams go out on. */
interface UdpSession {
  key: string;
  downstream: { address: string; port: number };
  cluster: string;
  /** `host:port` of the endpoint picked when the session started. */
  upstreamAddress: string;
  upstream: dgram.Socket;
  connected: boolean;
  pending: Buffer[];
  lastActivity: number;
  idleTimer: NodeJS.Timeout;
}

function socketTypeOf(host: string): dgram.SocketType {
  return net.isIPv6(host) ? 'udp6' : 'udp4';
}

/**
 * A listener with protocol UDP and Envoy's udp_proxy filter. Like Envoy, it keeps one session per
 * downstream source address: the first datagram from an address picks an endpoint of the cluster
 * (the cluster's load balancer, weights included) and opens a UDP socket of its own connected to
 * it; later datagrams from that address go out on that socket, and what the endpoint sends back
 * goes to the address from the listener's socket. A session ends after `idleTimeoutMs` without
 * datagrams, or when its endpoint or cluster is no longer configured (the next datagram starts a
 * new one). A datagram nothing can take (no cluster, no endpoint) is dropped; an ICMP error for an
 * upstream is only logged.
 */
export class UdpProxyListener {
  /** Replaced when the Listener resource changes; each datagram reads it. */
  spec: UdpProxySpec;
  private readonly socket: dgram.Socket;
  private readonly sessions = new Map<string, UdpSession>();
  private boundPort = 0;
  private closed = false;

  constructor(
    readonly host: string,
    readonly port: number,
    /** Replaced when the Listener is renamed (it keeps its socket). */
    public listenerName: string,
    spec: UdpProxySpec,
    private readonly state: () => RoutingState,
    private readonly logger: ProxyLogger,
  ) {
    this.spec = spec;
    this.socket = dgram.createSocket({ type: socketTypeOf(host) });
    this.socket.on('message', (datagram, from) => this.onDatagram(datagram, from));
  }

  get localPort(): number {
    return this.boundPort;
  }

  /** The number of live sessions (one per downstream address). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
  bind(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.socket.once('error', onError);
      this.socket.bind({ address: this.host, port: this.port, exclusive: true }, () => {
        this.socket.off('error', onError);
        this.socket.on('error', (err) => this.logger.error({ err, listener: this.listenerName }, 'udp listener socket error'));
        this.boundPort = this.socket.address().port;
        resolve(this.boundPort);
      });
    });
  }

  private onDatagram(datagram: Buffer, from: dgram.RemoteInfo): void {
    if (this.closed) return;
    const key = formatHostPort(from.address, from.port);
    let session = this.sessions.get(key);
    if (session && !this.stillRouted(session)) {
      this.closeSession(session);
      session = undefined;
    }
    session ??= this.openSession(key, from);
    if (!session) return;
    session.lastActivity = Date.now();
    if (session.connected) this.sendUpstream(session, datagram);
    else if (session.pending.length < MAX_DATAGRAMS_WHILE_CONNECTING) session.pending.push(datagram);
  }

  /** Whether the session's cluster is still the listener's and still has its endpoint. */
  private stillRouted(session: UdpSession): boolean {
    if (session.cluster !== this.spec.cluster) return false;
    const cluster = this.state().clusters.get(session.cluster);
    return cluster?.endpoints.some((e) => e.address === session.upstreamAddress) === true;
  }

  private openSession(key: string, from: dgram.RemoteInfo): UdpSession | undefined {
    const clusterName = this.spec.cluster;
    const cluster = this.state().clusters.get(clusterName);
    if (cluster && this.sessionsOf(clusterName) >= cluster.spec.maxConnections) {
      // Envoy's udp_proxy checks the cluster's connection circuit breaker before a session (upstream_cx_overflow).
      this.logger.debug({ listener: this.listenerName, cluster: clusterName, client: key, maxConnections: cluster.spec.maxConnections }, 'udp sessions at the cluster\'s max_connections: datagram dropped');
      return undefined;
    }
    const endpoint = cluster?.pick();
    if (!cluster || !endpoint) {
      this.logger.debug({ listener: this.listenerName, cluster: clusterName, client: key }, cluster ? 'no healthy upstream: datagram dropped' : 'cluster not found: datagram dropped');
      return undefined;
    }
    const upstream = dgram.createSocket({ type: socketTypeOf(endpoint.host) });
    const session: UdpSession = {
      key,
      downstream: { address: from.address, port: from.port },
      cluster: clusterName,
      upstreamAddress: endpoint.address,
      upstream,
      connected: false,
      pending: [],
      lastActivity: Date.now(),
      idleTimer: setTimeout(() => this.onIdleTimer(session), this.spec.idleTimeoutMs).unref(),
    };
    this.sessions.set(key, session);
    // A connected socket receives only the endpoint's datagrams; an ICMP error for it (port
    // unreachable) surfaces here as ECONNREFUSED and costs only the datagram it answered.
    upstream.on('error', (err) => this.logger.debug({ err, listener: this.listenerName, upstream: endpoint.address, client: key }, 'udp proxy upstream error'));
    upstream.on('message', (reply) => {
      if (this.sessions.get(key) !== session) return;
      session.lastActivity = Date.now();
      this.socket.send(reply, session.downstream.port, session.downstream.address, (err) => {
        if (err) this.logger.debug({ err, listener: this.listenerName, client: key }, 'udp proxy downstream send failed');
      });
    });
    upstream.connect(endpoint.port, endpoint.host, () => {
      if (this.sessions.get(key) !== session) return;
      session.connected = true;
      for (const datagram of session.pending) this.sendUpstream(session, datagram);
      session.pending = [];
    });
    this.logger.debug({ listener: this.listenerName, client: key, cluster: clusterName, upstream: endpoint.address }, 'udp session started');
    return session;
  }

  /** This listener's live sessions to `cluster` (Envoy counts a cluster's across listeners; here each listener counts its own). */
  private sessionsOf(cluster: string): number {
    let count = 0;
    for (const s of this.sessions.values()) if (s.cluster === cluster) count++;
    return count;
  }

  private sendUpstream(session: UdpSession, datagram: Buffer): void {
    session.upstream.send(datagram, (err) => {
      if (err) this.logger.debug({ err, listener: this.listenerName, upstream: session.upstreamAddress, client: session.key }, 'udp proxy upstream send failed');
    });
  }

  /** Idle means no datagram either way for idleTimeoutMs; activity since the timer was armed re-arms it for the rest. */
  private onIdleTimer(session: UdpSession): void {
    if (this.sessions.get(session.key) !== session) return;
    const idleFor = Date.now() - session.lastActivity;
    const timeout = this.spec.idleTimeoutMs;
    if (idleFor >= timeout) {
      this.logger.debug({ listener: this.listenerName, client: session.key }, 'udp session idle: closed');
      this.closeSession(session);
      return;
    }
    session.idleTimer = setTimeout(() => this.onIdleTimer(session), timeout - idleFor).unref();
  }

  private closeSession(session: UdpSession): void {
    if (this.sessions.get(session.key) === session) this.sessions.delete(session.key);
    clearTimeout(session.idleTimer);
    session.pending = [];
    try {
      session.upstream.close();
    } catch {
      // Already closed: nothing left to release.
    }
  }

  /**
   * Stops the listener. UDP has no in-flight request to wait for: a reply that comes after the
   * socket closed could not be delivered from its address anyway, so sessions end at once and the
   * port is free for the listener that replaces this one (`_timeoutMs` is the TCP listeners' grace).
   */
  drain(_timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const session of [...this.sessions.values()]) this.closeSession(session);
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        // Never bound: there is no socket to close.
        resolve();
      }
    });
  }
}
