import { meshUnavailable, runMeshConformanceTests } from './mesh-runner';
import { ConformanceSession, type ConformanceTestResult } from './runner';
import { DEFAULT_SUITE_DIR, Suite } from './suite';
import { SUPPORTED_MESH_TESTS, SUPPORTED_TESTS } from './supported-tests';
import { infersSupportedFeatures, selectConformanceTests, validateFeatureSelection, type FeatureSelectionOptions, type TestSelection } from './test-selection';

/**
 * `tendril conformance run`: the upstream suite's feature selection (test-selection.ts), then the
 * selected Gateway tests in one conformance session and the mesh tests in the mesh runner.
 */

export interface ConformanceRunCommandOptions extends FeatureSelectionOptions {
  /** The exported upstream suite (…/gateway-api/conformance). */
  suiteDir?: string;
  /** Progress lines (upstream prints the GatewayClass's features when it infers them). */
  progress?: (line: string) => void;
  /** The environment's warnings, errors and pod output (default: dropped). */
  log?: (line: string) => void;
}

export interface ConformanceRunOutcome {
  suite: Suite;
  gatewayClassName: string;
  selection: TestSelection;
  /** One result per test the selection runs or skips, in inventory order; none for NOT_SUPPORTED tests, as upstream reports none. */
  results: ConformanceTestResult[];
}

/** The tests this runner knows tendril passes; the others of a selection are reported as not run rather than attempted. */
const TENDRIL_PASSES = new Set([...SUPPORTED_TESTS, ...SUPPORTED_MESH_TESTS]);

function notRun(name: string, why: string): ConformanceTestResult {
  return { name, outcome: 'not-run', failures: [why], durationMs: 0 };
}

/**
 * Selects and runs the tests. Bad options (unknown profile, feature or test; --supported-features
 * with --all-features) throw before anything starts. A selected test tendril does not pass yet (not
 * in supported-tests.ts) is not attempted and counts as skipped, so a profile whose tests tendril
 * does not all pass (GATEWAY-UDP while UDPRoute is being built) reads `partial`, never `success`;
 * `--run-test` attempts the test it names whatever the list says.
 */
export async function runConformanceCommand(opts: ConformanceRunCommandOptions): Promise<ConformanceRunOutcome> {
  const suite = new Suite(opts.suiteDir ?? DEFAULT_SUITE_DIR);
  if (!suite.available) throw new Error(`no Gateway API conformance suite at ${suite.dir}`);
  const inventory = suite.inventory();
  validateFeatureSelection(opts, inventory);
  const progress = opts.progress ?? (() => undefined);

  const session = new ConformanceSession({ suiteDir: suite.dir, ...(opts.log ? { log: opts.log } : {}) });
  const byName = new Map<string, ConformanceTestResult>();
  let selection: TestSelection;
  try {
    let gatewayClassFeatures: string[] | undefined;
    if (infersSupportedFeatures(opts)) {
      gatewayClassFeatures = await session.gatewayClassSupportedFeatures();
      progress(`Supported features for GatewayClass ${session.gatewayClassName} (inferred from its status): ${gatewayClassFeatures.join(', ') || 'none'}`);
    }
    selection = selectConformanceTests(opts, inventory, gatewayClassFeatures);
    const toRun: string[] = [];
    for (const t of selection.tests) {
      if (t.decision === 'skipped') byName.set(t.name, { name: t.name, outcome: 'skipped', failures: [t.reason], durationMs: 0 });
      else if (t.decision === 'run' && !TENDRIL_PASSES.has(t.name) && t.name !== opts.runTest) byName.set(t.name, notRun(t.name, 'tendril does not pass this test yet (not in conformance/src/supported-tests.ts)'));
      else if (t.decision === 'run') toRun.push(t.name);
    }
    // Mesh tests send their traffic from pods through the eBPF datapath (root); Gateway tests through a Gateway.
    const meshTests = toRun.filter((name) => suite.test(name).features.includes('Mesh'));
    const gatewayTests = toRun.filter((name) => !meshTests.includes(name));
    if (gatewayTests.length > 0) {
      await session.start(gatewayTests);
      for (const name of gatewayTests) byName.set(name, await session.run(name));
    }
    await session.stop();
    const meshProblem = meshUnavailable();
    if (meshTests.length > 0 && meshProblem) for (const name of meshTests) byName.set(name, notRun(name, meshProblem));
    else if (meshTests.length > 0) for (const r of await runMeshConformanceTests({ tests: meshTests, suiteDir: suite.dir, ...(opts.log ? { log: opts.log } : {}) })) byName.set(r.name, r);
  } finally {
    await session.stop();
  }
  const results = selection.tests.flatMap((t) => byName.get(t.name) ?? []);
  return { suite, gatewayClassName: session.gatewayClassName, selection, results };
}

const SOURCE_TEXT: Record<TestSelection['source'], string> = {
  'all-features': 'every feature (--all-features)',
  'supported-features': 'the command line (--supported-features, --exempt-features or --run-test turn inference off)',
  'gateway-class': 'the GatewayClass status',
};

/**
 * What `tendril conformance run` prints: a line per test run or skipped by name (with why it failed
 * or was not run), then the counts. The tests --run-test leaves out are only counted: they are most
 * of the suite.
 */
export function formatConformanceResults(selection: TestSelection, results: readonly ConformanceTestResult[]): string {
  const skippedByRunTest = new Set(selection.tests.flatMap((t) => (t.decision === 'skipped' && t.reason.startsWith('--run-test') ? [t.name] : [])));
  const shown = results.filter((r) => !skippedByRunTest.has(r.name));
  const width = Math.max(0, ...shown.map((r) => r.name.length));
  const lines: string[] = [];
  for (const r of shown) {
    lines.push(`${r.name.padEnd(width)}  ${r.outcome.toUpperCase().padEnd(7)}  ${(r.durationMs / 1000).toFixed(1)}s`);
    for (const f of r.failures) lines.push(`    ${f}`);
  }
  const notSupported = selection.tests.flatMap((t) => (t.decision === 'not-supported' ? [t] : []));
  const count = (o: ConformanceTestResult['outcome']): number => results.filter((r) => r.outcome === o).length;
  lines.push(`features from ${SOURCE_TEXT[selection.source]}: ${selection.supportedFeatures.join(', ')}`);
  for (const t of notSupported.filter((t) => t.name === selection.runTest)) lines.push(`${t.name}  NOT SUPPORTED: it needs ${t.missingFeatures.join(', ')}, which the run does not claim`);
  if (notSupported.length > 0) lines.push(`not supported, as they need features the run does not claim: ${[...new Set(notSupported.flatMap((t) => t.missingFeatures))].sort().join(', ')}`);
  lines.push(`conformance: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped, ${count('not-run')} not run, ${notSupported.length} not supported`);
  return lines.map((l) => `${l}\n`).join('');
}
