import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';

/** The first line the conformance TCP echo server writes on every connection. */
export const TCP_ECHO_WELCOME = 'Gateway API Test TCP Server\n';

/** What the server knows of the connection: its answer to TEST (the echo image's TCPAssertions). */
export interface TcpEchoAssertions {
  namespace: string;
  ingress: string;
  service: string;
  pod: string;
  tcpport: string;
  tlsport?: string;
  isTLS: boolean;
  /** Only on TLS connections; names as Go's crypto/tls writes them ("TLS 1.3"). */
  tls?: { version: string; serverName: string; negotiatedProtocol?: string; cipherSuite: string };
}

export interface TcpEchoServerOptions {
  host?: string;
  /** Plain TCP port (default 0: any). */
  tcpPort?: number;
  /** A TLS port as well, serving this certificate (PEM). */
  tls?: { cert: string; key: string; port?: number };
  /** Default: the pod's environment (NAMESPACE, INGRESS_NAME, SERVICE_NAME, POD_NAME). */
  context?: Partial<Pick<TcpEchoAssertions, 'namespace' | 'ingress' | 'service' | 'pod'>>;
}

export interface TcpEchoServer {
  host: string;
  tcpPort: number;
  tlsPort?: number;
  close(): Promise<void>;
}

/** Go's tls.VersionName for what Node's getProtocol() reports ("TLSv1.3" → "TLS 1.3"). */
function goTlsVersion(protocol: string | null): string {
  const m = /^TLSv(\d)\.(\d)$/.exec(protocol ?? '');
  return m ? `TLS ${m[1]}.${m[2]}` : (protocol ?? '');
}

/**
 * The conformance echo image's TCP echo server (TCP_ECHO_SERVER set): on each connection it writes
 * the welcome line, then answers line by line: PING → PONG, IS_TLS → true/false, TEST → one line of
 * JSON saying where it runs and, over TLS, the negotiated version, SNI and cipher suite. The TLS
 * port completes the handshake before writing anything.
 */
export async function startTcpEchoServer(options: TcpEchoServerOptions = {}): Promise<TcpEchoServer> {
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  let tlsPort: number | undefined;
  const context = {
    namespace: options.context?.namespace ?? process.env['NAMESPACE'] ?? '',
    ingress: options.context?.ingress ?? process.env['INGRESS_NAME'] ?? '',
    service: options.context?.service ?? process.env['SERVICE_NAME'] ?? '',
    pod: options.context?.pod ?? process.env['POD_NAME'] ?? '',
  };
  const serve = (socket: net.Socket, tcpport: string): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const secure = socket instanceof tls.TLSSocket ? socket : undefined;
    const assertions: TcpEchoAssertions = {
      ...context,
      tcpport,
      ...(tlsPort !== undefined ? { tlsport: String(tlsPort) } : {}),
      isTLS: secure !== undefined,
      ...(secure
        ? {
            tls: {
              version: goTlsVersion(secure.getProtocol()),
              serverName: typeof secure.servername === 'string' ? secure.servername : '',
              ...(secure.alpnProtocol ? { negotiatedProtocol: secure.alpnProtocol } : {}),
              cipherSuite: secure.getCipher().standardName,
            },
          }
        : {}),
    };
    socket.write(TCP_ECHO_WELCOME);
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).replace(/\r$/, '');
        buffered = buffered.slice(newline + 1);
        if (line === 'TEST') socket.write(`${JSON.stringify(assertions)}\n`);
        else if (line === 'IS_TLS') socket.write(`${assertions.isTLS}\n`);
        else if (line === 'PING') socket.write('PONG\n');
      }
    });
  };
  const listen = (server: net.Server, port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`TCP echo server cannot listen on ${host}:${port}: ${err.message}`)));
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  const plain = net.createServer();
  const tcpPort = await listen(plain, options.tcpPort ?? 0);
  plain.on('connection', (socket) => serve(socket, String(tcpPort)));
  let secureServer: tls.Server | undefined;
  if (options.tls) {
    secureServer = tls.createServer({ cert: options.tls.cert, key: options.tls.key });
    secureServer.on('secureConnection', (socket) => serve(socket, String(tcpPort)));
    secureServer.on('tlsClientError', () => undefined);
    try {
      tlsPort = await listen(secureServer, options.tls.port ?? 0);
    } catch (err) {
      plain.close();
      throw err;
    }
  }
  const closeServer = (s: net.Server | undefined): Promise<void> => new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  return {
    host,
    tcpPort,
    ...(tlsPort !== undefined ? { tlsPort } : {}),
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([closeServer(plain), closeServer(secureServer)]);
    },
  };
}
