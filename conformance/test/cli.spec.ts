import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { promisify } from 'node:util';
import { CONFORMANCE_PROFILES, SUPPORTED_TESTS, Suite } from '../src';

const execFileAsync = promisify(execFile);
const repoRoot = path.resolve(__dirname, '..', '..');
const suite = new Suite();
// Each run starts an agent, a proxy and echo pods in a process of its own: minutes on a loaded 2-core machine.
jest.setTimeout(300_000);

/** `tendril conformance run ARGS` in a process of its own, as a user runs it. */
function conformanceRun(args: string[], timeoutMs = 240_000): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(process.execPath, [path.join(repoRoot, 'apps/cli/bin/tendril.js'), 'conformance', 'run', ...args], { cwd: repoRoot, timeout: timeoutMs });
}

/** Runs with `--report FILE` and returns the output and the parsed report. */
async function conformanceRunWithReport(args: string[]): Promise<{ stdout: string; reportText: string; report: ReturnType<typeof parse> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tendril-report-'));
  const reportFile = path.join(dir, 'report.yaml');
  try {
    const { stdout } = await conformanceRun([...args, '--report', reportFile]);
    const reportText = readFileSync(reportFile, 'utf8');
    return { stdout, reportText, report: parse(reportText) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

(suite.available ? describe : describe.skip)('tendril conformance run', () => {
  it('--supported-features: a feature subset, one extended test run, the other features unsupported and their tests left out', async () => {
    const { stdout, report } = await conformanceRunWithReport(['--profiles', 'GATEWAY-HTTP', '--supported-features', 'HTTPRouteMethodMatching', '--run-test', 'HTTPRouteMethodMatching']);
    expect(stdout).toMatch(/^HTTPRouteMethodMatching\s+PASSED\s+[\d.]+s$/m);
    expect(stdout).toContain('features from the command line (--supported-features, --exempt-features or --run-test turn inference off): Gateway, HTTPRoute, HTTPRouteMethodMatching, ReferenceGrant\n');
    const coreTests = suite.inventory().filter((t) => t.profiles.includes('GATEWAY-HTTP') && !t.features.some((f) => !CONFORMANCE_PROFILES['GATEWAY-HTTP'].core.includes(f)));
    expect(report).toMatchObject({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'ConformanceReport', mode: 'default' });
    const [http] = report.profiles;
    // --run-test: every other test of the profile whose features are supported is skipped, as upstream.
    expect(http.core).toMatchObject({ result: 'partial', statistics: { Passed: 0, Failed: 0, Skipped: coreTests.length } });
    expect(http.extended).toMatchObject({ result: 'success', statistics: { Passed: 1, Failed: 0, Skipped: 0 }, supportedFeatures: ['HTTPRouteMethodMatching'] });
    expect(http.extended.unsupportedFeatures).toEqual(CONFORMANCE_PROFILES['GATEWAY-HTTP'].extended.filter((f) => f !== 'HTTPRouteMethodMatching').sort());
    expect(stdout).toMatch(/conformance: 1 passed, 0 failed, \d+ skipped, 0 not run, \d+ not supported\n/);
  });

  it('--run-test with --exempt-features removing one of its features: not run, said so, and left out of the report', async () => {
    const { stdout, report } = await conformanceRunWithReport(['--profiles', 'GATEWAY-HTTP', '--all-features', '--exempt-features', 'HTTPRouteQueryParamMatching', '--run-test', 'HTTPRouteQueryParamMatching']);
    expect(stdout).toContain('HTTPRouteQueryParamMatching  NOT SUPPORTED: it needs HTTPRouteQueryParamMatching, which the run does not claim\n');
    expect(stdout).toMatch(/conformance: 0 passed, 0 failed, \d+ skipped, 0 not run, 1 not supported\n/);
    const [http] = report.profiles;
    expect(http.extended.unsupportedFeatures).toEqual(['HTTPRouteQueryParamMatching']);
    expect([...(http.core.skippedTests ?? []), ...(http.extended.skippedTests ?? [])]).not.toContain('HTTPRouteQueryParamMatching');
    expect(http.extended.statistics.Passed + http.core.statistics.Passed).toBe(0);
  });

  it('without feature flags: infers the features from the GatewayClass status, says so, and runs what --skip-tests leaves', async () => {
    const tcpTests = suite.inventory().filter((t) => t.profiles.includes('GATEWAY-TCP'));
    const skipped = tcpTests.map((t) => t.name).filter((n) => n !== 'TCPRouteWeightedRouting');
    const { stdout, reportText, report } = await conformanceRunWithReport(['--profiles', 'GATEWAY-TCP', '--skip-tests', skipped.join(',')]);
    expect(stdout).toMatch(/^Supported features for GatewayClass tendril-conformance \(inferred from its status\): .*\bTCPRoute\b/m);
    expect(stdout).toMatch(/^TCPRouteWeightedRouting\s+PASSED\s+[\d.]+s$/m);
    expect(reportText.split('\n')[0]).toBe('# supported features inferred from GatewayClass tendril-conformance status.supportedFeatures');
    const [tcp] = report.profiles;
    expect(tcp.name).toBe('GATEWAY-TCP');
    expect(tcp.core).toMatchObject({ result: 'partial', statistics: { Passed: 1, Failed: 0 } });
    // Every test tendril's class claims the features of is skipped by name, and counted.
    expect([...tcp.core.skippedTests, ...(tcp.extended?.skippedTests ?? [])].sort()).toEqual([...skipped].sort());
    expect(report.succeededProvisionalTests).toEqual(['TCPRouteWeightedRouting']);
  });

  it('--profiles GATEWAY-GRPC: runs a gRPC test and reports it under the GATEWAY-GRPC profile', async () => {
    const { stdout, report } = await conformanceRunWithReport(['--profiles', 'GATEWAY-GRPC', '--run-test', 'GRPCExactMethodMatching']);
    expect(stdout).toMatch(/^GRPCExactMethodMatching\s+PASSED\s+[\d.]+s$/m);
    expect(report.profiles).toEqual([expect.objectContaining({ name: 'GATEWAY-GRPC', core: expect.objectContaining({ result: 'partial', statistics: expect.objectContaining({ Passed: 1, Failed: 0 }) }) })]);
  });

  it('a profile with a test tendril does not pass: not attempted, said so, and counted as skipped (partial, never success)', async () => {
    // A suite of one GATEWAY-UDP test no supported-tests.ts list names, beside an empty base.
    const dir = mkdtempSync(path.join(tmpdir(), 'tendril-suite-'));
    try {
      const name = 'UDPRouteNotPassedByTendril';
      expect(SUPPORTED_TESTS).not.toContain(name);
      mkdirSync(path.join(dir, 'conformance', 'base'), { recursive: true });
      writeFileSync(path.join(dir, 'conformance', 'base', 'manifests.yaml'), '');
      const test = { name, manifests: [], features: ['Gateway', 'UDPRoute'], profiles: ['GATEWAY-UDP'], profileLevels: { 'GATEWAY-UDP': 'core' }, core: true, provisional: false, mutatesResourcesAtRuntime: false, presentInRelease: { 'v1.6.1': true }, checks: [] };
      writeFileSync(path.join(dir, 'inventory.json'), JSON.stringify([test]));
      const { stdout, report } = await conformanceRunWithReport(['--profiles', 'GATEWAY-UDP', '--all-features', '--suite-dir', path.join(dir, 'conformance')]);
      expect(stdout).toMatch(new RegExp(`^${name}\\s+NOT-RUN\\s+0\\.0s\\n    tendril does not pass this test yet \\(not in conformance/src/supported-tests\\.ts\\)$`, 'm'));
      expect(stdout).toContain('conformance: 0 passed, 0 failed, 0 skipped, 1 not run, 0 not supported\n');
      expect(report.profiles).toEqual([
        { name: 'GATEWAY-UDP', summary: 'Core tests partially succeeded with 1 test skips.', core: { result: 'partial', statistics: { Passed: 0, Failed: 0, Skipped: 1 }, skippedTests: [name] } },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['--profiles', 'GATEWAY-HTTP,GATEWAY-FTP'], 'unknown conformance profile GATEWAY-FTP'],
    [['--run-test', 'NoSuchTest'], '--run-test: no conformance test named NoSuchTest in the suite'],
    [['--skip-tests', 'HTTPRouteMatching,NoSuchTest'], '--skip-tests: no conformance test named NoSuchTest in the suite'],
    [['--supported-features', 'HTTPRouteTeleport'], '--supported-features: unknown feature HTTPRouteTeleport'],
    [['--all-features', '--exempt-features', 'Nope'], '--exempt-features: unknown feature Nope'],
    [['--all-features', '--supported-features', 'HTTPRouteMethodMatching'], '--supported-features and --all-features cannot be used together'],
  ])('rejects %j before running anything', async (args, message) => {
    await expect(conformanceRun(args, 60_000)).rejects.toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining(message) });
  });
});
