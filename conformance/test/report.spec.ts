import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import {
  buildConformanceReport,
  formatConformanceReport,
  type ConformanceReportInput,
  type ReportInventoryTest,
} from '../src/report';
import type { ConformanceTestResult } from '../src/runner';
import { CONFORMANCE_PROFILES, Suite, conformanceReportYaml, selectConformanceTests } from '../src';

const HTTP = 'GATEWAY-HTTP';

function inventoryTest(name: string, features: string[], level: 'core' | 'extended', provisional = false): ReportInventoryTest {
  return { name, features, profiles: [HTTP], profileLevels: { [HTTP]: level }, provisional };
}

const inventory: ReportInventoryTest[] = [
  inventoryTest('CoreA', ['Gateway', 'HTTPRoute'], 'core'),
  inventoryTest('CoreB', ['Gateway', 'HTTPRoute'], 'core'),
  inventoryTest('CoreProvisional', ['Gateway', 'HTTPRoute'], 'core', true),
  inventoryTest('ExtQuery', ['Gateway', 'HTTPRoute', 'HTTPRouteQueryParamMatching'], 'extended'),
  inventoryTest('ExtMethod', ['Gateway', 'HTTPRoute', 'HTTPRouteMethodMatching'], 'extended'),
  inventoryTest('ExtMirror', ['Gateway', 'HTTPRoute', 'HTTPRouteRequestMirror'], 'extended'),
  { name: 'GrpcOnly', features: ['Gateway', 'GRPCRoute'], profiles: ['GATEWAY-GRPC'], profileLevels: { 'GATEWAY-GRPC': 'core' }, provisional: false },
];

function result(name: string, outcome: ConformanceTestResult['outcome']): ConformanceTestResult {
  return { name, outcome, failures: outcome === 'passed' ? [] : ['why'], durationMs: 5 };
}

function input(results: ConformanceTestResult[], supportedFeatures: string[]): ConformanceReportInput {
  return {
    results,
    inventory,
    profiles: [HTTP],
    supportedFeatures,
    implementation: { organization: 'tendril', project: 'tendril', url: 'https://example.invalid/tendril', version: 'v0.1.0', contact: ['@tendril/maintainers'] },
    date: '2026-11-26T14:30:00Z',
    gatewayAPIVersion: 'v1.6.1',
    gatewayAPIChannel: 'standard',
  };
}

describe('buildConformanceReport', () => {
  it('reports a full pass as success with upstream summary and only claimed features', () => {
    const report = buildConformanceReport(
      input(
        ['CoreA', 'CoreB', 'CoreProvisional', 'ExtQuery', 'ExtMethod'].map((n) => result(n, 'passed')),
        ['HTTPRouteQueryParamMatching', 'HTTPRouteMethodMatching'],
      ),
    );
    expect(report).toEqual({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'ConformanceReport',
      implementation: { organization: 'tendril', project: 'tendril', url: 'https://example.invalid/tendril', version: 'v0.1.0', contact: ['@tendril/maintainers'] },
      date: '2026-11-26T14:30:00Z',
      gatewayAPIVersion: 'v1.6.1',
      gatewayAPIChannel: 'standard',
      mode: 'default',
      profiles: [
        {
          name: HTTP,
          summary: 'Core tests succeeded. Extended tests succeeded.',
          core: { result: 'success', statistics: { Passed: 3, Failed: 0, Skipped: 0 } },
          extended: {
            result: 'success',
            statistics: { Passed: 2, Failed: 0, Skipped: 0 },
            supportedFeatures: ['HTTPRouteMethodMatching', 'HTTPRouteQueryParamMatching'],
            // ExtMirror needs it, is NOT_SUPPORTED, and is left out of the numbers.
            unsupportedFeatures: ['HTTPRouteRequestMirror'],
          },
        },
      ],
      succeededProvisionalTests: ['CoreProvisional'],
    });
  });

  it('counts failures and skips per level and derives failure / partial as upstream', () => {
    const report = buildConformanceReport({
      ...input(
        [result('CoreB', 'failed'), result('CoreA', 'passed'), result('ExtQuery', 'not-run'), result('CoreProvisional', 'failed')],
        ['HTTPRouteQueryParamMatching', 'HTTPRouteMethodMatching', 'HTTPRouteRequestMirror'],
      ),
      mode: 'cluster-free',
    });
    expect(report.mode).toBe('cluster-free');
    expect(report.profiles[0]).toEqual({
      name: HTTP,
      summary: 'Core tests failed with 2 test failures. Extended tests partially succeeded with 3 test skips.',
      core: { result: 'failure', statistics: { Passed: 1, Failed: 2, Skipped: 0 }, failedTests: ['CoreB', 'CoreProvisional'] },
      extended: {
        result: 'partial',
        // ExtQuery was not run; ExtMethod and ExtMirror have no result at all.
        statistics: { Passed: 0, Failed: 0, Skipped: 3 },
        skippedTests: ['ExtMethod', 'ExtMirror', 'ExtQuery'],
        supportedFeatures: ['HTTPRouteMethodMatching', 'HTTPRouteQueryParamMatching', 'HTTPRouteRequestMirror'],
      },
    });
    expect(report.succeededProvisionalTests).toBeUndefined();
  });

  it('leaves the extended section out when no extended feature is claimed', () => {
    const report = buildConformanceReport(input([result('CoreA', 'passed'), result('CoreB', 'passed')], []));
    expect(report.profiles[0]).toEqual({
      name: HTTP,
      summary: 'Core tests partially succeeded with 1 test skips.',
      core: { result: 'partial', statistics: { Passed: 2, Failed: 0, Skipped: 1 }, skippedTests: ['CoreProvisional'] },
    });
  });

  it('rejects results and profiles the inventory does not know, and duplicate results', () => {
    expect(() => buildConformanceReport(input([result('NoSuchTest', 'passed')], []))).toThrow(/"NoSuchTest", which is not in the inventory/);
    expect(() => buildConformanceReport(input([result('CoreA', 'passed'), result('CoreA', 'failed')], []))).toThrow(/"CoreA" has more than one result/);
    expect(() => buildConformanceReport({ ...input([], []), profiles: ['GATEWAY-NOPE'] })).toThrow(/profile "GATEWAY-NOPE"/);
    expect(() => buildConformanceReport({ ...input([], []), profiles: [] })).toThrow(/at least one profile/);
    const withoutProfiles = [{ name: 'Old', features: ['Gateway'], core: true }] as unknown as ReportInventoryTest[];
    expect(() => buildConformanceReport({ ...input([], []), inventory: withoutProfiles })).toThrow(/inventory entry 0 is not a conformance test/);
  });
});

describe('formatConformanceReport', () => {
  it('writes YAML with keys in name order and unindented lists, as the upstream suite does', () => {
    const report = buildConformanceReport(input([result('CoreA', 'passed'), result('CoreB', 'failed')], []));
    const text = formatConformanceReport(report);
    expect(text).toBe(
      [
        'apiVersion: gateway.networking.k8s.io/v1',
        'date: "2026-11-26T14:30:00Z"',
        'gatewayAPIChannel: standard',
        'gatewayAPIVersion: v1.6.1',
        'implementation:',
        '  contact:',
        '  - "@tendril/maintainers"',
        '  organization: tendril',
        '  project: tendril',
        '  url: https://example.invalid/tendril',
        '  version: v0.1.0',
        'kind: ConformanceReport',
        'mode: default',
        'profiles:',
        '- core:',
        '    failedTests:',
        '    - CoreB',
        '    result: failure',
        '    skippedTests:',
        '    - CoreProvisional',
        '    statistics:',
        '      Failed: 1',
        '      Passed: 1',
        '      Skipped: 1',
        '  name: GATEWAY-HTTP',
        '  summary: Core tests failed with 1 test failures.',
        '',
      ].join('\n'),
    );
    expect(parse(text)).toEqual(report);
  });
});

const INVENTORY_FILE = path.resolve(__dirname, '../../../shared/gateway-api/inventory.json');
const describeWithInventory = existsSync(INVENTORY_FILE) ? describe : describe.skip;

describeWithInventory('buildConformanceReport on the upstream inventory', () => {
  const realInventory = JSON.parse(readFileSync(INVENTORY_FILE, 'utf8')) as ReportInventoryTest[];
  const profileTests = realInventory.filter((t) => t.profiles.includes(HTTP));
  const claimed = ['HTTPRouteQueryParamMatching', 'HTTPRouteMethodMatching', 'HTTPRouteResponseHeaderModification'];

  it('accounts for every GATEWAY-HTTP test: counted, or left out because it needs an unclaimed feature', () => {
    const results = profileTests.slice(0, 20).map((t, i) => result(t.name, i % 5 === 0 ? 'failed' : 'passed'));
    const report = buildConformanceReport({ ...input(results, claimed), inventory: realInventory });
    const http = report.profiles[0];
    const counted = (s?: { statistics: { Passed: number; Failed: number; Skipped: number } }): number =>
      s ? s.statistics.Passed + s.statistics.Failed + s.statistics.Skipped : 0;
    const coreFeatures = new Set(profileTests.filter((t) => t.profileLevels[HTTP] === 'core').flatMap((t) => t.features));
    const notSupported = profileTests.filter((t) => t.features.some((f) => !coreFeatures.has(f) && !claimed.includes(f)));

    expect(notSupported.length).toBeGreaterThan(0);
    expect(counted(http.core) + counted(http.extended) + notSupported.length).toBe(profileTests.length);
    expect(counted(http.core)).toBe(profileTests.filter((t) => t.profileLevels[HTTP] === 'core').length);
    expect(http.core.statistics.Failed + (http.extended?.statistics.Failed ?? 0)).toBe(results.filter((r) => r.outcome === 'failed').length);
    expect([...(http.extended?.supportedFeatures ?? [])].sort()).toEqual([...claimed].sort());
  });
});

const UPSTREAM_REPORTS_FILE = path.resolve(__dirname, '../../../shared/gateway-api/reports-v1.5-v1.6.json');
const describeWithReports = existsSync(INVENTORY_FILE) && existsSync(UPSTREAM_REPORTS_FILE) ? describe : describe.skip;

/** One profile of one upstream report, as reports-v1.5-v1.6.json parses it. */
interface UpstreamProfileNumbers {
  corePassed: number;
  coreFailed: number;
  coreSkipped: number;
  coreResult: string;
  coreSkippedTests: string[];
  coreFailedTests: string[];
  extPassed: number | null;
  extFailed: number | null;
  extSkipped: number | null;
  extResult: string | null;
  extSkippedTests: string[] | null;
  extFailedTests: string[] | null;
  supported: string[];
  unsupported: string[];
}

interface UpstreamReportNumbers {
  release: string;
  project: string;
  version: string;
  profiles: Record<string, UpstreamProfileNumbers>;
}

describeWithReports('buildConformanceReport against published upstream reports', () => {
  const realInventory = JSON.parse(readFileSync(INVENTORY_FILE, 'utf8')) as Array<ReportInventoryTest & { presentInRelease: Record<string, boolean> }>;
  const reports = JSON.parse(readFileSync(UPSTREAM_REPORTS_FILE, 'utf8')) as UpstreamReportNumbers[];

  it.each([
    ['agentgateway', 'v1.3.1', 'v1.6', 'v1.6.1'],
    ['aws-load-balancer-controller', 'v3.5.0', 'v1.6', 'v1.6.1'],
    ['cilium', 'v1.20.0', 'v1.6', 'v1.6.1'],
  ])('reproduces the numbers %s %s published under reports/%s', (project, version, release, suiteRelease) => {
    const upstream = reports.find((r) => r.release === release && r.project === project && r.version === version);
    if (!upstream) throw new Error(`no ${release} report for ${project} ${version} in ${UPSTREAM_REPORTS_FILE}`);
    const profiles = Object.keys(upstream.profiles);
    const skipped = new Set(Object.values(upstream.profiles).flatMap((p) => [...p.coreSkippedTests, ...(p.extSkippedTests ?? [])]));
    const failed = new Set(Object.values(upstream.profiles).flatMap((p) => [...p.coreFailedTests, ...(p.extFailedTests ?? [])]));
    // The suite of that release, plus any test the report names: some were run from a later patch.
    const suite = realInventory.filter((t) => t.presentInRelease[suiteRelease] || skipped.has(t.name) || failed.has(t.name));
    const results = suite
      .filter((t) => t.profiles.some((p) => profiles.includes(p)))
      .map((t) => result(t.name, failed.has(t.name) ? 'failed' : skipped.has(t.name) ? 'not-run' : 'passed'));
    const supportedFeatures = [...new Set(Object.values(upstream.profiles).flatMap((p) => p.supported))];
    const extendedFeatures = Object.fromEntries(Object.entries(upstream.profiles).map(([name, p]) => [name, [...p.supported, ...p.unsupported]]));

    const report = buildConformanceReport({ ...input(results, supportedFeatures), inventory: suite, profiles, extendedFeatures });

    expect(report.profiles.map((p) => p.name)).toEqual(profiles);
    for (const ours of report.profiles) {
      const theirs = upstream.profiles[ours.name];
      expect({ profile: ours.name, core: ours.core.statistics, result: ours.core.result, skipped: ours.core.skippedTests ?? [] }).toEqual({
        profile: ours.name,
        core: { Passed: theirs.corePassed, Failed: theirs.coreFailed, Skipped: theirs.coreSkipped },
        result: theirs.coreResult,
        skipped: [...theirs.coreSkippedTests].sort(),
      });
      // The parsed numbers say null where the report has no extended section.
      const theirExtended = theirs.extResult === null ? undefined : { Passed: theirs.extPassed, Failed: theirs.extFailed, Skipped: theirs.extSkipped };
      expect({ profile: ours.name, extended: ours.extended?.statistics, result: ours.extended?.result, skipped: ours.extended?.skippedTests ?? [] }).toEqual({
        profile: ours.name,
        extended: theirExtended,
        result: theirs.extResult ?? undefined,
        skipped: [...(theirs.extSkippedTests ?? [])].sort(),
      });
      if (ours.extended) {
        expect(ours.extended.supportedFeatures ?? []).toEqual([...theirs.supported].sort());
        expect(ours.extended.unsupportedFeatures ?? []).toEqual([...theirs.unsupported].sort());
      }
    }
  });
});

const suite = new Suite();

(suite.available ? describe : describe.skip)('conformanceReportYaml: the report of a selection', () => {
  const profileTests = (profile: string): string[] => suite.inventory().filter((t) => t.profiles.includes(profile)).map((t) => t.name);

  it('--all-features on a profile whose own tests did not run: every one counted as skipped, every extended feature claimed', () => {
    const selection = selectConformanceTests({ profiles: ['GATEWAY-UDP'], allFeatures: true }, suite.inventory());
    const udpOwn = profileTests('GATEWAY-UDP').filter((n) => n.startsWith('UDPRoute'));
    const results = selection.tests.map((t) => result(t.name, udpOwn.includes(t.name) ? 'not-run' : 'passed'));
    const text = conformanceReportYaml({ results, suite, selection, profiles: ['GATEWAY-UDP'], gatewayClassName: 'tendril-conformance', date: '2026-11-27T00:00:00Z' });
    expect(text.startsWith('apiVersion: gateway.networking.k8s.io/v1\n')).toBe(true);
    const [udp] = parse(text).profiles;
    expect(udp.core).toEqual({ result: 'partial', statistics: { Passed: 12, Failed: 0, Skipped: 9 }, skippedTests: [...udpOwn].sort() });
    expect(udp.extended.statistics.Failed).toBe(0);
    expect(udp.extended.supportedFeatures).toEqual([...CONFORMANCE_PROFILES['GATEWAY-UDP'].extended].sort());
    expect(udp.extended.unsupportedFeatures).toBeUndefined();
    expect(udp.summary).toMatch(/^Core tests partially succeeded with 9 test skips\. /);
    // Provisional tests that passed, whatever their profile; UDPRoute did not run.
    expect(parse(text).succeededProvisionalTests).toEqual(['GatewayInfrastructure', 'GatewayOptionalAddressValue']);
  });

  it('--exempt-features and --skip-tests: the exempt feature is unsupported and its tests left out, skipped tests counted as Skipped', () => {
    const selection = selectConformanceTests({ profiles: ['GATEWAY-HTTP'], allFeatures: true, exemptFeatures: ['ListenerSet'], skipTests: ['HTTPRouteMethodMatching', 'HTTPRouteMatching'] }, suite.inventory());
    const results = selection.tests.flatMap((t) => (t.decision === 'run' ? [result(t.name, 'passed')] : t.decision === 'skipped' ? [result(t.name, 'skipped')] : []));
    const [http] = parse(conformanceReportYaml({ results, suite, selection, profiles: ['GATEWAY-HTTP'], gatewayClassName: 'tendril-conformance', date: '2026-11-27T00:00:00Z' })).profiles;
    const listenerSetTests = profileTests('GATEWAY-HTTP').filter((n) => suite.test(n).features.includes('ListenerSet'));
    expect(listenerSetTests.length).toBeGreaterThan(0);
    expect(http.extended.unsupportedFeatures).toEqual(['ListenerSet']);
    expect(http.extended.supportedFeatures).not.toContain('ListenerSet');
    expect(http.core.skippedTests).toEqual(['HTTPRouteMatching']);
    expect(http.extended.skippedTests).toEqual(['HTTPRouteMethodMatching']);
    const counted = (s: { statistics: { Passed: number; Failed: number; Skipped: number } }): number => s.statistics.Passed + s.statistics.Failed + s.statistics.Skipped;
    expect(counted(http.core) + counted(http.extended)).toBe(profileTests('GATEWAY-HTTP').length - listenerSetTests.length);
  });

  it('says in a leading comment when the features were inferred from the GatewayClass status, and only then', () => {
    const inferred = selectConformanceTests({ profiles: ['GATEWAY-HTTP'] }, suite.inventory(), ['Gateway', 'HTTPRoute', 'ReferenceGrant', 'HTTPRouteMethodMatching']);
    const results = inferred.tests.flatMap((t) => (t.decision === 'run' ? [result(t.name, 'passed')] : []));
    const text = conformanceReportYaml({ results, suite, selection: inferred, profiles: ['GATEWAY-HTTP'], gatewayClassName: 'tendril-conformance', date: '2026-11-27T00:00:00Z' });
    expect(text.split('\n')[0]).toBe('# supported features inferred from GatewayClass tendril-conformance status.supportedFeatures');
    const [http] = parse(text).profiles;
    expect(http.extended.supportedFeatures).toEqual(['HTTPRouteMethodMatching']);
    expect(http.core.result).toBe('success');
    const manual = selectConformanceTests({ profiles: ['GATEWAY-HTTP'], supportedFeatures: ['HTTPRouteMethodMatching'] }, suite.inventory());
    expect(conformanceReportYaml({ results, suite, selection: manual, profiles: ['GATEWAY-HTTP'], gatewayClassName: 'tendril-conformance', date: '2026-11-27T00:00:00Z' })).not.toContain('#');
  });
});
