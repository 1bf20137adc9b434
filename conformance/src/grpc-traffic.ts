import * as grpc from '@grpc/grpc-js';
import { grpcEchoFullMethod, grpcEchoServiceDefinition, type GrpcEchoMethod, type GrpcEchoResponse } from '@tendril/api-gateway';
import type { GrpcCheck } from './checks';
import type { GatewayTarget, PodSampler } from './traffic';

/** What a gRPC call came back with: its status and, when OK, the echo server's answer. */
export interface GrpcCallResult {
  /** grpc-js's name for the status code (OK, UNIMPLEMENTED, …). */
  code: string;
  details: string;
  response?: GrpcEchoResponse;
}

type UnaryMethod = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response?: GrpcEchoResponse) => void) => void;

let clientConstructor: grpc.ServiceClientConstructor | undefined;

function codeName(code: number): string {
  return grpc.status[code] ?? `code ${code}`;
}

/**
 * One GrpcEcho call to the Gateway over plaintext HTTP/2, on a channel and connection of its own
 * (as upstream's client dials anew for each expectation; a local subchannel pool keeps grpc-js from
 * sharing one connection between channels). `authority` sets :authority as grpc.WithAuthority does.
 * Never rejects: a call that could not be made comes back as UNAVAILABLE or DEADLINE_EXCEEDED.
 */
export function grpcEchoCall(target: GatewayTarget, method: GrpcEchoMethod, opts: { metadata?: Record<string, string>; authority?: string; timeoutMs: number }): Promise<GrpcCallResult> {
  clientConstructor ??= grpc.makeGenericClientConstructor(grpcEchoServiceDefinition(), 'GrpcEcho');
  const host = target.address.includes(':') ? `[${target.address}]` : target.address;
  const client = new clientConstructor(`${host}:${target.port}`, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    ...(opts.authority ? { 'grpc.default_authority': opts.authority } : {}),
  });
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(opts.metadata ?? {})) metadata.add(key, value);
  return new Promise((resolve) => {
    (client[method] as unknown as UnaryMethod).call(client, {}, metadata, { deadline: Date.now() + opts.timeoutMs }, (err, response) => {
      client.close();
      resolve(err ? { code: codeName(err.code), details: err.details } : { code: 'OK', details: '', ...(response ? { response } : {}) });
    });
  });
}

/**
 * The upstream compareResponse: the status code; for OK also the fully qualified method the
 * backend saw, its namespace when expected, and the answering pod's name prefix.
 */
export function grpcResultProblem(check: GrpcCheck, result: GrpcCallResult): string | undefined {
  const { expect } = check;
  if (result.code !== expect.code) return `status ${result.code}${result.details ? ` (${result.details})` : ''}, want ${expect.code}`;
  if (result.code !== 'OK') return undefined;
  const assertions = result.response?.assertions;
  if (!assertions) return 'the OK answer carries no assertions: not the conformance echo server';
  const problems: string[] = [];
  const wantMethod = grpcEchoFullMethod(check.grpc.method);
  if (assertions.fullyQualifiedMethod !== wantMethod) problems.push(`backend saw method ${JSON.stringify(assertions.fullyQualifiedMethod)}, want ${JSON.stringify(wantMethod)}`);
  const pod = assertions.context?.pod ?? '';
  if (expect.namespace !== undefined && assertions.context?.namespace !== expect.namespace) problems.push(`namespace ${JSON.stringify(assertions.context?.namespace ?? '')}, want ${JSON.stringify(expect.namespace)}`);
  if (expect.backend !== undefined && !pod.startsWith(expect.backend)) problems.push(`answered by pod ${JSON.stringify(pod)}, want ${expect.backend}-…`);
  return problems.length ? problems.join('; ') : undefined;
}

/** One try of a gRPC check: undefined when the answer meets the expectation, else why not. */
export async function grpcAttempt(check: GrpcCheck, target: GatewayTarget, timeoutMs: number): Promise<string | undefined> {
  const result = await grpcEchoCall(target, check.grpc.method, { metadata: check.grpc.metadata, timeoutMs, ...(check.grpc.authority ? { authority: check.grpc.authority } : {}) });
  return grpcResultProblem(check, result);
}

/**
 * The gRPC sampler of the weighted-traffic rounds (GRPCRouteWeight): an Echo call on a channel of
 * its own, about half with random `x-jitter` metadata (upstream's AddEntropy), which must be OK.
 */
export function grpcPodSampler(target: GatewayTarget, timeoutMs: number): PodSampler {
  return async () => {
    const metadata: Record<string, string> = Math.random() < 0.5 ? { 'x-jitter': Math.random().toString(36).slice(2) } : {};
    const result = await grpcEchoCall(target, 'Echo', { metadata, timeoutMs });
    if (result.code !== 'OK') throw new Error(`expected an OK answer, got ${result.code}${result.details ? ` (${result.details})` : ''}`);
    return result.response?.assertions?.context?.pod ?? '';
  };
}
