import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '../../..');

/**
 * A process that starts a FileSource, sees a change, and stops it must then exit on its own:
 * proof that stop() releases every watcher and timer (a leaked handle keeps the process alive).
 */
describe('FileSource in a process', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tendril-proc-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lets the process exit by itself after stop()', async () => {
    await writeFile(path.join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n');
    const script = path.join(dir, 'run-source.ts');
    await writeFile(
      script,
      `import { writeFileSync } from 'node:fs';
import { FileSource } from ${JSON.stringify(path.join(repoRoot, 'libs/sources/src'))};
const source = new FileSource(${JSON.stringify(dir)});
let changed: () => void;
const change = new Promise<void>((resolve) => (changed = resolve));
source
  .start({
    replaceAll: (_id, objects) => console.log(\`initial \${objects.length}\`),
    applyChanges: (_id, c) => { console.log(\`changed \${c.upserted.length}\`); changed(); },
    errors: () => undefined,
  })
  .then(() => writeFileSync(${JSON.stringify(path.join(dir, 'b.yaml'))}, 'apiVersion: v1\\nkind: Service\\nmetadata:\\n  name: b\\n'))
  .then(() => change)
  .then(() => source.stop())
  .then(() => console.log('stopped'));
`,
    );
    // Numbers logged as separate console.log arguments would be coloured when FORCE_COLOR is set
    // (as Nx sets it for tasks), so the script logs plain strings.
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', script], {
        cwd: repoRoot,
        env: { ...process.env, TSX_TSCONFIG_PATH: path.join(repoRoot, 'tsconfig.json') },
        timeout: 20_000,
      });
      let out = '';
      let err = '';
      child.stdout?.on('data', (d) => (out += d));
      child.stderr?.on('data', (d) => (err += d));
      child.on('exit', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout.trim().split('\n')).toEqual(['initial 1', 'changed 1', 'stopped']);
  }, 30_000);
});
