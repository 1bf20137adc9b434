import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { KAFKA_API_KEYS, KAFKA_INVALID_MESSAGE } from '@tendril/policy';
import { KafkaPolicyRelay } from './kafka-policy-relay';
import type { L7Decision } from './l7-policy';
import { listenOnFd, listenServer } from './listen-server';
import { LinkedList } from './linked-list';
import type { TransparentBinding } from './listener';
import type { ProxyLogger } from './logger';
import type { RoutingState } from './router';
import { describeRedirectedConnection, markRedirected, redirectedConnectionOf, type RedirectedConnection } from './transparent';
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
  /** Set by a tendril.kafkapolicy filter before the tcp_proxy: every request frame is checked (kafka-policy-relay.ts). */
  kafkaPolicy?: { isIngress: boolean };
  /**
   * The chain terminates TLS with this context and relays the plaintext (TLSRoute Terminate mode);
   * undefined context: its Secret has not arrived, and its connections are closed until it does.
   */
  terminate?: { secureContext: tls.SecureContext | undefined };
}

/** API key names by number, for the log. */
const KAFKA_API_NAMES = new Map(Object.entries(KAFKA_API_KEYS).map(([name, key]) => [key, name]));

/** An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d. */
function stripMapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
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
  /** Connections come and go all the time: a LinkedList, not a Set (see LinkedList). */
  private readonly connections = new LinkedList<net.Socket>();
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
    /** For a transparent listener: how it binds, and (with tendril.bpf_metadata) that its connections are datapath redirects. */
    private readonly transparent?: TransparentBinding,
  ) {
    this.chains = chains;
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  get localPort(): number {
    return this.boundPort;
  }

  /** Rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
  async bind(): Promise<number> {
    const onSocketError = (err: Error): void => this.logger.error({ err, listener: this.listenerName }, 'listener socket error');
    if (this.transparent) {
      const fd = await this.transparent.network.listenerFd(this.host, this.port);
      this.boundPort = await listenOnFd(this.server, fd, onSocketError);
    } else {
      this.boundPort = await listenServer(this.server, this.host, this.port, onSocketError);
    }
    return this.boundPort;
  }

  private onConnection(downstream: net.Socket): void {
    if (this.draining) {
      downstream.destroy();
      return;
    }
    const entry = this.connections.add(downstream);
    downstream.once('close', () => this.connections.remove(entry));
    downstream.on('error', () => undefined);
    downstream.setNoDelay(true);
    const redirectDirection = this.transparent?.redirectDirection;
    if (this.transparent && redirectDirection) {
      const redirected = describeRedirectedConnection(downstream, this.transparent.identityOf, redirectDirection);
      if (!redirected) {
        downstream.destroy();
        return;
      }
      markRedirected(downstream, redirected);
    }
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
    const redirected = redirectedConnectionOf(downstream);
    // An ORIGINAL_DST cluster's endpoint is where the pod was connecting; the connection carries the client's identity in its mark.
    const endpoint = cluster?.spec.originalDestination ? redirected?.originalDestination : cluster?.pick(downstream);
    if (!cluster || !endpoint) {
      this.logger.debug({ listener: this.listenerName, cluster: clusterName }, cluster ? 'no healthy upstream' : 'cluster not found');
      downstream.destroy();
      return;
    }
    if (chain.kafkaPolicy && !redirected) {
      this.logger.error({ listener: this.listenerName }, 'tendril.kafkapolicy on a connection that is no datapath redirect: closed');
      downstream.destroy();
      return;
    }
    // A cluster with a transport_socket gets the bytes inside a TLS session of its own (TLS origination).
    const upstreamTls = cluster.spec.tls;
    const network = this.transparent?.network;
    let upstream: net.Socket;
    if (upstreamTls) upstream = tls.connect({ host: endpoint.host, port: endpoint.port, ...tlsConnectOptions(upstreamTls) });
    else {
      // A redirected connection goes on from a socket marked with the client's identity.
      upstream = redirected && network ? network.markedSocket(redirected.direction, redirected.sourceIdentity) : new net.Socket();
      upstream.connect({ host: endpoint.host, port: endpoint.port });
    }
    upstream.setNoDelay(true);
    const connectTimer = setTimeout(() => upstream.destroy(), cluster.spec.connectTimeoutMs);
    upstream.on('error', (err) => {
      this.logger.debug({ err, listener: this.listenerName, upstream: `${endpoint.host}:${endpoint.port}` }, 'tcp proxy upstream error');
      downstream.destroy();
    });
    downstream.once('close', () => upstream.destroy());
    upstream.once('close', () => downstream.destroy());
    upstream.once(upstreamTls ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      if (chain.kafkaPolicy && redirected) {
        this.relayKafka(downstream, upstream, redirected, chain.kafkaPolicy.isIngress);
      } else {
        if (initial.length > 0) upstream.write(initial);
        downstream.pipe(upstream);
        upstream.pipe(downstream);
      }
      downstream.resume();
    });
  }

  /** The tendril.kafkapolicy filter: each request frame checked against the endpoint's NPDS Kafka rules for the remote identity. */
  private relayKafka(downstream: net.Socket, upstream: net.Socket, redirected: RedirectedConnection, isIngress: boolean): void {
    const direction = isIngress ? 'ingress' : 'egress';
    const endpointIp = isIngress ? redirected.originalDestination.host : stripMapped(downstream.remoteAddress ?? '');
    const port = redirected.originalDestination.port;
    const remoteIdentity = isIngress ? redirected.sourceIdentity : redirected.destinationIdentity;
    const peer = { listener: this.listenerName, client: stripMapped(downstream.remoteAddress ?? ''), destination: `${redirected.originalDestination.host}:${port}`, remoteIdentity };
    new KafkaPolicyRelay(downstream, upstream, {
      decide: (request): L7Decision => {
        const policies = this.state().policies;
        if (!policies) return { allowed: false, reason: 'no L7 policy received yet', edits: [], mismatchedHeaders: [] };
        return policies.decideKafka(direction, endpointIp, port, remoteIdentity, request.facts);
      },
      onRequest: (record) => {
        const kafka = { apiKey: KAFKA_API_NAMES.get(record.apiKey) ?? record.apiKey, apiVersion: record.apiVersion, correlationId: record.correlationId, clientId: record.clientId, topics: record.topics };
        if (record.decision.allowed) this.logger.debug({ ...peer, kafka, verdict: 'forwarded', reason: record.decision.reason }, 'kafka request');
        else this.logger.info({ ...peer, kafka, verdict: 'denied', reason: record.decision.reason }, 'kafka request denied');
      },
      onInvalid: (err) => this.logger.warn({ ...peer, kafkaError: KAFKA_INVALID_MESSAGE, err: err.message }, 'malformed kafka request: connection closed'),
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
