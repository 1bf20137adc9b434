/**
 * Prints markdown tables comparing tendril's committed ConformanceReport
 * (conformance/reports/latest.yaml) with the published v1.6 reports summarised in
 * ../shared/gateway-api/reports-v1.5-v1.6.json: one table per profile of tendril's report.
 * usage: npx tsx tools/conformance-comparison.ts [REPORT] [PUBLISHED_JSON]
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

interface PublishedProfile {
  corePassed: number;
  coreFailed: number;
  coreSkipped: number;
  extPassed: number | null;
  extFailed: number | null;
  extSkipped: number | null;
}
interface Published {
  release: string;
  mode: string;
  project: string;
  version: string;
  profiles: Record<string, PublishedProfile>;
}
interface Statistics {
  Passed: number;
  Failed: number;
  Skipped: number;
}

const repoRoot = path.resolve(__dirname, '..');
const reportFile = process.argv[2] ?? path.join(repoRoot, 'conformance/reports/latest.yaml');
const publishedFile = process.argv[3] ?? path.join(repoRoot, '../shared/gateway-api/reports-v1.5-v1.6.json');

const ours = parse(readFileSync(reportFile, 'utf8')) as { implementation: { version: string }; profiles: Array<{ name: string; core: { statistics: Statistics }; extended?: { statistics: Statistics } }> };
const published = JSON.parse(readFileSync(publishedFile, 'utf8')) as Published[];

const tables: string[] = [];
for (const mine of ours.profiles) {
  const profile = mine.name;
  const c = mine.core.statistics;
  const e = mine.extended?.statistics ?? { Passed: 0, Failed: 0, Skipped: 0 };
  const rows: string[][] = [[`**tendril** ${ours.implementation.version}`, `${c.Passed} / ${c.Failed} / ${c.Skipped}`, `${e.Passed} / ${e.Failed} / ${e.Skipped}`]];
  for (const r of published.filter((p) => p.release === 'v1.6' && p.profiles[profile]).sort((a, b) => (b.profiles[profile].extPassed ?? -1) - (a.profiles[profile].extPassed ?? -1))) {
    const p = r.profiles[profile];
    const ext = p.extPassed === null ? 'not reported' : `${p.extPassed} / ${p.extFailed} / ${p.extSkipped}`;
    rows.push([`${r.project} ${r.version}${r.mode && r.mode !== 'default' ? ` (mode ${r.mode})` : ''}`, `${p.corePassed} / ${p.coreFailed} / ${p.coreSkipped}`, ext]);
  }
  tables.push([`| ${profile} (v1.6) | core passed / failed / skipped | extended passed / failed / skipped |`, '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n'));
}
console.log(tables.join('\n\n'));
