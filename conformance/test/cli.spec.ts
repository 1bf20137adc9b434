import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { promisify } from 'node:util';
import { Suite } from '../src';

const run = promisify(execFile);
const repoRoot = path.resolve(__dirname, '..', '..');
const suite = new Suite();

(suite.available ? describe : describe.skip)('tendril conformance run', () => {
  it('runs the named upstream test, reports it passed and writes a ConformanceReport', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tendril-report-'));
    const reportFile = path.join(dir, 'report.yaml');
    try {
      const { stdout } = await run(process.execPath, [path.join(repoRoot, 'apps/cli/bin/tendril.js'), 'conformance', 'run', '--run-test', 'HTTPRouteSimpleSameNamespace', '--report', reportFile], { cwd: repoRoot, timeout: 120_000 });
      expect(stdout).toMatch(/^HTTPRouteSimpleSameNamespace\s+PASSED\s+[\d.]+s$/m);
      expect(stdout).toContain('conformance: 1 passed, 0 failed, 0 not run');
      const report = parse(readFileSync(reportFile, 'utf8'));
      expect(report).toMatchObject({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'ConformanceReport', profiles: [{ name: 'GATEWAY-HTTP', core: { statistics: { Passed: 1, Failed: 0 } } }] });
      // Only one test ran: the report must not read as a complete pass.
      expect(report.profiles[0].core.result).toBe('partial');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it('--profiles GATEWAY-GRPC: runs a gRPC test and reports it under the GATEWAY-GRPC profile', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tendril-report-'));
    const reportFile = path.join(dir, 'report.yaml');
    try {
      const { stdout } = await run(process.execPath, [path.join(repoRoot, 'apps/cli/bin/tendril.js'), 'conformance', 'run', '--profiles', 'GATEWAY-GRPC', '--run-test', 'GRPCExactMethodMatching', '--report', reportFile], { cwd: repoRoot, timeout: 120_000 });
      expect(stdout).toMatch(/^GRPCExactMethodMatching\s+PASSED\s+[\d.]+s$/m);
      const report = parse(readFileSync(reportFile, 'utf8'));
      expect(report.profiles).toEqual([expect.objectContaining({ name: 'GATEWAY-GRPC', core: expect.objectContaining({ result: 'partial', statistics: expect.objectContaining({ Passed: 1, Failed: 0 }) }) })]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it('--profiles GATEWAY-TCP: runs a TCPRoute test and reports it under the GATEWAY-TCP profile, as a provisional test that passed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tendril-report-'));
    const reportFile = path.join(dir, 'report.yaml');
    try {
      const { stdout } = await run(process.execPath, [path.join(repoRoot, 'apps/cli/bin/tendril.js'), 'conformance', 'run', '--profiles', 'GATEWAY-TCP', '--run-test', 'TCPRouteWeightedRouting', '--report', reportFile], { cwd: repoRoot, timeout: 120_000 });
      expect(stdout).toMatch(/^TCPRouteWeightedRouting\s+PASSED\s+[\d.]+s$/m);
      const report = parse(readFileSync(reportFile, 'utf8'));
      expect(report.profiles).toEqual([expect.objectContaining({ name: 'GATEWAY-TCP', core: expect.objectContaining({ result: 'partial', statistics: expect.objectContaining({ Passed: 1, Failed: 0 }) }) })]);
      expect(report.succeededProvisionalTests).toEqual(['TCPRouteWeightedRouting']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it('rejects a profile the upstream suite does not have', async () => {
    await expect(run(process.execPath, [path.join(repoRoot, 'apps/cli/bin/tendril.js'), 'conformance', 'run', '--profiles', 'GATEWAY-HTTP,GATEWAY-FTP'], { cwd: repoRoot })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown conformance profile GATEWAY-FTP'),
    });
  }, 60_000);

  it('rejects a test name the upstream suite does not have', async () => {
    await expect(run(process.execPath, [path.join(repoRoot, 'apps/cli/bin/tendril.js'), 'conformance', 'run', '--run-test', 'NoSuchTest'], { cwd: repoRoot })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('conformance test "NoSuchTest" is not in'),
    });
  }, 60_000);
});
