import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { listenServer } from './listen-server';
import type { ProxyLogger } from './logger';
import type { RoutingState } from './router';
import { readClientHello } from './tls/client-hello';
import type { ServerNameIndex } from './tls/server-names';
import { tlsConnectOptions } from './upstream/upstream-tls';

/**
 * The socket as a stream that first yields `initial` (bytes already read from it) and then the rest,
 * for a TLS server that must see the whole handshake.
 */
function withReplayedBytes(socket: net.Socket, initial: Buffer): Duplex {
  const duplex = new Duplex({
    read: () => {
      socket.resume();
    },
    write: (chunk: Buffer, _encoding, callback) => {
      socket.write(chunk, callback);
    },
    final: (callback) => {
      socket.end();
      callback();
    },
    destroy: (err, callback) => {
      socket.destroy();
      callback(err);
    },
  });
  if (initial.length > 0) duplex.push(initial);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.once('end', () => duplex.push(null));
  socket.once('close', () => duplex.destroy());
  socket.on('error', () => duplex.destroy());
  return duplex;
}

/** How long a client may take to send its ClientHello when the listener routes by SNI. */
const CLIENT_HELLO_TIMEOUT_MS = 15_000;

/**
 * One tcp_proxy filter chain: connections it takes go, byte for byte, to an endpoint of one of its
 * clusters, picked at random by weight when the connection opens (a single `cluster` is one entry).
 */
export interface TcpProxyChain {
  name: string;
  /** Weights are positive integers. */
  clusters: ReadonlyArray<{ name: string; weight: number }>;
  /**
   * The chain terminates TLS with this context and relays the plaintext (TLSRoute Terminate mode);
   * undefined context: its Secret has not arrived, and its connections are closed until it does.
   */
  terminate?: { secureContext: tls.SecureContext | undefined };
}

/** The cluster a new connection of the chain goes to: random, in proportion to the weights. */
function pickWeightedCluster(chain: TcpProxyChain, random: () => number = Math.random): string {
  const total = chain.clusters.reduce((sum, c) => sum + c.weight, 0);
  let point = random() * total;
  for (const c of chain.clusters) {
    point -= c.weight;
    if (point < 0) return c.name;
  }
  return chain.clusters[chain.clusters.length - 1].name;
}

export interface TcpProxyChains {
  byServerName: ServerNameIndex<TcpProxyChain>;
  /** Some chain matches on server_names, so the ClientHello is read (not consumed) before choosing. */
  inspectsServerName: boolean;
}

/**
 * A listener whose filter chains are Envoy tcp_proxy filters: TLS passthrough (the chain chosen by
 * the SNI of the client's ClientHello, the TLS session left to the backend) or plain TCP proxying.
 */
export class TcpProxyListener {
  /** Replaced when the Listener resource changes; each new connection reads it. */
  chains: TcpProxyChains;
  private readonly server: net.Server;
  private readonly connections = new Set<net.Socket>();
  private boundPort = 0;
  private draining = false;

  constructor(
    readonly host: string,
    readonly port: number,
    /** Replaced when the Listener is renamed (it keeps its socket). */
    public listenerName: string,
    chains: TcpProxyChains,
    private readonly state: () => RoutingState,
    private readonly logger: ProxyLogger,
  ) {
    this.chains = chains;
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  get localPort(): number {
    return this.boundPort;
  }

  /** Rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
  async bind(): Promise<number> {
    this.boundPort = await listenServer(this.server, this.host, this.port, (err) => this.logger.error({ err, listener: this.listenerName }, 'listener socket error'));
    return this.boundPort;
  }

  private onConnection(downstream: net.Socket): void {
    if (this.draining) {
      downstream.destroy();
      return;
    }
    this.connections.add(downstream);
    downstream.once('close', () => this.connections.delete(downstream));
    downstream.on('error', () => undefined);
    downstream.setNoDelay(true);
    const chains = this.chains;
    if (!chains.inspectsServerName) {
      this.forward(downstream, chains.byServerName.select(undefined), Buffer.alloc(0));
      return;
    }
    let seen: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => downstream.destroy(), CLIENT_HELLO_TIMEOUT_MS).unref();
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const hello = readClientHello(seen);
      if (hello.kind === 'incomplete') return;
      clearTimeout(timer);
      downstream.off('data', onData);
      downstream.off('end', onEnd);
      downstream.pause();
      // Like Envoy's tls_inspector, a connection that is not TLS goes to the chain without server names.
      const serverName = hello.kind === 'tls' ? hello.serverName : undefined;
      this.forward(downstream, chains.byServerName.select(serverName), seen, serverName);
    };
    const onEnd = (): void => {
      clearTimeout(timer);
      downstream.destroy();
    };
    downstream.on('data', onData);
    downstream.once('end', onEnd);
  }

  /** Relays the connection through the chain: terminating its TLS first when the chain says so; no chain closes the connection, as Envoy does. */
  private forward(downstream: net.Socket, chain: TcpProxyChain | undefined, initial: Buffer, serverName?: string): void {
    if (!chain) {
      this.logger.debug({ listener: this.listenerName, serverName }, 'no filter chain matches the connection');
      downstream.destroy();
      return;
    }
    if (!chain.terminate) {
      this.relay(downstream, chain, initial);
      return;
    }
    const secureContext = chain.terminate.secureContext;
    if (!secureContext) {
      downstream.destroy();
      return;
    }
    // The ClientHello already read to pick the chain is handed to the TLS server first.
    const secure = new tls.TLSSocket(withReplayedBytes(downstream, initial), { isServer: true, secureContext });
    const timer = setTimeout(() => secure.destroy(), CLIENT_HELLO_TIMEOUT_MS).unref();
    secure.on('error', () => secure.destroy());
    secure.once('close', () => downstream.destroy());
    secure.once('secure', () => {
      clearTimeout(timer);
      this.relay(secure, chain, Buffer.alloc(0));
    });
  }

  /** Connects to an endpoint of the chain's cluster and relays both ways; no endpoint closes the connection, as Envoy does. */
  private relay(downstream: net.Socket, chain: TcpProxyChain, initial: Buffer): void {
    const clusterName = pickWeightedCluster(chain);
    const cluster = this.state().clusters.get(clusterName);
    const endpoint = cluster?.pick(downstream);
    if (!cluster || !endpoint) {
      this.logger.debug({ listener: this.listenerName, cluster: clusterName }, cluster ? 'no healthy upstream' : 'cluster not found');
      downstream.destroy();
      return;
    }
    // A cluster with a transport_socket gets the bytes inside a TLS session of its own (TLS origination).
    const upstreamTls = cluster.spec.tls;
    const upstream = upstreamTls ? tls.connect({ host: endpoint.host, port: endpoint.port, ...tlsConnectOptions(upstreamTls) }) : net.connect({ host: endpoint.host, port: endpoint.port });
    upstream.setNoDelay(true);
    const connectTimer = setTimeout(() => upstream.destroy(), cluster.spec.connectTimeoutMs);
    upstream.on('error', (err) => {
      this.logger.debug({ err, listener: this.listenerName, upstream: endpoint.address }, 'tcp proxy upstream error');
      downstream.destroy();
    });
    downstream.once('close', () => upstream.destroy());
    upstream.once('close', () => downstream.destroy());
    upstream.once(upstreamTls ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      if (initial.length > 0) upstream.write(initial);
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      downstream.resume();
    });
  }

  /** Stops accepting connections; established ones may finish until `timeoutMs`, then are closed. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const deadline = setTimeout(() => {
      for (const socket of this.connections) socket.destroy();
    }, timeoutMs);
    await closed;
    clearTimeout(deadline);
  }
}
