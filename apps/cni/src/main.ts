import { runCni } from '@tendril/cni';

async function readStdin(): Promise<string> {
  // VERSION is called without stdin by some runtimes; a TTY means nobody is piping a config.
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const outcome = await runCni(process.env, await readStdin());
  if (outcome.stdout !== '') process.stdout.write(`${outcome.stdout}\n`);
  process.exitCode = outcome.exitCode;
}

void main();
