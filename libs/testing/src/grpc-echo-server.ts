import * as grpc from '@grpc/grpc-js';
import { grpcEchoFullMethod, grpcEchoServiceDefinition, type GrpcEchoContext, type GrpcEchoHeader, type GrpcEchoMethod, type GrpcEchoResponse } from '@tendril/api-gateway';

export interface GrpcEchoServerOptions {
  /** Default: 0 (any free port). */
  port?: number;
  host?: string;
  /** Default: the pod's environment (NAMESPACE, INGRESS_NAME, SERVICE_NAME, POD_NAME), as the conformance echo image reads it. */
  context?: Partial<GrpcEchoContext>;
  /**
   * Where the per-call line "Received over plaintext: {}" goes (the conformance echo image prints
   * it). Default: standard output when running as a pod (POD_NAME set), else nowhere.
   */
  requestLog?: ((line: string) => void) | false;
  /**
   * A second port serving the same service over TLS with this certificate (PEM), as the echo image
   * does on 8443 with TLS_SERVER_CERT and TLS_SERVER_PRIV_KEY set. Default: none.
   */
  tls?: { cert: string; key: string; port?: number };
}

export interface GrpcEchoServer {
  host: string;
  port: number;
  /** The TLS port, when `tls` asked for one. */
  tlsPort?: number;
  /** host:port, as a gRPC client dials it. */
  address: string;
  close(): Promise<void>;
}

function contextFromEnvironment(overrides: Partial<GrpcEchoContext> = {}): GrpcEchoContext {
  return {
    namespace: overrides.namespace ?? process.env['NAMESPACE'] ?? '',
    ingress: overrides.ingress ?? process.env['INGRESS_NAME'] ?? '',
    serviceName: overrides.serviceName ?? process.env['SERVICE_NAME'] ?? '',
    pod: overrides.pod ?? process.env['POD_NAME'] ?? '',
  };
}

/**
 * The request metadata as the echo image reports it: one entry per value, with the :authority
 * pseudo-header (grpc-go's incoming metadata carries it; grpc-js keeps it apart).
 */
function seenHeaders(call: grpc.ServerUnaryCall<unknown, unknown>): GrpcEchoHeader[] {
  const headers: GrpcEchoHeader[] = [{ key: ':authority', value: call.getHost() }];
  for (const [key, values] of Object.entries(call.metadata.toJSON())) {
    for (const value of values) headers.push({ key, value: Buffer.isBuffer(value) ? value.toString('base64') : value });
  }
  return headers;
}

/**
 * Starts the conformance suite's gRPC echo server (plaintext HTTP/2): Echo and EchoTwo answer with
 * what the server saw of the call (fully qualified method, metadata, :authority) and where it runs
 * (namespace, pod, …), so a test can tell which backend a Gateway routed a call to; EchoThree is
 * left unimplemented and ends with UNIMPLEMENTED.
 */
export async function startGrpcEchoServer(options: GrpcEchoServerOptions = {}): Promise<GrpcEchoServer> {
  const context = contextFromEnvironment(options.context);
  const requestLog = options.requestLog ?? (process.env['POD_NAME'] ? (line: string) => process.stdout.write(`${line}\n`) : false);
  // Which port a call came in on is a per-server fact; grpc-js does not tell handlers, so each port gets a server of its own.
  const echo =
    (method: GrpcEchoMethod, transport: 'plaintext' | 'TLS'): grpc.handleUnaryCall<unknown, GrpcEchoResponse> =>
    (call, callback) => {
      if (requestLog) requestLog(`Received over ${transport}: {}`);
      callback(null, {
        assertions: { fullyQualifiedMethod: grpcEchoFullMethod(method), headers: seenHeaders(call), authority: call.getHost(), context, tlsAssertions: null },
        request: {},
      });
    };
  const host = options.host ?? '127.0.0.1';
  const bindHost = host.includes(':') ? `[${host}]` : host;
  const serve = async (transport: 'plaintext' | 'TLS', port: number, credentials: grpc.ServerCredentials): Promise<{ server: grpc.Server; port: number }> => {
    const server = new grpc.Server();
    // EchoThree is absent on purpose: grpc-js answers a method without a handler with UNIMPLEMENTED.
    server.addService(grpcEchoServiceDefinition(), { Echo: echo('Echo', transport), EchoTwo: echo('EchoTwo', transport) });
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${bindHost}:${port}`, credentials, (err, p) => (err ? reject(new Error(`gRPC echo server cannot listen on ${bindHost}:${port}${transport === 'TLS' ? ' (TLS)' : ''}: ${err.message}`)) : resolve(p))),
    );
    return { server, port: bound };
  };
  const plain = await serve('plaintext', options.port ?? 0, grpc.ServerCredentials.createInsecure());
  const secure = options.tls
    ? await serve('TLS', options.tls.port ?? 0, grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) }], false)).catch(async (err: Error) => {
        plain.server.forceShutdown();
        throw err;
      })
    : undefined;
  const shutdown = (server: grpc.Server): Promise<void> =>
    new Promise<void>((resolve) => {
      // Calls in flight get a short grace; a client holding its connection open must not keep the pod alive.
      const force = setTimeout(() => server.forceShutdown(), 1_000);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  return {
    host,
    port: plain.port,
    ...(secure ? { tlsPort: secure.port } : {}),
    address: `${bindHost}:${plain.port}`,
    close: async () => {
      await Promise.all([shutdown(plain.server), ...(secure ? [shutdown(secure.server)] : [])]);
    },
  };
}
