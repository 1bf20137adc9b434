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
  /** Progress lines (upstream prints the GatewayClass's features when it infers them; setup and teardown times). */
  progress?: (line: string) => void;
  /** Each result as soon as it is known (skipped and not-run ones first, then each test as it ends). */
  onResult?: (result: ConformanceTestResult, selection: TestSelection) => void;
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
  const record = (result: ConformanceTestResult): void => {
    byName.set(result.name, result);
    opts.onResult?.(result, selection);
  };
  const seconds = (since: number): string => ((Date.now() - since) / 1000).toFixed(1);
  try {
    let gatewayClassFeatures: string[] | undefined;
    if (infersSupportedFeatures(opts)) {
      gatewayClassFeatures = await session.gatewayClassSupportedFeatures();
      progress(`Supported features for GatewayClass ${session.gatewayClassName} (inferred from its status): ${gatewayClassFeatures.join(', ') || 'none'}`);
    }
    selection = selectConformanceTests(opts, inventory, gatewayClassFeatures);
    const toRun: string[] = [];
    for (const t of selection.tests) {
      if (t.decision === 'skipped') record({ name: t.name, outcome: 'skipped', failures: [t.reason], durationMs: 0 });
      else if (t.decision === 'run' && !TENDRIL_PASSES.has(t.name) && t.name !== opts.runTest) record(notRun(t.name, 'tendril does not pass this test yet (not in conformance/src/supported-tests.ts)'));
      else if (t.decision === 'run') toRun.push(t.name);
    }
    // Mesh tests send their traffic from pods through the eBPF datapath (root); Gateway tests through a Gateway.
    const meshTests = toRun.filter((name) => suite.test(name).features.includes('Mesh'));
    const gatewayTests = toRun.filter((name) => !meshTests.includes(name));
    if (gatewayTests.length > 0) {
      const setupStarted = Date.now();
      await session.start(gatewayTests);
      progress(`setup: agent, node proxy, base manifests and their pods Ready in ${seconds(setupStarted)}s`);
      for (const name of gatewayTests) record(await session.run(name));
    }
    const teardownStarted = Date.now();
    await session.stop();
    if (gatewayTests.length > 0) progress(`teardown: pods stopped, agent and proxy closed in ${seconds(teardownStarted)}s`);
    const meshProblem = meshUnavailable();
    if (meshTests.length > 0 && meshProblem) for (const name of meshTests) record(notRun(name, meshProblem));
    else if (meshTests.length > 0) for (const r of await runMeshConformanceTests({ tests: meshTests, suiteDir: suite.dir, ...(opts.log ? { log: opts.log } : {}) })) record(r);
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

/** The tests --run-test leaves out: only counted when printed, they are most of the suite. */
function skippedByRunTest(selection: TestSelection, name: string): boolean {
  return selection.runTest !== undefined && name !== selection.runTest;
}

/** Whether `tendril conformance run` prints a line for this result. */
export function isShownResult(selection: TestSelection, result: ConformanceTestResult): boolean {
  return !(result.outcome === 'skipped' && skippedByRunTest(selection, result.name));
}

/** The width of the name column: the longest name of a test that may be printed. */
export function resultNameWidth(selection: TestSelection): number {
  return Math.max(0, ...selection.tests.filter((t) => t.decision === 'run' || (t.decision === 'skipped' && !skippedByRunTest(selection, t.name))).map((t) => t.name.length));
}

/** One test's line, and why it failed or was not run or skipped, indented below it. */
export function formatResultLine(result: ConformanceTestResult, width: number): string {
  const lines = [`${result.name.padEnd(width)}  ${result.outcome.toUpperCase().padEnd(7)}  ${(result.durationMs / 1000).toFixed(1)}s`, ...result.failures.map((f) => `    ${f}`)];
  return lines.map((l) => `${l}\n`).join('');
}

/** After the tests: the claimed features, what was not supported and why, and the counts. */
export function formatConformanceSummary(selection: TestSelection, results: readonly ConformanceTestResult[]): string {
  const notSupported = selection.tests.flatMap((t) => (t.decision === 'not-supported' ? [t] : []));
  const count = (o: ConformanceTestResult['outcome']): number => results.filter((r) => r.outcome === o).length;
  const lines: string[] = [];
  for (const t of notSupported.filter((t) => t.name === selection.runTest)) lines.push(`${t.name}  NOT SUPPORTED: it needs ${t.missingFeatures.join(', ')}, which the run does not claim`);
  lines.push(`features from ${SOURCE_TEXT[selection.source]}: ${selection.supportedFeatures.join(', ')}`);
  if (notSupported.length > 0) lines.push(`not supported, as they need features the run does not claim: ${[...new Set(notSupported.flatMap((t) => t.missingFeatures))].sort().join(', ')}`);
  lines.push(`conformance: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped, ${count('not-run')} not run, ${notSupported.length} not supported`);
  return lines.map((l) => `${l}\n`).join('');
}

/** Everything `tendril conformance run` prints about the results, at once (it prints the lines as the tests end). */
export function formatConformanceResults(selection: TestSelection, results: readonly ConformanceTestResult[]): string {
  const width = resultNameWidth(selection);
  return (
    results
      .filter((r) => isShownResult(selection, r))
      .map((r) => formatResultLine(r, width))
      .join('') + formatConformanceSummary(selection, results)
  );
}
