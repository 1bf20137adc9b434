import * as grpc from '@grpc/grpc-js';
import { GRPC_ECHO_SERVICE, grpcEchoServiceDefinition, type GrpcEchoMethod, type GrpcEchoResponse } from '@tendril/api-gateway';
import { startGrpcEchoServer, type GrpcEchoServer } from '../src';

type UnaryMethod = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response?: GrpcEchoResponse) => void) => void;

/** One call on a client of its own, as the conformance client makes them. */
function call(server: GrpcEchoServer, method: GrpcEchoMethod, metadata: Record<string, string> = {}, authority?: string): Promise<{ code: grpc.status; response?: GrpcEchoResponse }> {
  const Client = grpc.makeGenericClientConstructor(grpcEchoServiceDefinition(), 'GrpcEcho');
  const client = new Client(server.address, grpc.credentials.createInsecure(), authority ? { 'grpc.default_authority': authority } : {});
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.add(k, v);
  return new Promise((resolve) => {
    (client[method] as unknown as UnaryMethod).call(client, {}, md, { deadline: Date.now() + 5_000 }, (err, response) => {
      client.close();
      resolve(err ? { code: err.code } : { code: grpc.status.OK, response });
    });
  });
}

describe('gRPC echo server (the conformance echo image with GRPC_ECHO_SERVER)', () => {
  let server: GrpcEchoServer;
  beforeAll(async () => {
    server = await startGrpcEchoServer({ context: { namespace: 'gateway-conformance-infra', pod: 'grpc-infra-backend-v1-abc12-xyz34' } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers Echo with the method, metadata, authority and the pod it runs in', async () => {
    const { code, response } = await call(server, 'Echo', { version: 'one', Color: 'blue' }, 'echo.example');
    expect(code).toBe(grpc.status.OK);
    expect(response?.assertions).toMatchObject({
      fullyQualifiedMethod: `/${GRPC_ECHO_SERVICE}/Echo`,
      authority: 'echo.example',
      context: { namespace: 'gateway-conformance-infra', pod: 'grpc-infra-backend-v1-abc12-xyz34', ingress: '', serviceName: '' },
    });
    // Metadata keys arrive lower-cased (HTTP/2 header names).
    expect(response?.assertions?.headers).toEqual(expect.arrayContaining([{ key: ':authority', value: 'echo.example' }, { key: 'version', value: 'one' }, { key: 'color', value: 'blue' }]));
  });

  it('answers EchoTwo under its own method name', async () => {
    const { code, response } = await call(server, 'EchoTwo');
    expect(code).toBe(grpc.status.OK);
    expect(response?.assertions?.fullyQualifiedMethod).toBe(`/${GRPC_ECHO_SERVICE}/EchoTwo`);
  });

  it('leaves EchoThree unimplemented', async () => {
    expect((await call(server, 'EchoThree')).code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('says which address it could not listen on', async () => {
    await expect(startGrpcEchoServer({ port: server.port })).rejects.toThrow(`gRPC echo server cannot listen on 127.0.0.1:${server.port}`);
  });
});
