import { Document, Scalar } from 'yaml';
import type { ConformanceTestResult } from './runner';

/**
 * The upstream ConformanceReport (gateway.networking.k8s.io/v1, kind ConformanceReport), built
 * from a run's results the way the upstream suite builds it (conformance/utils/suite/reports.go):
 *
 * * a test counts in a requested profile when inventory.json lists the profile for it;
 * * within the profile it is core or extended as inventory.json's `profileLevels` says (upstream:
 *   extended as soon as one of its features is not a core feature of the profile);
 * * a test needing an extended feature the run does not claim is NOT_SUPPORTED upstream: it is left
 *   out of the numbers, and the feature is listed under `unsupportedFeatures`;
 * * a test the run's options skipped (`skipped`: --skip-tests, --run-test), one the runner did not
 *   run (`not-run`), or one with no result at all, is skipped: upstream
 *   only counts tests it attempted, so a partial run must not read as a complete one.
 */

/** One inventory.json entry, only the fields the report reads. */
export interface ReportInventoryTest {
  name: string;
  features: string[];
  profiles: string[];
  /** Per profile: "core" or "extended". */
  profileLevels: Record<string, string>;
  provisional: boolean;
}

export interface ConformanceImplementation {
  organization: string;
  project: string;
  url: string;
  version: string;
  contact: string[];
}

export interface ConformanceReportInput {
  results: readonly ConformanceTestResult[];
  /** The parsed inventory.json. */
  inventory: readonly ReportInventoryTest[];
  /** Requested profiles, e.g. ['GATEWAY-HTTP'], reported in this order. */
  profiles: readonly string[];
  /** Extended features the implementation claims; core features of a profile are always supported. */
  supportedFeatures: readonly string[];
  implementation: ConformanceImplementation;
  /** RFC 3339. */
  date: string;
  gatewayAPIVersion: string;
  gatewayAPIChannel: string;
  /** Default "default", as upstream. */
  mode?: string;
  /**
   * Each profile's extended features, for `supportedFeatures` / `unsupportedFeatures`. By default
   * they are inferred from the inventory: every feature the profile's tests need that no core test
   * of it needs. That misses features no test of the profile needs (e.g. Gateway-level features
   * in GATEWAY-GRPC, whose tests all sit in GATEWAY-HTTP), which upstream lists anyway.
   */
  extendedFeatures?: Readonly<Record<string, readonly string[]>>;
}

export type ConformanceResultLevel = 'success' | 'partial' | 'failure';

/** Upstream's Go field names are capitalised (the struct has no json tags). */
export interface ConformanceStatistics {
  Passed: number;
  Failed: number;
  Skipped: number;
}

export interface ConformanceStatus {
  result: ConformanceResultLevel;
  statistics: ConformanceStatistics;
  skippedTests?: string[];
  failedTests?: string[];
}

export interface ConformanceExtendedStatus extends ConformanceStatus {
  supportedFeatures?: string[];
  unsupportedFeatures?: string[];
}

export interface ConformanceProfileReport {
  name: string;
  summary: string;
  core: ConformanceStatus;
  /** Absent when no extended test of the profile was counted, as upstream. */
  extended?: ConformanceExtendedStatus;
}

export interface ConformanceReport {
  apiVersion: 'gateway.networking.k8s.io/v1';
  kind: 'ConformanceReport';
  implementation: ConformanceImplementation;
  date: string;
  gatewayAPIVersion: string;
  gatewayAPIChannel: string;
  mode: string;
  profiles: ConformanceProfileReport[];
  /** Provisional tests that passed; absent when none did (upstream omitempty). */
  succeededProvisionalTests?: string[];
}

interface Tally {
  passed: number;
  failed: string[];
  skipped: string[];
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function resultOf(t: Tally): ConformanceResultLevel {
  if (t.failed.length > 0) return 'failure';
  if (t.skipped.length > 0) return 'partial';
  return 'success';
}

function statusOf(t: Tally): ConformanceStatus {
  const status: ConformanceStatus = {
    result: resultOf(t),
    statistics: { Passed: t.passed, Failed: t.failed.length, Skipped: t.skipped.length },
  };
  // Upstream lists tests in name order and omits empty lists.
  if (t.skipped.length > 0) status.skippedTests = [...t.skipped].sort(byName);
  if (t.failed.length > 0) status.failedTests = [...t.failed].sort(byName);
  return status;
}

function describe(status: ConformanceStatus): string {
  switch (status.result) {
    case 'success':
      return 'succeeded';
    case 'partial':
      return `partially succeeded with ${status.statistics.Skipped} test skips`;
    case 'failure':
      return `failed with ${status.statistics.Failed} test failures`;
  }
}

/** Upstream's buildSummary: "Core tests succeeded. Extended tests failed with 2 test failures." */
function summaryOf(core: ConformanceStatus, extended: ConformanceStatus | undefined): string {
  const coreText = `Core tests ${describe(core)}`;
  return extended ? `${coreText}. Extended tests ${describe(extended)}.` : `${coreText}.`;
}

/** inventory.json is read from disk: a wrong file should say so, not crash deep in the tally. */
function checkInventoryEntry(t: ReportInventoryTest, index: number): void {
  const ok =
    typeof t?.name === 'string' &&
    Array.isArray(t.features) &&
    Array.isArray(t.profiles) &&
    typeof t.profileLevels === 'object' &&
    t.profileLevels !== null &&
    typeof t.provisional === 'boolean';
  if (!ok) throw new Error(`inventory entry ${index} is not a conformance test (needs name, features, profiles, profileLevels, provisional)`);
}

function validate(input: ConformanceReportInput, inventoryByName: Map<string, ReportInventoryTest>): void {
  const seen = new Set<string>();
  for (const r of input.results) {
    if (!inventoryByName.has(r.name)) throw new Error(`conformance result for ${JSON.stringify(r.name)}, which is not in the inventory`);
    if (seen.has(r.name)) throw new Error(`conformance test ${JSON.stringify(r.name)} has more than one result`);
    seen.add(r.name);
  }
  if (input.profiles.length === 0) throw new Error('a conformance report needs at least one profile');
  for (const profile of input.profiles) {
    if (!input.inventory.some((t) => t.profiles.includes(profile))) {
      throw new Error(`no test in the inventory belongs to conformance profile ${JSON.stringify(profile)}`);
    }
  }
}

function profileReport(
  profile: string,
  input: ConformanceReportInput,
  outcomeByName: Map<string, ConformanceTestResult['outcome']>,
): ConformanceProfileReport {
  const tests = input.inventory.filter((t) => t.profiles.includes(profile));
  // The profile's feature sets, as the inventory implies them: every feature of a core test is a
  // core feature; every other feature its tests need is extended.
  const coreFeatures = new Set(tests.filter((t) => t.profileLevels[profile] === 'core').flatMap((t) => t.features));
  const extendedFeatures = new Set(input.extendedFeatures?.[profile] ?? tests.flatMap((t) => t.features).filter((f) => !coreFeatures.has(f)));
  const claimed = new Set(input.supportedFeatures);

  const core: Tally = { passed: 0, failed: [], skipped: [] };
  const extended: Tally = { passed: 0, failed: [], skipped: [] };
  let extendedCounted = false;
  for (const test of tests) {
    const isExtended = test.profileLevels[profile] !== 'core';
    if (isExtended && test.features.some((f) => !coreFeatures.has(f) && !claimed.has(f))) continue; // NOT_SUPPORTED
    const tally = isExtended ? extended : core;
    if (isExtended) extendedCounted = true;
    const outcome = outcomeByName.get(test.name) ?? 'not-run';
    if (outcome === 'passed') tally.passed++;
    else if (outcome === 'failed') tally.failed.push(test.name);
    else tally.skipped.push(test.name);
  }

  const coreStatus = statusOf(core);
  const report: ConformanceProfileReport = { name: profile, summary: '', core: coreStatus };
  if (extendedCounted) {
    const ext: ConformanceExtendedStatus = statusOf(extended);
    const features = [...extendedFeatures].sort(byName);
    const supported = features.filter((f) => claimed.has(f));
    const unsupported = features.filter((f) => !claimed.has(f));
    if (supported.length > 0) ext.supportedFeatures = supported;
    if (unsupported.length > 0) ext.unsupportedFeatures = unsupported;
    report.extended = ext;
  }
  report.summary = summaryOf(coreStatus, report.extended);
  return report;
}

/** The ConformanceReport for a run's results; throws on results or profiles the inventory does not know. */
export function buildConformanceReport(input: ConformanceReportInput): ConformanceReport {
  input.inventory.forEach(checkInventoryEntry);
  const inventoryByName = new Map(input.inventory.map((t) => [t.name, t]));
  validate(input, inventoryByName);
  const outcomeByName = new Map(input.results.map((r) => [r.name, r.outcome]));

  const report: ConformanceReport = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'ConformanceReport',
    implementation: { ...input.implementation, contact: [...input.implementation.contact] },
    date: input.date,
    gatewayAPIVersion: input.gatewayAPIVersion,
    gatewayAPIChannel: input.gatewayAPIChannel,
    mode: input.mode ?? 'default',
    profiles: input.profiles.map((p) => profileReport(p, input, outcomeByName)),
  };
  const succeededProvisional = input.results
    .filter((r) => r.outcome === 'passed' && inventoryByName.get(r.name)?.provisional)
    .map((r) => r.name)
    .sort(byName);
  if (succeededProvisional.length > 0) report.succeededProvisionalTests = succeededProvisional;
  return report;
}

/**
 * The report as YAML laid out like the suite's own output (sigs.k8s.io/yaml): keys in name order,
 * list items not indented under their key, and the date double-quoted (Go's encoder quotes strings
 * that a YAML 1.1 reader would take for a timestamp). `comment` goes before the document as a
 * YAML comment: readers of the report see it, parsers do not.
 */
export function formatConformanceReport(report: ConformanceReport, comment?: string): string {
  const doc = new Document(report, { sortMapEntries: true });
  if (comment) doc.commentBefore = ` ${comment}`;
  const date = doc.get('date', true);
  if (date instanceof Scalar) date.type = Scalar.QUOTE_DOUBLE;
  return doc.toString({ indentSeq: false, lineWidth: 0 });
}
