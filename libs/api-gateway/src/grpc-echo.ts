import * as path from 'node:path';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/**
 * The gRPC echo service of the Gateway API conformance suite (the echo-basic image with
 * GRPC_ECHO_SERVER set, which the GATEWAY-GRPC tests call through the Gateway). Its definition is
 * proto/grpcecho.proto beside this library; the server (tendril echo) and the conformance runner's
 * client both load it from here, so they cannot drift apart.
 */
export const GRPC_ECHO_PACKAGE = 'gateway_api_conformance.echo_basic.grpcecho';
export const GRPC_ECHO_SERVICE = `${GRPC_ECHO_PACKAGE}.GrpcEcho`;
export const GRPC_ECHO_PROTO_FILE = path.join(__dirname, '..', 'proto', 'grpcecho.proto');

/** The service's methods: EchoThree is never implemented by the echo server. */
export const GRPC_ECHO_METHODS = ['Echo', 'EchoTwo', 'EchoThree'] as const;
export type GrpcEchoMethod = (typeof GRPC_ECHO_METHODS)[number];

/** `/<package>.GrpcEcho/<method>`: the HTTP/2 :path of a call, which the echo server reports back. */
export function grpcEchoFullMethod(method: GrpcEchoMethod): string {
  return `/${GRPC_ECHO_SERVICE}/${method}`;
}

export interface GrpcEchoHeader {
  key: string;
  value: string;
}

/** Where the answering server runs (its pod's NAMESPACE, INGRESS_NAME, SERVICE_NAME, POD_NAME). */
export interface GrpcEchoContext {
  namespace: string;
  ingress: string;
  serviceName: string;
  pod: string;
}

export interface GrpcEchoTlsAssertions {
  version: string;
  negotiatedProtocol: string;
  serverName: string;
  cipherSuite: string;
  peerCertificates: string[];
}

/** What the server saw of a call. Field names are the proto's, camel-cased as proto-loader does. */
export interface GrpcEchoAssertions {
  fullyQualifiedMethod: string;
  headers: GrpcEchoHeader[];
  authority: string;
  context: GrpcEchoContext | null;
  tlsAssertions: GrpcEchoTlsAssertions | null;
}

export interface GrpcEchoResponse {
  assertions: GrpcEchoAssertions | null;
  request: Record<string, never> | null;
}

let definition: ServiceDefinition | undefined;

/**
 * The GrpcEcho service definition for @grpc/grpc-js servers (`server.addService`) and clients
 * (`makeGenericClientConstructor`). Messages decode with every field present (proto3 defaults),
 * camel-cased; parsed once per process.
 */
export function grpcEchoServiceDefinition(): ServiceDefinition {
  if (!definition) {
    const loaded = loadSync(GRPC_ECHO_PROTO_FILE, { keepCase: false, defaults: true, arrays: true, oneofs: true });
    const service = loaded[GRPC_ECHO_SERVICE];
    if (!service || !('Echo' in service)) throw new Error(`${GRPC_ECHO_PROTO_FILE} does not define the service ${GRPC_ECHO_SERVICE}`);
    definition = service as unknown as ServiceDefinition;
  }
  return definition;
}
