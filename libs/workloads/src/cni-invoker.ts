import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import type { CniAddResult, CniErrorResult } from '@tendril/cni';

/** The network configuration a runtime hands the plugin on stdin (the subset tendril-cni reads). */
export interface CniNetworkConfig {
  cniVersion: string;
  name: string;
  type: string;
  ipam: { subnet: string; gateway: string; dataDir: string };
}

/** What identifies one attachment: the CNI_* variables besides CNI_COMMAND. */
export interface CniAttachment {
  containerId: string;
  /** Path of the network namespace; may be empty on DEL once the namespace is gone. */
  netns: string;
  ifname: string;
  /** CNI_ARGS, as kubelet sets them (K8S_POD_NAMESPACE, K8S_POD_NAME …). */
  args?: Record<string, string>;
}

/** A failed plugin call: the spec's error result when the plugin printed one. */
export class CniInvocationError extends Error {
  constructor(
    readonly command: string,
    readonly result: CniErrorResult | undefined,
    detail: string,
  ) {
    super(`CNI ${command} failed: ${result ? `${result.msg}${result.details ? ` (${result.details})` : ''} [code ${result.code}]` : detail}`);
    this.name = 'CniInvocationError';
  }
}

/**
 * Calls a CNI plugin executable exactly as the spec describes a runtime doing it (and as kubelet
 * via containerd does): the command and attachment in CNI_* environment variables, the network
 * configuration as JSON on stdin, the result or error JSON on stdout, success in the exit code.
 * IgnoreUnknown=1 in CNI_ARGS lets plugins that do not know the K8S_* keys accept them.
 */
export class CniInvoker {
  constructor(
    /** Path of the plugin executable; its directory becomes CNI_PATH. */
    readonly plugin: string,
    readonly config: CniNetworkConfig,
  ) {}

  async add(attachment: CniAttachment): Promise<CniAddResult> {
    return JSON.parse(await this.invoke('ADD', attachment)) as CniAddResult;
  }

  async check(attachment: CniAttachment): Promise<void> {
    await this.invoke('CHECK', attachment);
  }

  async del(attachment: CniAttachment): Promise<void> {
    await this.invoke('DEL', attachment);
  }

  /** The environment a call runs with: PATH from this process (the plugin may run iproute2), plus CNI_*. */
  environment(command: 'ADD' | 'DEL' | 'CHECK', attachment: CniAttachment): Record<string, string> {
    const args = { IgnoreUnknown: '1', ...(attachment.args ?? {}) };
    return {
      PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: attachment.containerId,
      CNI_NETNS: attachment.netns,
      CNI_IFNAME: attachment.ifname,
      CNI_ARGS: Object.entries(args).map(([k, v]) => `${k}=${v}`).join(';'),
      CNI_PATH: dirname(this.plugin),
    };
  }

  private invoke(command: 'ADD' | 'DEL' | 'CHECK', attachment: CniAttachment): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(this.plugin, [], { env: this.environment(command, attachment), timeout: 60_000 }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        let result: CniErrorResult | undefined;
        try {
          const parsed = JSON.parse(stdout) as Partial<CniErrorResult>;
          if (typeof parsed.code === 'number' && typeof parsed.msg === 'string') result = parsed as CniErrorResult;
        } catch {
          // Not the spec's error JSON: report what the process said instead.
        }
        reject(new CniInvocationError(command, result, (stderr || stdout || err.message).trim()));
      });
      // A plugin that fails before reading stdin closes the pipe; its exit status is what counts.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(JSON.stringify(this.config));
    });
  }
}
