import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ALL_FEATURES, CONFORMANCE_PROFILES, formatConformanceResults, isExtendedIn, selectConformanceTests, testCountsIn, type ConformanceTestResult, type SelectableTest, type TestSelection } from '../src';

const inventory: SelectableTest[] = [
  { name: 'CoreA', features: ['Gateway', 'HTTPRoute'] },
  { name: 'CoreB', features: ['Gateway', 'HTTPRoute'] },
  { name: 'ExtQuery', features: ['Gateway', 'HTTPRoute', 'HTTPRouteQueryParamMatching'] },
  { name: 'ExtMirror', features: ['Gateway', 'HTTPRoute', 'HTTPRouteRequestMirror'] },
  { name: 'GrpcCore', features: ['Gateway', 'GRPCRoute'] },
  { name: 'GrpcNoProfile', features: ['Gateway', 'GRPCRoute', 'GRPCRouteRequestHeaderModifier'] },
  { name: 'UdpCore', features: ['Gateway', 'UDPRoute'] },
];

const decisions = (s: TestSelection): Record<string, string> => Object.fromEntries(s.tests.map((t) => [t.name, t.decision === 'not-supported' ? `not-supported: ${t.missingFeatures.join(',')}` : t.decision]));

describe('selectConformanceTests (upstream feature selection)', () => {
  it('--all-features claims every feature: every test of the profiles runs', () => {
    const s = selectConformanceTests({ profiles: ['GATEWAY-HTTP'], allFeatures: true }, inventory);
    expect(s.source).toBe('all-features');
    expect(s.supportedFeatures).toEqual([...ALL_FEATURES]);
    // Tests outside the requested profiles are not selected at all (GrpcCore, UdpCore, GrpcNoProfile).
    expect(decisions(s)).toEqual({ CoreA: 'run', CoreB: 'run', ExtQuery: 'run', ExtMirror: 'run' });
  });

  it('--supported-features claims exactly those plus the profiles\' core features', () => {
    const s = selectConformanceTests({ profiles: ['GATEWAY-HTTP', 'GATEWAY-GRPC'], supportedFeatures: ['HTTPRouteQueryParamMatching'] }, inventory);
    expect(s.source).toBe('supported-features');
    expect(s.supportedFeatures).toEqual(['GRPCRoute', 'Gateway', 'HTTPRoute', 'HTTPRouteQueryParamMatching', 'ReferenceGrant']);
    expect(decisions(s)).toEqual({ CoreA: 'run', CoreB: 'run', ExtQuery: 'run', ExtMirror: 'not-supported: HTTPRouteRequestMirror', GrpcCore: 'run' });
  });

  it('with neither, infers the features from the GatewayClass status; an empty status is an error', () => {
    const s = selectConformanceTests({ profiles: ['GATEWAY-HTTP'] }, inventory, ['Gateway', 'HTTPRoute', 'HTTPRouteRequestMirror']);
    expect(s.source).toBe('gateway-class');
    expect(decisions(s)).toEqual({ CoreA: 'run', CoreB: 'run', ExtQuery: 'not-supported: HTTPRouteQueryParamMatching', ExtMirror: 'run' });
    expect(() => selectConformanceTests({ profiles: ['GATEWAY-HTTP'] }, inventory, [])).toThrow('no supported features were determined');
  });

  it('--exempt-features removes features, from --all-features too, and turns inference off', () => {
    const s = selectConformanceTests({ profiles: ['GATEWAY-HTTP'], allFeatures: true, exemptFeatures: ['HTTPRouteRequestMirror'] }, inventory);
    expect(s.supportedFeatures).not.toContain('HTTPRouteRequestMirror');
    expect(decisions(s)['ExtMirror']).toBe('not-supported: HTTPRouteRequestMirror');
    // No GatewayClass features needed: exempting alone means "the profiles' core features minus these".
    const exemptOnly = selectConformanceTests({ profiles: ['GATEWAY-HTTP'], exemptFeatures: ['HTTPRouteQueryParamMatching'] }, inventory);
    expect(exemptOnly.source).toBe('supported-features');
    expect(decisions(exemptOnly)).toEqual({ CoreA: 'run', CoreB: 'run', ExtQuery: 'not-supported: HTTPRouteQueryParamMatching', ExtMirror: 'not-supported: HTTPRouteRequestMirror' });
  });

  it('--skip-tests and --run-test skip the other tests (counted as skipped); an unsupported test stays not-supported', () => {
    const skip = selectConformanceTests({ profiles: ['GATEWAY-HTTP'], allFeatures: true, skipTests: ['CoreB', 'ExtQuery'] }, inventory);
    expect(decisions(skip)).toEqual({ CoreA: 'run', CoreB: 'skipped', ExtQuery: 'skipped', ExtMirror: 'run' });
    const one = selectConformanceTests({ profiles: ['GATEWAY-HTTP'], runTest: 'CoreB', supportedFeatures: ['HTTPRouteQueryParamMatching'] }, inventory);
    expect(decisions(one)).toEqual({ CoreA: 'skipped', CoreB: 'run', ExtQuery: 'skipped', ExtMirror: 'not-supported: HTTPRouteRequestMirror' });
    expect(one.tests.find((t) => t.name === 'CoreA')).toEqual({ name: 'CoreA', decision: 'skipped', reason: '--run-test CoreB' });
  });

  it('--run-test selects a test of no requested profile (GRPCRoute tests outside every profile)', () => {
    const s = selectConformanceTests({ profiles: ['GATEWAY-GRPC'], runTest: 'GrpcNoProfile', supportedFeatures: ['GRPCRouteRequestHeaderModifier'] }, inventory);
    expect(decisions(s)).toEqual({ GrpcCore: 'skipped', GrpcNoProfile: 'run' });
    // Without the feature it is NOT_SUPPORTED, as upstream (not silently dropped).
    const unclaimed = selectConformanceTests({ profiles: ['GATEWAY-GRPC'], runTest: 'GrpcNoProfile' }, inventory);
    expect(decisions(unclaimed)['GrpcNoProfile']).toBe('not-supported: GRPCRouteRequestHeaderModifier');
  });

  it('rejects unknown profiles, features and tests, and --supported-features with --all-features', () => {
    expect(() => selectConformanceTests({ profiles: ['GATEWAY-FTP'], allFeatures: true }, inventory)).toThrow('unknown conformance profile GATEWAY-FTP (known: GATEWAY-GRPC, GATEWAY-HTTP, GATEWAY-TCP, GATEWAY-TLS, GATEWAY-UDP, MESH-GRPC, MESH-HTTP)');
    expect(() => selectConformanceTests({ profiles: [], allFeatures: true }, inventory)).toThrow('--profiles needs at least one conformance profile');
    expect(() => selectConformanceTests({ profiles: ['GATEWAY-HTTP'], supportedFeatures: ['HTTPRouteQueryParamMatching', 'HTTPRouteTeleport'] }, inventory)).toThrow(/^--supported-features: unknown feature HTTPRouteTeleport \(the suite's features are BackendTLSPolicy, /);
    expect(() => selectConformanceTests({ profiles: ['GATEWAY-HTTP'], exemptFeatures: ['Nope', 'Nada'] }, inventory)).toThrow(/^--exempt-features: unknown features Nope, Nada /);
    expect(() => selectConformanceTests({ profiles: ['GATEWAY-HTTP'], allFeatures: true, skipTests: ['CoreA', 'NoSuchTest'] }, inventory)).toThrow('--skip-tests: no conformance test named NoSuchTest in the suite');
    expect(() => selectConformanceTests({ profiles: ['GATEWAY-HTTP'], runTest: 'NoSuchTest' }, inventory)).toThrow('--run-test: no conformance test named NoSuchTest in the suite');
    expect(() => selectConformanceTests({ profiles: ['GATEWAY-HTTP'], allFeatures: true, supportedFeatures: ['HTTPRouteQueryParamMatching'] }, inventory)).toThrow('--supported-features and --all-features cannot be used together');
  });
});

describe('formatConformanceResults', () => {
  const result = (name: string, outcome: ConformanceTestResult['outcome'], failures: string[] = []): ConformanceTestResult => ({ name, outcome, failures, durationMs: 1_500 });

  it('prints each test run or skipped by name with why, the claimed features and the counts', () => {
    const selection = selectConformanceTests({ profiles: ['GATEWAY-HTTP'], supportedFeatures: ['HTTPRouteQueryParamMatching'], skipTests: ['CoreB'] }, inventory);
    const text = formatConformanceResults(selection, [result('CoreA', 'failed', ['status 404, want 200']), result('CoreB', 'skipped', ['named by --skip-tests']), result('ExtQuery', 'passed')]);
    expect(text).toBe(
      [
        'CoreA     FAILED   1.5s',
        '    status 404, want 200',
        'CoreB     SKIPPED  1.5s',
        '    named by --skip-tests',
        'ExtQuery  PASSED   1.5s',
        'features from the command line (--supported-features, --exempt-features or --run-test turn inference off): Gateway, HTTPRoute, HTTPRouteQueryParamMatching, ReferenceGrant',
        'not supported, as they need features the run does not claim: HTTPRouteRequestMirror',
        'conformance: 1 passed, 1 failed, 1 skipped, 0 not run, 1 not supported',
        '',
      ].join('\n'),
    );
  });

  it('says so when the test --run-test names is not supported, and counts the tests it leaves out', () => {
    const selection = selectConformanceTests({ profiles: ['GATEWAY-HTTP'], runTest: 'ExtMirror', exemptFeatures: ['HTTPRouteRequestMirror'] }, inventory);
    const text = formatConformanceResults(selection, [result('CoreA', 'skipped', ['--run-test ExtMirror']), result('CoreB', 'skipped', ['--run-test ExtMirror'])]);
    expect(text).toContain('ExtMirror  NOT SUPPORTED: it needs HTTPRouteRequestMirror, which the run does not claim\n');
    expect(text).not.toContain('CoreA');
    expect(text).toContain('conformance: 0 passed, 0 failed, 2 skipped, 0 not run, 2 not supported\n');
  });
});

const INVENTORY_FILE = path.resolve(__dirname, '../../../shared/gateway-api/inventory.json');

(existsSync(INVENTORY_FILE) ? describe : describe.skip)('CONFORMANCE_PROFILES against the upstream inventory', () => {
  const realInventory = JSON.parse(readFileSync(INVENTORY_FILE, 'utf8')) as Array<{ name: string; features: string[]; profiles: string[]; profileLevels: Record<string, string> }>;

  it('puts every test in the profiles and at the levels inventory.json gives, and knows every feature a test needs', () => {
    const derived = realInventory.map((t) => {
      const profiles = Object.values(CONFORMANCE_PROFILES).filter((p) => testCountsIn(p, t.features));
      return { name: t.name, profiles: profiles.map((p) => p.name).sort(), levels: Object.fromEntries(profiles.map((p) => [p.name, isExtendedIn(p, t.features) ? 'extended' : 'core'])) };
    });
    expect(derived).toEqual(realInventory.map((t) => ({ name: t.name, profiles: [...t.profiles].sort(), levels: t.profileLevels })));
    expect(realInventory.flatMap((t) => t.features).filter((f) => !ALL_FEATURES.includes(f))).toEqual([]);
  });
});
