import { ALL_FEATURES, conformanceProfile, testCountsIn } from './profiles';

/**
 * Which upstream tests a run attempts, and which features it claims, with the upstream suite's
 * semantics (conformance/utils/suite/suite.go NewConformanceTestSuite and Run, flags in
 * conformance/utils/flags):
 *
 * * --all-features claims every feature the suite knows; --supported-features exactly those; with
 *   neither (and no --exempt-features or --run-test) the features are inferred from the
 *   GatewayClass's status.supportedFeatures. --exempt-features is removed in every case.
 * * Every requested profile then adds its core features.
 * * A test whose features are not all supported is NOT_SUPPORTED: not run, left out of the report.
 * * A test named by --skip-tests, or any test but the one --run-test names, is SKIPPED: not run,
 *   counted as skipped in the report.
 *
 * One difference, on purpose: upstream attempts every test whose features are supported, whatever
 * the requested profiles, and reports only those of the profiles. Here a test runs only when it
 * counts in a requested profile (or --run-test names it), so no time goes to tests the report
 * would not show.
 */

export interface FeatureSelectionOptions {
  /** Requested conformance profiles (--profiles). */
  profiles: readonly string[];
  /** --supported-features. */
  supportedFeatures?: readonly string[];
  /** --all-features. */
  allFeatures?: boolean;
  /** --exempt-features. */
  exemptFeatures?: readonly string[];
  /** --skip-tests. */
  skipTests?: readonly string[];
  /** --run-test. */
  runTest?: string;
}

/** The inventory.json fields selection reads. */
export interface SelectableTest {
  name: string;
  features: string[];
}

/** Where the claimed features came from. */
export type FeatureSource = 'all-features' | 'supported-features' | 'gateway-class';

export type TestDecision =
  | { name: string; decision: 'run' }
  | { name: string; decision: 'skipped'; reason: string }
  | { name: string; decision: 'not-supported'; missingFeatures: string[] };

export interface TestSelection {
  source: FeatureSource;
  /** Every supported feature, the requested profiles' core features included, sorted. */
  supportedFeatures: string[];
  /** The tests of the requested profiles (and the one --run-test names), in inventory order. */
  tests: TestDecision[];
  /** --run-test, when given. */
  runTest?: string;
}

/** Upstream shouldInferSupportedFeatures: inferred only when nothing on the command line picks what to test. */
export function infersSupportedFeatures(opts: FeatureSelectionOptions): boolean {
  return !opts.allFeatures && (opts.supportedFeatures ?? []).length === 0 && (opts.exemptFeatures ?? []).length === 0 && opts.runTest === undefined;
}

function unknownNames(names: readonly string[], known: ReadonlySet<string>): string[] {
  return [...new Set(names.filter((n) => !known.has(n)))];
}

/**
 * Checks the options before anything is started: unknown profiles, features and test names, and
 * --supported-features together with --all-features, are errors rather than an empty run.
 */
export function validateFeatureSelection(opts: FeatureSelectionOptions, inventory: readonly SelectableTest[]): void {
  if (opts.profiles.length === 0) throw new Error('--profiles needs at least one conformance profile');
  for (const p of opts.profiles) conformanceProfile(p);
  if (opts.allFeatures && (opts.supportedFeatures ?? []).length > 0) throw new Error('--supported-features and --all-features cannot be used together: --all-features already claims every feature');
  const features = new Set(ALL_FEATURES);
  for (const [flag, names] of [
    ['--supported-features', opts.supportedFeatures ?? []],
    ['--exempt-features', opts.exemptFeatures ?? []],
  ] as const) {
    const unknown = unknownNames(names, features);
    if (unknown.length > 0) throw new Error(`${flag}: unknown feature${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (the suite's features are ${ALL_FEATURES.join(', ')})`);
  }
  const tests = new Set(inventory.map((t) => t.name));
  const unknownSkipped = unknownNames(opts.skipTests ?? [], tests);
  if (unknownSkipped.length > 0) throw new Error(`--skip-tests: no conformance test named ${unknownSkipped.join(', ')} in the suite`);
  if (opts.runTest !== undefined && !tests.has(opts.runTest)) throw new Error(`--run-test: no conformance test named ${opts.runTest} in the suite`);
}

/**
 * The upstream decision for every test of the requested profiles. `gatewayClassFeatures` is the
 * GatewayClass's status.supportedFeatures, needed only when the features are inferred
 * (infersSupportedFeatures); inferring nothing is an error, as upstream.
 */
export function selectConformanceTests(opts: FeatureSelectionOptions, inventory: readonly SelectableTest[], gatewayClassFeatures?: readonly string[]): TestSelection {
  validateFeatureSelection(opts, inventory);
  const exempt = new Set(opts.exemptFeatures ?? []);
  let source: FeatureSource;
  let claimed: readonly string[];
  if (opts.allFeatures) {
    source = 'all-features';
    claimed = ALL_FEATURES;
  } else if (infersSupportedFeatures(opts)) {
    if (gatewayClassFeatures === undefined) throw new Error('the supported features are inferred from the GatewayClass status, which was not read');
    if (gatewayClassFeatures.length === 0) throw new Error('no supported features were determined: the GatewayClass status lists none (pass --supported-features or --all-features)');
    source = 'gateway-class';
    claimed = gatewayClassFeatures;
  } else {
    source = 'supported-features';
    claimed = opts.supportedFeatures ?? [];
  }
  const supported = new Set(claimed.filter((f) => !exempt.has(f)));
  const profiles = opts.profiles.map(conformanceProfile);
  for (const p of profiles) for (const f of p.core) supported.add(f);

  const skipped = new Set(opts.skipTests ?? []);
  const tests: TestDecision[] = [];
  for (const test of inventory) {
    const inProfiles = profiles.some((p) => testCountsIn(p, test.features));
    if (!inProfiles && test.name !== opts.runTest) continue;
    // The order of upstream's checks in Run: the last that applies wins.
    const missing = test.features.filter((f) => !supported.has(f));
    if (missing.length > 0) tests.push({ name: test.name, decision: 'not-supported', missingFeatures: missing });
    else if (skipped.has(test.name)) tests.push({ name: test.name, decision: 'skipped', reason: 'named by --skip-tests' });
    else if (opts.runTest !== undefined && test.name !== opts.runTest) tests.push({ name: test.name, decision: 'skipped', reason: `--run-test ${opts.runTest}` });
    else tests.push({ name: test.name, decision: 'run' });
  }
  return { source, supportedFeatures: [...supported].sort(), tests, ...(opts.runTest !== undefined ? { runTest: opts.runTest } : {}) };
}

/** A comma-separated flag value as upstream parses it: names trimmed, empty entries dropped. */
export function parseNameList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
