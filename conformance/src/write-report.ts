import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CONFORMANCE_PROFILES } from './profiles';
import { buildConformanceReport, formatConformanceReport, type ReportInventoryTest } from './report';
import type { ConformanceTestResult } from './runner';
import type { Suite } from './suite';
import type { TestSelection } from './test-selection';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * The upstream ConformanceReport for a run, as YAML: the features the selection claimed (each
 * requested profile's extended features split into supportedFeatures / unsupportedFeatures), the
 * results counted per profile, skipped and not-run tests as Skipped. When the features were
 * inferred from the GatewayClass status the file says so in a leading comment; the report itself
 * has no field for it (upstream dropped `inferredSupportedFeatures` before v1.4 was released).
 */
export function conformanceReportYaml(opts: { results: readonly ConformanceTestResult[]; suite: Suite; selection: TestSelection; profiles: readonly string[]; date: string; gatewayClassName: string }): string {
  const inventory = opts.suite.inventory() as unknown as Array<ReportInventoryTest & { presentInRelease?: Record<string, boolean> }>;
  const releases = Object.keys(inventory[0]?.presentInRelease ?? {}).sort();
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const report = buildConformanceReport({
    results: opts.results,
    inventory,
    profiles: opts.profiles,
    supportedFeatures: opts.selection.supportedFeatures,
    extendedFeatures: Object.fromEntries(opts.profiles.map((p) => [p, CONFORMANCE_PROFILES[p]?.extended ?? []])),
    // No public home or contact address yet: left empty rather than invented.
    implementation: { organization: 'tendril', project: 'tendril', url: '', version: `v${pkg.version}`, contact: [] },
    date: opts.date,
    gatewayAPIVersion: releases.at(-1) ?? 'unknown',
    gatewayAPIChannel: 'experimental',
  });
  const inferred = opts.selection.source === 'gateway-class' ? `supported features inferred from GatewayClass ${opts.gatewayClassName} status.supportedFeatures` : undefined;
  return formatConformanceReport(report, inferred);
}
