/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by source file,
 * and total (inclusive) time of the functions that matter most, as markdown. Usage:
 *   npx tsx tools/bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { table } from './common';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const REPO = path.resolve(__dirname, '..', '..');

function shortUrl(url: string): string {
  const file = url.replace(/^file:\/\//, '');
  if (!file) return '(native)';
  const nm = file.lastIndexOf('node_modules/');
  if (nm >= 0) return file.slice(nm + 'node_modules/'.length);
  // Also shortens copies of the repository (a checkout elsewhere runs the same code).
  const inRepo = /\/((?:libs|apps|tools)\/.*)$/.exec(file);
  if (inRepo) return inRepo[1];
  return file.startsWith(REPO) ? file.slice(REPO.length + 1) : file;
}

export function summarizeProfile(file: string, top = 25): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

  // tsx's output is not line-mapped in V8 profiles, so functions are named by name and file only.
  const label = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}`;
  const selfByFunction = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    if (n.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    selfByFunction.set(label(n), (selfByFunction.get(label(n)) ?? 0) + us);
    // GC and "(program)" (V8 itself) have no URL; keep them apart from native functions.
    const f = n.callFrame.functionName.startsWith('(') && !n.callFrame.url ? n.callFrame.functionName : shortUrl(n.callFrame.url);
    selfByFile.set(f, (selfByFile.get(f) ?? 0) + us);
    // Inclusive: charge each distinct function on the stack once.
    const seen = new Set<string>();
    for (let cur = byId.get(id); cur; cur = byId.get(parent.get(cur.id) ?? -1)) {
      const l = label(cur);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
  const pct = (us: number): string => `${((us / totalUs) * 100).toFixed(1)}%`;
  const msOf = (us: number): string => `${Math.round(us / 1000)} ms`;
  const topOf = (m: Map<string, number>, n: number, skip: (k: string) => boolean = () => false): (string | number)[][] =>
    [...m]
      .filter(([k]) => !skip(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => [`\`${k}\``, msOf(us), pct(us)]);
  const boring = (k: string): boolean => /^\((root|program|garbage collector)\)|^\(anonymous\) (\(native\)|node:)|^(Module\._compile|Module\._load|require) /.test(k);
  return [
    `Profile ${path.basename(file)}: ${msOf(totalUs)} sampled, ${msOf(idleUs)} idle.`,
    '',
    '**Self time by file**',
    '',
    table(['file', 'self', 'share'], topOf(selfByFile, top)),
    '',
    '**Self time by function**',
    '',
    table(['function', 'self', 'share'], topOf(selfByFunction, top)),
    '',
    '**Inclusive time by function** (tendril code)',
    '',
    table(['function', 'total', 'share'], topOf(inclusive, top, (k) => boring(k) || !/ (libs|apps)\//.test(k) || /^\(anonymous\)/.test(k))),
    '',
  ].join('\n');
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: tsx tools/bench/profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(summarizeProfile(file, top ? Number(top) : 25) + '\n');
}
