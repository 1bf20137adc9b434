import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { eventually } from '@tendril/testing';
import type { EndpointView } from '../src';
import { deployment, NetnsAgentNode, sh } from './netns-agent';
import { NodeProxyHarness } from './node-proxy-harness';

/*
 * The datapath's transparent L7 redirect through the node proxy, as root: an Agent runs a server
 * and two client pods in network namespaces with the eBPF datapath, and a node proxy (ProxyRuntime
 * over xDS, as apps/proxy runs it) with the datapath's transparent network. A CiliumNetworkPolicy
 * with an L7 allow-all rule (`http: [{}]`) on the server's port sends the client's connection
 * through the proxy: the client still dials the server's pod IP, the request reaches the server,
 * and the proxy's access log shows it — with the server as upstream host, through the ingress
 * redirect listener.
 */
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('L7 redirect through the node proxy end to end skipped: network namespaces and eBPF programs need root');

jest.setTimeout(240_000);

/** An HTTP server answering "<pod> saw <method> <path> from <peer address>" (the peer shows whether a proxy was in between). */
const SERVER = `require('http').createServer((q, s) => s.end(process.env.POD_NAME + ' saw ' + q.method + ' ' + q.url + ' from ' + q.socket.remoteAddress.replace('::ffff:', ''))).listen(8080)`;
/** One HTTP request from inside a pod: "<status> <body>", "timeout" (dropped) or "error <code>". */
const PROBE = `const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, 1500);
const r = require('http').request({ host: process.argv[1], port: +process.argv[2], path: process.argv[3], method: process.argv[4] || 'GET', agent: false }, (res) => {
  let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => { clearTimeout(t); console.log(res.statusCode + ' ' + body); process.exit(0); }); });
r.on('error', (e) => { clearTimeout(t); console.log('error ' + e.code); process.exit(0); });
r.end();`;

/** One unary gRPC call (empty message) from inside a pod: "ok", "code <n> <details>" or "timeout". */
const GRPC_PROBE = `const grpc = require(process.argv[1]);
const client = new grpc.Client(process.argv[2], grpc.credentials.createInsecure());
const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);
client.makeUnaryRequest(process.argv[3], (b) => b, (b) => b, Buffer.alloc(0), (err) => { clearTimeout(t); console.log(err ? 'code ' + err.code + ' ' + JSON.stringify(err.details) : 'ok'); process.exit(0); });`;
const GRPC_ECHO = '/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho';

/** Client may reach the server on 8080, with `rules` as the port's L7 rules (none: L3/L4 only). */
const serverPolicy = (rules: string | undefined): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: server-ingress, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: server } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts:
        - ports: [{ port: "8080", protocol: TCP }]${rules ? `\n          rules: ${rules}` : ''}
`;

(isRoot ? describe : describe.skip)('L7 redirect to the node proxy (needs root)', () => {
  const node = new NetnsAgentNode('l7');
  const clusterIp = `172.31.${randomBytes(1)[0]!}.${1 + (randomBytes(1)[0]! % 250)}`;
  const proxy = new NodeProxyHarness(node.pinDir);
  const { accessLog, nacks } = proxy;
  const podOf = async (app: string): Promise<EndpointView> => (await node.enforcedPods(app, 1))[0]!;
  const probe = async (from: EndpointView, host: string, port: number, urlPath: string, method = 'GET'): Promise<string> =>
    (await sh('ip', ['netns', 'exec', from.netns!, process.execPath, '-e', PROBE, host, String(port), urlPath, method])).trim();

  beforeAll(async () => {
    node.joinCgroup();
    const service = `apiVersion: v1
kind: Service
metadata: { name: server, namespace: default }
spec:
  clusterIP: ${clusterIp}
  selector: { app: server }
  ports: [{ name: http, port: 80, targetPort: http }]
`;
    node.write(
      'apps.yaml',
      [
        deployment('server', [process.execPath, '-e', SERVER], { port: 8080 }),
        deployment('client', ['sleep', 'infinity']),
        deployment('other', ['sleep', 'infinity']),
        deployment('grpc', ['tendril', 'echo', '--grpc', '--port', '9000'], { port: 9000 }),
        service,
      ].join('---\n'),
    );
    node.write('policy.yaml', serverPolicy('{ http: [{}] }'));
    const { xdsPort } = await node.startAgent();
    await proxy.start(xdsPort);
  });

  afterAll(async () => {
    await proxy.stop();
    await node.cleanup();
  });

  it('an L7 allow-all rule sends the client’s connection (to the pod IP or the Service IP) through the proxy to the pod it dialled; the access log shows it', async () => {
    const server = await podOf('server');
    const client = await podOf('client');
    const other = await podOf('other');
    const answer = await eventually(async () => {
      const got = await probe(client, server.ip, 8080, '/through/the/proxy');
      expect(got).toMatch(/^200 /);
      return got;
    }, 20_000, 200);
    // The server saw the request the client sent, from the node (the proxy), not from the client.
    expect(answer).toMatch(new RegExp(`^200 ${server.name} saw GET /through/the/proxy from `));
    expect(answer).not.toContain(`from ${client.ip}`);
    const entry = await eventually(() => {
      const found = accessLog.find((e) => e.path === '/through/the/proxy');
      expect(found).toBeDefined();
      return found!;
    }, 5_000, 50);
    expect(entry).toMatchObject({ listener: 'tendril-http-ingress', upstream_cluster: 'tendril-ingress-original-dst', upstream_host: `${server.ip}:8080`, response_code: 200, route_name: null });
    // Through the Service's ClusterIP: the socket load balancer picks the pod, then the redirect applies.
    const viaService = await probe(client, clusterIp, 80, '/via/the/service');
    expect(viaService).toMatch(new RegExp(`^200 ${server.name} saw GET /via/the/service from `));
    expect(accessLog.find((e) => e.path === '/via/the/service')).toMatchObject({ listener: 'tendril-http-ingress', upstream_host: `${server.ip}:8080` });
    // The client (which asked for Connection: close) closed first: no TIME_WAIT with the pod's
    // 4-tuple is left on the host to swallow a later SYN from the same client port.
    const timeWait = await sh('ss', ['-Htan', 'state', 'time-wait']);
    expect(timeWait.split('\n').filter((l) => l.includes(`${server.ip}:8080`) && l.includes(client.ip))).toEqual([]);
    // L3 still applies before the redirect: a pod the policy does not name is dropped in BPF.
    expect(await probe(other, server.ip, 8080, '/')).toBe('timeout');
    expect(nacks).toEqual([]);
  });

  it('traffic from the node itself to an L7 port goes through the proxy as well (around the hairpin veth pair)', async () => {
    const server = await podOf('server');
    node.write('policy.yaml', `${serverPolicy('{ http: [{}] }')}    - fromEntities: [host]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{}] } }]
`);
    const body = await eventually(async () => {
      await request(`http://${server.ip}:8080/from-the-node`).then((r) => r.body.text());
      const entry = accessLog.find((e) => e.path === '/from-the-node');
      expect(entry).toMatchObject({ listener: 'tendril-http-ingress', upstream_host: `${server.ip}:8080`, response_code: 200 });
      return (await request(`http://${server.ip}:8080/from-the-node`)).body.text();
    }, 10_000, 100);
    expect(body).toMatch(new RegExp(`^${server.name} saw GET /from-the-node from `));
    node.write('policy.yaml', serverPolicy('{ http: [{}] }'));
  });

  it('HTTP rules are enforced per request: method and path (full match, after normalisation); a denial is 403 "Access denied" and is never forwarded', async () => {
    const server = await podOf('server');
    const client = await podOf('client');
    node.write('policy.yaml', serverPolicy('{ http: [{ method: GET, path: "/public/.*" }] }'));
    await eventually(async () => expect(await probe(client, server.ip, 8080, '/private')).toBe('403 Access denied'), 10_000, 100);
    expect(await probe(client, server.ip, 8080, '/public/page')).toMatch(new RegExp(`^200 ${server.name} saw GET /public/page from `));
    expect(await probe(client, server.ip, 8080, '/public/page', 'POST')).toBe('403 Access denied');
    // Dot segments and doubled slashes are resolved before matching: these are requests for /private.
    expect(await probe(client, server.ip, 8080, '/public/../private')).toBe('403 Access denied');
    expect(await probe(client, server.ip, 8080, '//private')).toBe('403 Access denied');
    expect(await probe(client, server.ip, 8080, '/public/%2e%2e/private')).toBe('403 Access denied');
    // What is allowed goes upstream normalised.
    expect(await probe(client, server.ip, 8080, '/public/a/../b')).toMatch(new RegExp(`^200 ${server.name} saw GET /public/b from `));
    expect(accessLog.filter((e) => e.path === '/private').every((e) => e.upstream_host === null && e.response_code === 403)).toBe(true);
  });

  it('§8 case 15: a gRPC method allow-list; a denied call reaches the client as PERMISSION_DENIED, over h2c end to end', async () => {
    const grpcServer = await podOf('grpc');
    const client = await podOf('client');
    node.write('grpc-policy.yaml', `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: grpc-methods, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: grpc } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: client } }]
      toPorts: [{ ports: [{ port: "9000", protocol: TCP }], rules: { http: [{ method: POST, path: "${GRPC_ECHO}/Echo" }] } }]
`);
    const grpcJs = require.resolve('@grpc/grpc-js');
    const call = async (method: string): Promise<string> =>
      (await sh('ip', ['netns', 'exec', client.netns!, process.execPath, '-e', GRPC_PROBE, grpcJs, `${grpcServer.ip}:9000`, `${GRPC_ECHO}/${method}`])).trim();
    await eventually(async () => expect(await call('EchoTwo')).toBe('code 7 "Access denied\\r\\n"'), 15_000, 200);
    expect(await call('Echo')).toBe('ok');
    expect(accessLog.find((e) => e.path === `${GRPC_ECHO}/Echo`)).toMatchObject({ listener: 'tendril-http-ingress', protocol: 'HTTP/2', upstream_host: `${grpcServer.ip}:9000`, response_code: 200 });
    node.remove('grpc-policy.yaml');
  });

  it('an egress L7 allow-all rule goes through the egress listener; the server’s ingress policy still applies to the sender’s identity', async () => {
    const server = await podOf('server');
    const client = await podOf('client');
    const other = await podOf('other');
    node.write('policy.yaml', serverPolicy(undefined));
    node.write('egress.yaml', `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: client-egress, namespace: default }
spec:
  endpointSelector: { matchExpressions: [{ key: app, operator: In, values: [client, other] }] }
  egress:
    - toEndpoints: [{ matchLabels: { app: server } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }], rules: { http: [{}] } }]
`);
    await eventually(async () => {
      expect(await probe(client, server.ip, 8080, '/egress')).toMatch(/^200 /);
      expect(accessLog.some((e) => e.path === '/egress' && e.listener === 'tendril-http-egress')).toBe(true);
    }, 10_000, 100);
    expect(accessLog.find((e) => e.path === '/egress')).toMatchObject({ upstream_cluster: 'tendril-egress-original-dst', upstream_host: `${server.ip}:8080`, response_code: 200 });
    // `other` may send (its egress allows it) but the server admits only `client`: the datapath
    // applies the server's ingress policy to other's identity before any redirect, and drops it.
    expect(await probe(other, server.ip, 8080, '/egress-other')).toBe('timeout');
    expect(accessLog.some((e) => e.path === '/egress-other')).toBe(false);
    node.remove('egress.yaml');
  });

  it('dropping the L7 rule takes the port off the proxy: the client reaches the server directly again', async () => {
    const server = await podOf('server');
    const client = await podOf('client');
    node.write('policy.yaml', serverPolicy(undefined));
    const answer = await eventually(async () => {
      const got = await probe(client, server.ip, 8080, '/direct');
      expect(got).toContain(`from ${client.ip}`);
      return got;
    }, 10_000, 100);
    expect(answer).toMatch(/^200 /);
    expect(accessLog.some((e) => e.path === '/direct')).toBe(false);
  });
});
