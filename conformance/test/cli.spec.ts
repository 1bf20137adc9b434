import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Suite } from '../src';

const run = promisify(execFile);
const repoRoot = path.resolve(__dirname, '..', '..');
const suite = new Suite();

(suite.available ? describe : describe.skip)('tendril conformance run', () => {
  it('runs the named upstream test and reports it passed', async () => {
    const { stdout } = await run(process.execPath, [path.join(repoRoot, 'apps/cli/bin/tendril.js'), 'conformance', 'run', '--run-test', 'HTTPRouteSimpleSameNamespace'], { cwd: repoRoot, timeout: 120_000 });
    expect(stdout).toMatch(/^HTTPRouteSimpleSameNamespace\s+PASSED\s+[\d.]+s$/m);
    expect(stdout).toContain('conformance: 1 passed, 0 failed, 0 not run');
  }, 150_000);

  it('rejects a test name the upstream suite does not have', async () => {
    await expect(run(process.execPath, [path.join(repoRoot, 'apps/cli/bin/tendril.js'), 'conformance', 'run', '--run-test', 'NoSuchTest'], { cwd: repoRoot })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('conformance test "NoSuchTest" is not in'),
    });
  }, 60_000);
});
