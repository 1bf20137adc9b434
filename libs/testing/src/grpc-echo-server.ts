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
}

export interface GrpcEchoServer {
  host: string;
  port: number;
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
  const echo =
    (method: GrpcEchoMethod): grpc.handleUnaryCall<unknown, GrpcEchoResponse> =>
    (call, callback) => {
      if (requestLog) requestLog('Received over plaintext: {}');
      callback(null, {
        assertions: { fullyQualifiedMethod: grpcEchoFullMethod(method), headers: seenHeaders(call), authority: call.getHost(), context, tlsAssertions: null },
        request: {},
      });
    };
  const server = new grpc.Server();
  // EchoThree is absent on purpose: grpc-js answers a method without a handler with UNIMPLEMENTED.
  server.addService(grpcEchoServiceDefinition(), { Echo: echo('Echo'), EchoTwo: echo('EchoTwo') });
  const host = options.host ?? '127.0.0.1';
  const bindHost = host.includes(':') ? `[${host}]` : host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${bindHost}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(new Error(`gRPC echo server cannot listen on ${bindHost}:${options.port ?? 0}: ${err.message}`)) : resolve(bound))),
  );
  return {
    host,
    port,
    address: `${bindHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Calls in flight get a short grace; a client holding its connection open must not keep the pod alive.
        const force = setTimeout(() => server.forceShutdown(), 1_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
