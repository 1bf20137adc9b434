import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildConformanceReport, formatConformanceReport, type ReportInventoryTest } from './report';
import type { ConformanceTestResult } from './runner';
import type { Suite } from './suite';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * The upstream ConformanceReport for a run, as YAML. Tendril claims the extended features of the
 * tests it runs by default (SUPPORTED_GATEWAY_HTTP_TESTS); the other tests of a claimed feature
 * count as skipped until they run, so the report cannot read better than the run was.
 */
export function conformanceReportYaml(opts: { results: readonly ConformanceTestResult[]; suite: Suite; supportedTests: readonly string[]; profiles: readonly string[]; date: string }): string {
  const inventory = opts.suite.inventory() as unknown as Array<ReportInventoryTest & { presentInRelease?: Record<string, boolean> }>;
  const supportedFeatures = [...new Set(inventory.filter((t) => opts.supportedTests.includes(t.name)).flatMap((t) => t.features))].sort();
  const releases = Object.keys(inventory[0]?.presentInRelease ?? {}).sort();
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  return formatConformanceReport(
    buildConformanceReport({
      results: opts.results,
      inventory,
      profiles: opts.profiles,
      supportedFeatures,
      // No public home or contact address yet: left empty rather than invented.
      implementation: { organization: 'tendril', project: 'tendril', url: '', version: `v${pkg.version}`, contact: [] },
      date: opts.date,
      gatewayAPIVersion: releases.at(-1) ?? 'unknown',
      gatewayAPIChannel: 'experimental',
    }),
  );
}
