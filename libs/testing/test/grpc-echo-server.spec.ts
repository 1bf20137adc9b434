import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GRPC_ECHO_SERVICE, grpcEchoServiceDefinition, type GrpcEchoMethod, type GrpcEchoResponse } from '@tendril/api-gateway';
import { startGrpcEchoServer, type GrpcEchoServer } from '../src';

type UnaryMethod = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response?: GrpcEchoResponse) => void) => void;

/** One call on a client of its own, as the conformance client makes them. */
function call(server: GrpcEchoServer, method: GrpcEchoMethod, metadata: Record<string, string> = {}, authority?: string, tls?: { ca: string; port: number; serverName: string }): Promise<{ code: grpc.status; response?: GrpcEchoResponse }> {
  const Client = grpc.makeGenericClientConstructor(grpcEchoServiceDefinition(), 'GrpcEcho');
  const client = tls
    ? new Client(`${server.host}:${tls.port}`, grpc.credentials.createSsl(Buffer.from(tls.ca)), { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.use_local_subchannel_pool': 1 })
    : new Client(server.address, grpc.credentials.createInsecure(), authority ? { 'grpc.default_authority': authority } : {});
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

describe('gRPC echo server over TLS (TLS_SERVER_CERT / TLS_SERVER_PRIV_KEY)', () => {
  let certificate: { cert: string; key: string };
  let server: GrpcEchoServer;
  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tendril-grpc-echo-cert-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', path.join(dir, 'k'), '-out', path.join(dir, 'c'), '-subj', '/CN=abc.example.com', '-addext', 'subjectAltName=DNS:abc.example.com'], { stdio: 'ignore' });
      certificate = { cert: readFileSync(path.join(dir, 'c'), 'utf8'), key: readFileSync(path.join(dir, 'k'), 'utf8') };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    server = await startGrpcEchoServer({ context: { pod: 'grpc-infra-backend-v1-abc12-xyz34' }, tls: { ...certificate, port: 0 } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('serves the same service on its TLS port, with the certificate it was given', async () => {
    expect(server.tlsPort).toBeGreaterThan(0);
    const { code, response } = await call(server, 'Echo', {}, undefined, { ca: certificate.cert, port: server.tlsPort ?? 0, serverName: 'abc.example.com' });
    expect(code).toBe(grpc.status.OK);
    expect(response?.assertions?.context?.pod).toBe('grpc-infra-backend-v1-abc12-xyz34');
    // The plaintext port keeps answering plaintext calls.
    expect((await call(server, 'Echo')).code).toBe(grpc.status.OK);
  });

  it('says which TLS address it could not listen on', async () => {
    await expect(startGrpcEchoServer({ tls: { ...certificate, port: server.tlsPort } })).rejects.toThrow(`gRPC echo server cannot listen on 127.0.0.1:${server.tlsPort} (TLS)`);
  });
});
