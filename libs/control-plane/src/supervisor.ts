import { spawn, type ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';

export interface ManagedProcessSpec {
  /** Short name used as the log prefix, e.g. "agent". */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface SupervisorOptions {
  /** Where prefixed output lines go; defaults to process.stdout. */
  write?: (line: string) => void;
  /** How long a child gets after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
}

/**
 * Runs tendril's components as child processes with prefixed logs, and stops them all
 * (SIGTERM, then SIGKILL after a grace period) when one exits unexpectedly or on stop().
 */
export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private stopping = false;
  private readonly write: (line: string) => void;
  private readonly exited: Promise<{ name: string; code: number | null; signal: NodeJS.Signals | null }>;
  private resolveExited!: (v: { name: string; code: number | null; signal: NodeJS.Signals | null }) => void;

  constructor(private readonly opts: SupervisorOptions = {}) {
    this.write = opts.write ?? ((line) => process.stdout.write(line + '\n'));
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  start(spec: ManagedProcessSpec): ChildProcess {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.set(spec.name, child);
    const prefix = `[${spec.name}]`.padEnd(9);
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on('line', (line) => this.write(`${prefix} ${line}`));
    }
    child.on('exit', (code, signal) => {
      this.children.delete(spec.name);
      if (!this.stopping) {
        this.write(`${prefix} exited unexpectedly (code ${code}, signal ${signal}); stopping everything`);
        this.resolveExited({ name: spec.name, code, signal });
      }
    });
    return child;
  }

  /** Resolves when any child exits without stop() having been called. */
  firstUnexpectedExit(): Promise<{ name: string; code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const timeout = this.opts.stopTimeoutMs ?? 5_000;
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}
