import { execFile } from 'node:child_process';

/** Runs iproute2 / bpftool without a shell; a failure names the command and its stderr. */
export function run(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new CommandError(`${file} ${args.join(' ')}`, stderr.trim() || err.message));
      else resolve(stdout);
    });
  });
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
  ) {
    super(`${command}: ${stderr}`);
    this.name = 'CommandError';
  }
}

export async function runJson<T>(file: string, args: readonly string[]): Promise<T> {
  const out = await run(file, args);
  try {
    return (out.trim() === '' ? [] : JSON.parse(out)) as T;
  } catch {
    throw new Error(`${file} ${args.join(' ')}: output is not JSON: ${out.slice(0, 200)}`);
  }
}
