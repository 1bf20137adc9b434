import * as dgram from 'node:dgram';
import * as net from 'node:net';

/**
 * What the conformance echo image's UDP server answers every datagram with (its EchoResponse): the
 * request as received, then where it runs. Field order is the Go struct's.
 */
export interface UdpEchoResponse {
  request: string;
  namespace: string;
  ingress: string;
  service: string;
  pod: string;
}

export interface UdpEchoServerOptions {
  host?: string;
  /** Default 8080, as the image's UDP_PORT. */
  port?: number;
  /** Default: the pod's environment (NAMESPACE, INGRESS_NAME, SERVICE_NAME, POD_NAME). */
  context?: Partial<Omit<UdpEchoResponse, 'request'>>;
  /** Receives the image's log lines ("Received UDP … from …"). */
  log?: (line: string) => void;
}

export interface UdpEchoServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** The echo image reads datagrams into a 1024-byte buffer: the rest of a longer one is lost. */
const READ_BUFFER_BYTES = 1024;

/**
 * Go's json.Marshal escaping, which the image's responses have: <, > and & as \u003c, \u003e and
 * \u0026, U+2028/U+2029 escaped; invalid UTF-8 was already replaced by U+FFFD on decoding.
 */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The conformance echo image's UDP echo server (echo-basic with UDP_ECHO_SERVER set): every datagram
 * is answered, to its sender, with JSON naming the request and the pod. The image listens on all
 * addresses; here `host` (the pod IP) is bound, since local pods share the host's ports.
 */
export async function startUdpEchoServer(options: UdpEchoServerOptions = {}): Promise<UdpEchoServer> {
  const host = options.host ?? '127.0.0.1';
  const context = {
    namespace: options.context?.namespace ?? process.env['NAMESPACE'] ?? '',
    ingress: options.context?.ingress ?? process.env['INGRESS_NAME'] ?? '',
    service: options.context?.service ?? process.env['SERVICE_NAME'] ?? '',
    pod: options.context?.pod ?? process.env['POD_NAME'] ?? '',
  };
  const log = options.log ?? (() => undefined);
  const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
  socket.on('message', (datagram, from) => {
    const request = datagram.subarray(0, READ_BUFFER_BYTES).toString('utf8');
    log(`Received UDP ${request} from ${from.address}:${from.port}`);
    const response: UdpEchoResponse = { request, ...context };
    socket.send(goJson(response), from.port, from.address, (err) => {
      if (err) log(`Error writing UDP: ${err.message}`);
    });
  });
  socket.on('error', (err) => log(`Error reading UDP: ${err.message}`));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port: options.port ?? 8080, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    host,
    port: socket.address().port,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
