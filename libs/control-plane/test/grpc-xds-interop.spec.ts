import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { register as registerXdsResolver } from '@grpc/grpc-js-xds';
import { eventually } from '@tendril/testing';
import { silentLogger } from '@tendril/xds';
import { Agent } from '../src';
import { baseConfig } from './e2e-config';

// Proxyless gRPC (gRPC's own xDS client, @grpc/grpc-js-xds) against the agent's ADS server: the
// channel resolves `xds:///<host>` through LDS → RDS → CDS → EDS and balances itself, no proxy.
jest.setTimeout(60_000);

/**
 * grpc-js-xds's per-channel bootstrap (instead of GRPC_XDS_BOOTSTRAP*): each channel gets its own
 * XdsClient, so nothing global leaks between tests or into other suites in this worker.
 */
const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';
const SERVICE = 'tendril.interop.Echo';
const CALL_DEADLINE_MS = 5_000;

interface EchoReply {
  backend: string;
  method: string;
}

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString('utf8')),
};

/** A tiny gRPC service with JSON messages: every method answers with the backend's name. */
const ECHO_METHODS = ['Pinned', 'Split', 'Broken'] as const;
type EchoMethod = (typeof ECHO_METHODS)[number];
const ECHO_SERVICE: grpc.ServiceDefinition = Object.fromEntries(
  ECHO_METHODS.map((method) => [
    method,
    {
      path: `/${SERVICE}/${method}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: json.serialize,
      requestDeserialize: json.deserialize,
      responseSerialize: json.serialize,
      responseDeserialize: json.deserialize,
    },
  ]),
);
const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

async function startBackend(name: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  const handlers = Object.fromEntries(
    ECHO_METHODS.map((method) => [
      method,
      (_call: grpc.ServerUnaryCall<unknown, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => callback(null, { backend: name, method }),
    ]),
  );
  server.addService(ECHO_SERVICE, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

/**
 * GRPCRoute for grpc.example.com: Pinned → alpha, Broken → a Service that does not exist, the rest
 * of the service split between alpha and beta; HTTPRoute for web.example.com: the service → beta.
 */
function routes(split: { alpha: number; beta: number }): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: echo, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  hostnames: [grpc.example.com]
  rules:
    - matches: [{ method: { service: ${SERVICE}, method: Pinned } }]
      backendRefs: [{ name: alpha, port: 50051 }]
    - matches: [{ method: { service: ${SERVICE}, method: Broken } }]
      backendRefs: [{ name: missing, port: 50051 }]
    - matches: [{ method: { service: ${SERVICE} } }]
      backendRefs:
        - { name: alpha, port: 50051, weight: ${split.alpha} }
        - { name: beta, port: 50051, weight: ${split.beta} }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  hostnames: [web.example.com]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /${SERVICE} } }]
      backendRefs: [{ name: beta, port: 50051 }]
`;
}

describe('proxyless gRPC (@grpc/grpc-js-xds) against the agent', () => {
  let configDir: string;
  let agent: Agent;
  let bootstrap: string;
  const backends: Array<{ server: grpc.Server; port: number }> = [];
  const clients: grpc.Client[] = [];

  function writeConfig(name: string, content: string): void {
    // Write-then-rename, as editors do, so the watcher never sees half a file.
    const tmp = path.join(configDir, `.${name}.tmp`);
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, path.join(configDir, name));
  }

  function client(target: string): grpc.Client {
    const c = new EchoClient(target, grpc.credentials.createInsecure(), { [BOOTSTRAP_OPTION]: bootstrap });
    clients.push(c);
    return c;
  }

  function call(c: grpc.Client, method: EchoMethod): Promise<EchoReply> {
    const stubs = c as unknown as Record<EchoMethod, (request: object, options: grpc.CallOptions, callback: grpc.requestCallback<EchoReply>) => void>;
    return new Promise((resolve, reject) =>
      stubs[method]({}, { deadline: Date.now() + CALL_DEADLINE_MS }, (err, reply) => (err || !reply ? reject(err ?? new Error('empty reply')) : resolve(reply))),
    );
  }

  beforeAll(async () => {
    registerXdsResolver();
    const alpha = await startBackend('alpha');
    const beta = await startBackend('beta');
    backends.push(alpha, beta);
    configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-grpc-xds-'));
    writeConfig('base.yaml', baseConfig({ gatewayPort: 8080, servicePort: 50051, backends: { alpha: { port: alpha.port }, beta: { port: beta.port } } }));
    writeConfig('routes.yaml', routes({ alpha: 80, beta: 20 }));
    agent = new Agent({ configDir, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', logger: silentLogger, runWorkloads: false });
    const { xdsPort } = await agent.start();
    bootstrap = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'grpc-xds-interop-test', locality: {} },
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await agent?.stop();
    for (const { server } of backends) server.forceShutdown();
    if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
  });

  it('resolves xds:///grpc.example.com and reaches the backend the GRPCRoute names', async () => {
    const echo = client('xds:///grpc.example.com');
    for (let i = 0; i < 10; i++) expect(await call(echo, 'Pinned')).toEqual({ backend: 'alpha', method: 'Pinned' });
  });

  it('fails calls routed to a backend that does not exist with UNAVAILABLE, without holding up the others', async () => {
    const echo = client('xds:///grpc.example.com');
    await expect(call(echo, 'Broken')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(await call(echo, 'Pinned')).toEqual({ backend: 'alpha', method: 'Pinned' });
  });

  it('serves an HTTPRoute hostname to gRPC clients too', async () => {
    const web = client('xds:///web.example.com');
    for (let i = 0; i < 5; i++) expect(await call(web, 'Split')).toEqual({ backend: 'beta', method: 'Split' });
  });

  it('splits traffic by backendRef weight (80/20)', async () => {
    const echo = client('xds:///grpc.example.com');
    const counts = { alpha: 0, beta: 0 };
    for (let i = 0; i < 200; i++) counts[(await call(echo, 'Split')).backend as 'alpha' | 'beta'] += 1;
    expect(counts.alpha + counts.beta).toBe(200);
    // Binomial(200, 0.8): mean 160, standard deviation ≈ 5.7; the band is about ±3.5 deviations.
    expect(counts.alpha).toBeGreaterThanOrEqual(140);
    expect(counts.alpha).toBeLessThanOrEqual(180);
  });

  it('follows a route change while calls continue: no call fails and all calls move to the new backend', async () => {
    const echo = client('xds:///grpc.example.com');
    const results: Array<{ backend?: string; error?: string }> = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        try {
          results.push({ backend: (await call(echo, 'Split')).backend });
        } catch (err) {
          results.push({ error: (err as Error).message });
        }
      }
    })();
    try {
      await eventually(() => expect(results.length).toBeGreaterThan(20));
      expect(new Set(results.map((r) => r.backend))).toContain('alpha');
      writeConfig('routes.yaml', routes({ alpha: 0, beta: 100 }));
      const changedAt = results.length;
      await eventually(() => {
        const recent = results.slice(-50);
        expect(results.length - changedAt).toBeGreaterThanOrEqual(50);
        expect(recent.every((r) => r.backend === 'beta')).toBe(true);
      }, 10_000);
    } finally {
      stop = true;
      await load;
    }
    expect(results.filter((r) => r.error !== undefined)).toEqual([]);
    // The pinned method is unaffected by the edit.
    expect(await call(echo, 'Pinned')).toEqual({ backend: 'alpha', method: 'Pinned' });
  });

  it('had every resource it sent accepted by the gRPC clients (no NACK recorded)', () => {
    const nodes = agent.status().nodes;
    expect(nodes.map((n) => n.nodeId)).toContain('grpc-xds-interop-test');
    const rejected = nodes.flatMap((n) => Object.entries(n.types).flatMap(([type, t]) => (t.lastNack ? [`${type}: ${t.lastNack.message}`] : [])));
    expect(rejected).toEqual([]);
  });
});
