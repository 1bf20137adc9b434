import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { removeNodeDatapath, type ProxyPortTable } from '@tendril/endpoints';
import { eventually } from '@tendril/testing';
import { silentLogger } from '@tendril/xds';
import { Agent, type AgentOptions, type EndpointView } from '../src';

/*
 * What the root end-to-end suites share: an in-process Agent running pods in network namespaces
 * with the eBPF datapath, each suite with its own pod CIDR, namespace prefix, bpffs pins and cgroup
 * (so suites running at the same time never see each other's pods or maps), a watched config
 * directory, and the clean-up.
 */

export const CGROUP_V2 = fs.existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';

export function sh(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout))),
  );
}

/** A Deployment whose container runs `command` (the image is ignored), with one named container port when given. */
export function deployment(name: string, command: string[], options: { replicas?: number; port?: number } = {}): string {
  const ports = options.port ? `, ports: [{ name: http, containerPort: ${options.port} }]` : '';
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: default }
spec:
  replicas: ${options.replicas ?? 1}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers: [{ name: main, image: ignored, command: ${JSON.stringify(command)}${ports} }]
`;
}

export class NetnsAgentNode {
  /** The third and fourth octet source: pods get 10.<octets>.0/24. */
  readonly octets: string;
  readonly namePrefix: string;
  readonly pinDir: string;
  readonly cgroup: string;
  readonly configDir: string;
  readonly ipamDataDir: string;
  /** The node proxy's redirect ports of this suite: a block of its own, so suites never share a listener. */
  readonly proxyPorts: ProxyPortTable;
  /** The node proxy's mesh listener port of this suite (in the same block as proxyPorts). */
  readonly meshProxyPort: number;
  agent: Agent | undefined;
  adminAddress = '';

  /** `tag`: a few letters naming the suite in namespaces, pins and cgroups (tdlt-<tag>…). */
  constructor(tag: string) {
    const bytes = randomBytes(4);
    const suffix = bytes.toString('hex');
    this.octets = `${200 + (bytes[0]! % 40)}.${bytes[1]!}`;
    this.namePrefix = `tdlt-${tag}${suffix.slice(0, 2)}-`;
    this.pinDir = `/sys/fs/bpf/tdlt-${tag}${suffix}`;
    this.cgroup = `${CGROUP_V2}/tdlt-${tag}${suffix}`;
    this.configDir = path.join(os.tmpdir(), `tendril-${tag}-e2e-${suffix}`);
    this.ipamDataDir = path.join(os.tmpdir(), `tendril-${tag}-e2e-ipam-${suffix}`);
    const base = 21_000 + (bytes.readUInt16BE(2) % 400) * 10;
    this.proxyPorts = {
      http: { ingress: base + 1, egress: base + 2 },
      kafka: { ingress: base + 3, egress: base + 4 },
      dns: { ingress: base + 5, egress: base + 6 },
    };
    this.meshProxyPort = base + 7;
  }

  /** Creates the suite's directories and cgroup (root only: called from beforeAll, never at collection time). */
  private prepare(): void {
    for (const dir of [this.configDir, this.ipamDataDir, this.cgroup]) fs.mkdirSync(dir, { recursive: true });
  }

  /** Moves this test process into the suite's cgroup: the probes it spawns get the suite's ClusterIP load balancer. */
  joinCgroup(): void {
    this.prepare();
    fs.writeFileSync(path.join(this.cgroup, 'cgroup.procs'), `${process.pid}\n`);
  }

  /** Writes a config file as editors do (write, then rename), so the watcher never sees half of it. */
  write(name: string, content: string): void {
    this.prepare();
    const tmp = path.join(this.configDir, `.${name}.tmp`);
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, path.join(this.configDir, name));
  }

  remove(name: string): void {
    fs.rmSync(path.join(this.configDir, name));
  }

  async startAgent(options: Partial<AgentOptions> = {}): Promise<{ xdsPort: number; adminPort: number }> {
    this.prepare();
    const agent = new Agent({
      configDir: this.configDir,
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      logger: silentLogger,
      runWorkloads: true,
      podNetwork: { mode: 'netns', namePrefix: this.namePrefix, podCidr: `10.${this.octets}.0/24`, ipamDataDir: this.ipamDataDir },
      datapath: { pinDir: this.pinDir, cgroupPath: this.cgroup },
      proxyPorts: this.proxyPorts,
      meshProxyPort: this.meshProxyPort,
      writePodOutput: () => undefined,
      ...options,
    });
    this.agent = agent;
    const ports = await agent.start();
    this.adminAddress = `127.0.0.1:${ports.adminPort}`;
    return ports;
  }

  async endpoints(): Promise<EndpointView[]> {
    const res = await request(`http://${this.adminAddress}/api/v1/endpoints`);
    return ((await res.body.json()) as { items: EndpointView[] }).items;
  }

  /** The endpoints of an app's pods once `count` of them are ready and enforced. */
  enforcedPods(app: string, count: number): Promise<EndpointView[]> {
    return eventually(async () => {
      const pods = (await this.endpoints()).filter((e) => e.name.startsWith(`${app}-`));
      expect(pods.filter((p) => p.ready && p.policy?.state === 'ready')).toHaveLength(count);
      return pods;
    }, 120_000, 200);
  }

  /** Stops the agent, removes the datapath (programs, pins, hairpin) and every directory of the suite. */
  async cleanup(): Promise<void> {
    await this.agent?.stop();
    fs.writeFileSync(path.join(CGROUP_V2, 'cgroup.procs'), `${process.pid}\n`);
    await removeNodeDatapath({ pinDir: this.pinDir, cgroupPath: this.cgroup });
    fs.rmSync(this.pinDir, { recursive: true, force: true });
    if (fs.existsSync(this.cgroup)) fs.rmdirSync(this.cgroup);
    fs.rmSync(this.configDir, { recursive: true, force: true });
    fs.rmSync(this.ipamDataDir, { recursive: true, force: true });
  }
}
