import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { eventually, freePort } from '@tendril/testing';
import { entryPointCommand } from '../src';

/** A child process with its output captured, for assertions and for debugging failures. */
export class Proc {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => this.output.push(...d.toString().split('\n').filter(Boolean)));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

export function runEntryPoint(app: 'agent' | 'proxy' | 'cli', args: string[], env: Record<string, string> = {}): Proc {
  const cmd = entryPointCommand(app);
  return new Proc(spawn(cmd.command, [...cmd.args, ...args], { env: { ...process.env, ...cmd.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Runs `tendril …` to completion and returns its exit code and output. */
export async function tendril(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cmd = entryPointCommand('cli');
  const child = spawn(cmd.command, [...cmd.args, ...args], { env: { ...process.env, ...cmd.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

/** An agent and a node proxy as separate processes, on free ports, serving a temp config directory. */
export class Node {
  agent?: Proc;
  proxy?: Proc;
  private constructor(
    readonly configDir: string,
    readonly xdsAddress: string,
    readonly adminAddress: string,
    readonly proxyAdminAddress: string,
  ) {}

  static async create(files: Record<string, string>): Promise<Node> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-e2e-'));
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    return new Node(dir, `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`);
  }

  write(name: string, content: string): void {
    // Write-then-rename, as editors do, so the watcher never sees half a file.
    const tmp = path.join(this.configDir, `.${name}.tmp`);
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, path.join(this.configDir, name));
  }

  async startAgent(): Promise<void> {
    this.agent = runEntryPoint('agent', ['--config', this.configDir, '--xds-address', this.xdsAddress, '--admin-address', this.adminAddress, '--no-workloads']);
    await waitOk(`http://${this.adminAddress}/healthz`, this.agent);
  }

  async startProxy(protocol: 'sotw' | 'delta' = 'delta'): Promise<void> {
    this.proxy = runEntryPoint('proxy', ['--xds-address', this.xdsAddress, '--admin-address', this.proxyAdminAddress, '--xds-protocol', protocol, '--node-id', 'e2e-node']);
    await waitOk(`http://${this.proxyAdminAddress}/ready`, this.proxy);
  }

  async stop(): Promise<void> {
    await Promise.all([this.proxy?.stop(), this.agent?.stop()]);
    fs.rmSync(this.configDir, { recursive: true, force: true });
  }
}

async function waitOk(url: string, proc: Proc): Promise<void> {
  await eventually(async () => {
    if (proc.child.exitCode !== null) throw new Error(`process exited (${proc.child.exitCode}):\n${proc.output.join('\n')}`);
    const res = await request(url);
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode}`);
  }, 30_000, 100);
}
