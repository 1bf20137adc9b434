import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { hairpinDevicesFor } from '@tendril/datapath';
import { eventually } from '@tendril/testing';
import type { AgentStatus, EndpointView } from '../src';
import { tendril } from './harness';
import { deployment, NetnsAgentNode, sh } from './netns-agent';

/*
 * Network policy on `tendril up`'s pods, as root: an Agent on a temp config directory runs three
 * Deployments in network namespaces, opens the eBPF datapath (pinned under a bpffs directory of
 * this suite, its ClusterIP load balancer on a cgroup of this suite) and enforces a
 * CiliumNetworkPolicy. Probes are real TCP connections dialled from inside the pods' namespaces.
 */
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('network policy end to end (eBPF datapath) skipped: network namespaces and eBPF programs need root');

jest.setTimeout(240_000);

/** A small TCP server answering "hello from <pod>"; cheap enough to run as a container command. */
const SERVER = `require('net').createServer((s) => { s.on('error', () => {}); s.end('hello from ' + process.env.POD_NAME); }).listen(8080)`;
/** Dials host:port and prints what came back, or why nothing did. */
const PROBE = `const s = require('net').connect(+process.argv[2], process.argv[1]); let got = '';
const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, 1500);
s.on('data', (d) => (got += d)); s.on('end', () => { clearTimeout(t); console.log(got); process.exit(0); });
s.on('error', (e) => { clearTimeout(t); console.log('error ' + e.code); process.exit(0); });`;

const policyAllowing = (app: string): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: server-ingress, namespace: default }
spec:
  endpointSelector: { matchLabels: { app: server } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: ${app} } }]
      toPorts: [{ ports: [{ port: "8080", protocol: TCP }] }]
`;

(isRoot ? describe : describe.skip)('network policy on tendril up pods, enforced in eBPF (needs root)', () => {
  const node = new NetnsAgentNode('pol');
  const { pinDir, cgroup, namePrefix, octets } = node;
  const bytes = randomBytes(2);
  const clusterIp = `172.31.${bytes[0]!}.${1 + (bytes[1]! % 250)}`;
  let adminAddress = '';

  const write = (name: string, content: string): void => node.write(name, content);
  const endpoints = (): Promise<EndpointView[]> => node.endpoints();
  const status = async (): Promise<AgentStatus> => (await (await request(`http://${adminAddress}/api/v1/status`)).body.json()) as AgentStatus;
  const podsOf = async (app: string): Promise<EndpointView[]> => (await endpoints()).filter((e) => e.name.startsWith(`${app}-`));
  /** A TCP connection from inside a pod's namespace: the server's greeting, "timeout" (dropped) or "error <code>". */
  const probe = async (from: EndpointView, host: string, port: number): Promise<string> =>
    (await sh('ip', ['netns', 'exec', from.netns!, process.execPath, '-e', PROBE, host, String(port)])).trim();
  const enforcedPods = (app: string, count: number): Promise<EndpointView[]> => node.enforcedPods(app, count);
  const startAgent = async (): Promise<void> => {
    await node.startAgent();
    adminAddress = node.adminAddress;
  };

  beforeAll(async () => {
    // The probes are children of this process: in this cgroup, their connects go through this suite's load balancer.
    node.joinCgroup();
    write('apps.yaml', [
      deployment('server', [process.execPath, '-e', SERVER], { port: 8080 }),
      deployment('client', ['sleep', 'infinity']),
      deployment('other', ['sleep', 'infinity']),
      `apiVersion: v1
kind: Service
metadata: { name: server, namespace: default }
spec:
  clusterIP: ${clusterIp}
  selector: { app: server }
  ports: [{ name: http, port: 80, targetPort: http }]
`,
    ].join('---\n'));
    write('policy.yaml', policyAllowing('client'));
    await startAgent();
    await enforcedPods('server', 1);
    await enforcedPods('client', 1);
    await enforcedPods('other', 1);
  });

  afterAll(() => node.cleanup());

  it('allows the client and drops everyone else, as the CiliumNetworkPolicy says', async () => {
    const [server] = await podsOf('server');
    const [client] = await podsOf('client');
    const [other] = await podsOf('other');
    expect(await probe(client!, server!.ip, 8080)).toBe(`hello from ${server!.name}`);
    expect(await probe(other!, server!.ip, 8080)).toBe('timeout');
    // Egress of the server is not restricted, and nothing listens on the client: refused, not dropped.
    expect(await probe(server!, client!.ip, 9)).toBe('error ECONNREFUSED');
    expect(server!.policy?.enforcement).toEqual({ ingress: true, egress: false });
    // tendril policy trace says the same, naming the rule, for the pod and through the Service.
    const allowed = await tendril(['policy', 'trace', '--src', client!.name, '--dst', server!.name, '--dport', '8080', '--agent', adminAddress]);
    expect(allowed.stdout).toContain(`Ingress of default/${server!.name}: ALLOWED: allowed by CiliumNetworkPolicy default/server-ingress rule 0 ingress[0]\n  datapath policy map: allow\n`);
    expect(allowed.stdout).toMatch(/Final verdict: ALLOWED\n$/);
    const denied = await tendril(['policy', 'trace', '--src', `default/${other!.name}`, '--dst', 'server', '--dport', '80', '--agent', adminAddress]);
    expect(denied.stdout).toContain(`(via Service default/server ${clusterIp}:80)`);
    expect(denied.stdout).toContain('DENIED: no rule allows this ingress traffic (default deny)\n  datapath policy map: deny (no entry)');
    const unknown = await tendril(['policy', 'trace', '--src', 'nobody', '--dst', server!.name, '--dport', '8080', '--agent', adminAddress]);
    expect({ code: unknown.code, stderr: unknown.stderr }).toEqual({ code: 1, stderr: 'Error: no endpoint for pod "nobody" in namespace "default" on this node\n' });
  });

  it('scaling the client from 1 to 20 replicas makes no policy-map write to the existing endpoints', async () => {
    const before = await endpoints();
    write('apps.yaml', fs.readFileSync(path.join(node.configDir, 'apps.yaml'), 'utf8').replace(/name: client, namespace: default \}\nspec:\n {2}replicas: 1/, 'name: client, namespace: default }\nspec:\n  replicas: 20'));
    const clients = await enforcedPods('client', 20);
    const after = await endpoints();
    for (const e of before) {
      const now = after.find((a) => a.endpointId === e.endpointId);
      expect({ pod: e.name, writes: now?.policy?.policyWrites }).toEqual({ pod: e.name, writes: e.policy?.policyWrites });
    }
    // One identity for all the replicas, and every new one may connect.
    expect(new Set(clients.map((c) => c.identity)).size).toBe(1);
    const [server] = await podsOf('server');
    expect(await probe(clients[clients.length - 1]!, server!.ip, 8080)).toBe(`hello from ${server!.name}`);
  });

  it('editing the policy file changes who may connect within seconds', async () => {
    const [server] = await podsOf('server');
    const [client] = await podsOf('client');
    const [other] = await podsOf('other');
    write('policy.yaml', policyAllowing('other'));
    await eventually(async () => expect(await probe(other!, server!.ip, 8080)).toBe(`hello from ${server!.name}`), 5_000, 50);
    expect(await probe(client!, server!.ip, 8080)).toBe('timeout');
  });

  it('an invalid policy gets Cilium’s error, naming file and document, and opens nothing', async () => {
    const [server] = await podsOf('server');
    const [client] = await podsOf('client');
    write('policy.yaml', policyAllowing('other').replace('fromEndpoints: [{ matchLabels: { app: other } }]', 'fromEndpoints: [{}]\n      fromCIDR: ["0.0.0.0/0"]'));
    const error = 'Invalid CiliumNetworkPolicy spec: combining FromEndpoints and FromCIDR is not supported yet';
    const reported = await eventually(async () => {
      const s = await status();
      expect(s.agent.sourceErrors.map((e) => e.message)).toEqual([expect.stringContaining(error)]);
      return s;
    }, 10_000, 100);
    expect(reported.agent.sourceErrors[0]).toMatchObject({ file: expect.stringContaining('policy.yaml'), documentIndex: 1 });
    expect(reported.policy).toMatchObject({ enabled: true, invalidPolicies: [{ policy: 'CiliumNetworkPolicy default/server-ingress', error }] });
    // The last valid version (allowing only `other`) stays in force.
    expect(await probe(client!, server!.ip, 8080)).toBe('timeout');
    const cnp = await tendril(['get', 'cnp', '--agent', adminAddress]);
    expect(cnp.stdout).toMatch(/^server-ingress\s+False\s+\d+[sm]$/m);
    const text = await tendril(['status', '--agent', adminAddress]);
    expect(text.stdout).toContain(`policy.yaml: document 1 (CiliumNetworkPolicy default/server-ingress): ${error}`);
    expect(text.stdout).toMatch(/^Policy:\s+Degraded\s+eBPF, 22 endpoints/m);
    write('policy.yaml', policyAllowing('other'));
    await eventually(async () => expect((await status()).agent.sourceErrors).toEqual([]), 10_000, 100);
  });

  it('a CiliumClusterwideNetworkPolicy deny beats the allow; removing its file lifts it', async () => {
    const [server] = await podsOf('server');
    const [other] = await podsOf('other');
    write('deny.yaml', `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: { name: no-other-to-server }
spec:
  endpointSelector: { matchLabels: { app: other } }
  egressDeny: [{ toEndpoints: [{ matchLabels: { app: server } }], toPorts: [{ ports: [{ port: "8080", protocol: TCP }] }] }]
`);
    await eventually(async () => expect(await probe(other!, server!.ip, 8080)).toBe('timeout'), 5_000, 50);
    const ccnp = await tendril(['get', 'ccnp', '--agent', adminAddress]);
    expect(ccnp.stdout).toMatch(/^no-other-to-server\s+True\s+\d+[sm]$/m);
    node.remove('deny.yaml');
    await eventually(async () => expect(await probe(other!, server!.ip, 8080)).toBe(`hello from ${server!.name}`), 5_000, 50);
  });

  it('a ClusterIP Service reaches its backend from a pod', async () => {
    const [server] = await podsOf('server');
    const [other] = await podsOf('other');
    expect(await probe(other!, clusterIp, 80)).toBe(`hello from ${server!.name}`);
    const lb = await tendril(['bpf', 'lb', 'list', '--agent', adminAddress]);
    expect(lb.stdout).toMatch(new RegExp(`^${clusterIp.replace(/\./g, '\\.')}:80/TCP\\s+${server!.ip.replace(/\./g, '\\.')}:8080\\s+default/server \\(http\\)$`, 'm'));
  });

  it('tendril get identities, get endpoints, bpf policy get, bpf ipcache list and bpf metrics list show the datapath', async () => {
    const [server] = await podsOf('server');
    const [other] = await podsOf('other');
    const identities = await tendril(['get', 'identities', '--agent', adminAddress]);
    expect(identities.stdout).toMatch(/^ID\s+ENDPOINTS\s+LABELS$/m);
    expect(identities.stdout).toMatch(new RegExp(`^${other!.identity}\\s+1\\s+k8s:app=other$`, 'm'));
    expect(identities.stdout).toMatch(/^1\s+0\s+reserved:host$/m);
    const eps = await tendril(['get', 'endpoints', '--agent', adminAddress]);
    expect(eps.stdout).toMatch(new RegExp(`^${server!.endpointId}\\s+Enabled\\s+Disabled\\s+${server!.identity}\\s+default/${server!.name}\\s+${server!.ip.replace(/\./g, '\\.')}\\s`, 'm'));
    const policy = await tendril(['bpf', 'policy', 'get', server!.name, '-n', 'default', '--agent', adminAddress]);
    expect(policy.stdout).toContain(`identity ${server!.identity}: ingress default-deny, egress allow-all`);
    expect(policy.stdout).toMatch(new RegExp(`^Allow\\s+Ingress\\s+${other!.identity}\\s+k8s:app=other\\s+8080/TCP\\s+NONE\\s+24$`, 'm'));
    expect(policy.stdout).toMatch(/^Allow\s+Ingress\s+1\s+reserved:host\s+ANY\s+NONE\s+0$/m);
    expect(policy.stdout).toMatch(/^Allow\s+Egress\s+ANY\s+ANY\s+ANY\s+NONE\s+0$/m);
    const ipcache = await tendril(['bpf', 'ipcache', 'list', '--agent', adminAddress]);
    expect(ipcache.stdout).toMatch(new RegExp(`^${other!.ip.replace(/\./g, '\\.')}/32\\s+${other!.identity}\\s+k8s:app=other$`, 'm'));
    expect(ipcache.stdout).toMatch(new RegExp(`^10\\.${octets.replace('.', '\\.')}\\.1/32\\s+1\\s+reserved:host$`, 'm'));
    // The probes the policy dropped above were counted, by reason.
    const metrics = await tendril(['bpf', 'metrics', 'list', '--agent', adminAddress]);
    expect(metrics.stdout).toMatch(/^REASON\s+PACKETS$/m);
    const policyDenied = Number(/^Policy denied\s+(\d+)$/m.exec(metrics.stdout)?.[1]);
    const denylist = Number(/^Policy denied by denylist\s+(\d+)$/m.exec(metrics.stdout)?.[1]);
    expect({ policyDenied: policyDenied > 0, denylist: denylist > 0 }).toEqual({ policyDenied: true, denylist: true });
  });

  it('scaling down removes the endpoints of the deleted pods from every map', async () => {
    const before = await podsOf('client');
    write('apps.yaml', fs.readFileSync(path.join(node.configDir, 'apps.yaml'), 'utf8').replace(/name: client, namespace: default \}\nspec:\n {2}replicas: 20/, 'name: client, namespace: default }\nspec:\n  replicas: 2'));
    const after = await eventually(async () => {
      const clients = await podsOf('client');
      expect(clients).toHaveLength(2);
      return clients;
    }, 60_000, 200);
    const gone = before.filter((b) => !after.some((a) => a.name === b.name));
    expect(gone).toHaveLength(18);
    const ipcache = await eventually(async () => {
      const entries = (await (await request(`http://${adminAddress}/api/v1/bpf/ipcache`)).body.json()) as { items: { cidr: string }[] };
      for (const g of gone) expect(entries.items.map((e) => e.cidr)).not.toContain(`${g.ip}/32`);
      return entries.items;
    }, 10_000, 100);
    for (const a of after) expect(ipcache.map((e) => e.cidr)).toContain(`${a.ip}/32`);
  });

  it('an agent restart re-attaches to the pinned datapath and enforces the same policy', async () => {
    await node.agent!.stop();
    expect(fs.existsSync(path.join(pinDir, 'maps', 'tendril_policy'))).toBe(true);
    await startAgent();
    const [server] = await enforcedPods('server', 1);
    const [other] = await enforcedPods('other', 1);
    const [client] = await enforcedPods('client', 2);
    expect(await probe(other!, server!.ip, 8080)).toBe(`hello from ${server!.name}`);
    const denied = await probe(client!, server!.ip, 8080);
    if (denied !== 'timeout') {
      // Enough to tell a datapath problem from a policy one.
      console.warn(JSON.stringify(await endpoints(), null, 1));
      console.warn((await tendril(['bpf', 'policy', 'get', server!.name, '--agent', adminAddress])).stdout);
      console.warn((await tendril(['bpf', 'ipcache', 'list', '--agent', adminAddress])).stdout);
      console.warn(await sh('bpftool', ['-j', 'map', 'dump', 'pinned', `${pinDir}/maps/tendril_lxc`]));
    }
    expect(denied).toBe('timeout');
    expect(await probe(other!, clusterIp, 80)).toBe(`hello from ${server!.name}`);
  });

  it('stopping the agent removes the endpoints but keeps the pins; tendril down removes pins and filters', async () => {
    const pods = await endpoints();
    await node.agent!.stop();
    node.agent = undefined;
    expect(fs.existsSync(path.join(pinDir, 'maps', 'tendril_policy'))).toBe(true);
    expect(fs.readdirSync('/run/netns').filter((n) => n.startsWith(namePrefix))).toEqual([]);
    const down = await tendril(['down', '--pin-dir', pinDir, '--cgroup', cgroup, '--agent', '127.0.0.1:1']);
    expect(down.stderr).toBe('');
    expect(down.stdout).toContain(`removed the datapath pinned at ${pinDir}`);
    expect(fs.existsSync(pinDir)).toBe(false);
    expect(JSON.parse((await sh('bpftool', ['-j', 'cgroup', 'show', cgroup])).trim() || '[]')).toEqual([]);
    for (const p of pods) expect(fs.existsSync(`/sys/class/net/${p.hostInterface}`)).toBe(false);
    expect(fs.existsSync(`/sys/class/net/${hairpinDevicesFor(pinDir).hostEnd}`)).toBe(false);
    const again = await tendril(['down', '--pin-dir', pinDir, '--cgroup', cgroup, '--agent', '127.0.0.1:1']);
    expect(again.stdout).toContain('nothing to remove');
  });
});
