/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): where the time went by category (socket
 * system calls, GC, node's HTTP stack, undici, tendril's own code, …), self time by function and by
 * source file, and total (inclusive) time of tendril's functions, as markdown. Usage:
 *   npx tsx tools/bench/profile-summary.ts <file.cpuprofile> [top=25]
 *
 * A `<file>.window.json` next to the profile ({ "startUs", "endUs", "requests", "label" }, times on
 * the same monotonic clock as the profile, e.g. from process.hrtime) limits the summary to that
 * window — the data-plane bench writes one for the measured run, so start-up, warm-up and idle time
 * do not dilute the numbers — and adds the cost per request.
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
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The part of a profile to summarize: [startUs, endUs) on the profile's clock, and what happened in it. */
export interface ProfileWindow {
  startUs: number;
  endUs: number;
  /** Requests served in the window, for per-request costs. */
  requests?: number;
  label?: string;
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

/**
 * Native functions that are (almost all) a system call on a socket or file. The sampler charges
 * them wall time, so on a busy machine they also hold the time the thread waited to run again after
 * waking the peer process.
 */
const SYSCALL_NATIVES = new Set(['writev', 'writeLatin1String', 'writeUtf8String', 'writeAsciiString', 'writeUcs2String', 'writeBuffer', 'read', 'readSync', 'writeSync', 'writeString', 'fsync', 'close', 'shutdown']);

/** The category a sampled frame's self time belongs to, in the order the breakdown lists them. */
export const CATEGORIES = [
  'socket and file system calls',
  'garbage collection',
  'V8 (compiler, runtime: "(program)")',
  'tendril code (libs/, apps/)',
  'undici (upstream HTTP/1.1 client)',
  'node HTTP server and client (node:_http_*, http2)',
  'node streams, net, events, timers (other node: internals)',
  'start-up and module loading (tsx, esbuild, protobufjs, loader)',
  'other native',
  'other packages',
] as const;
export type Category = (typeof CATEGORIES)[number];

function categorize(frame: ProfileNode['callFrame']): Category {
  const { functionName: name, url } = frame;
  if (!url) {
    if (name === '(garbage collector)') return 'garbage collection';
    if (name === '(program)') return 'V8 (compiler, runtime: "(program)")';
    return SYSCALL_NATIVES.has(name) ? 'socket and file system calls' : 'other native';
  }
  const file = shortUrl(url);
  if (/^(libs|apps)\//.test(file)) return 'tendril code (libs/, apps/)';
  if (file.startsWith('undici/')) return 'undici (upstream HTTP/1.1 client)';
  if (/^node:(_http_|http2|internal\/http2)/.test(file)) return 'node HTTP server and client (node:_http_*, http2)';
  if (/^(tsx|esbuild|protobufjs|@protobufjs|@grpc)\/|^node:internal\/(modules|bootstrap|source_map)/.test(file)) return 'start-up and module loading (tsx, esbuild, protobufjs, loader)';
  if (file.startsWith('node:')) return 'node streams, net, events, timers (other node: internals)';
  return 'other packages';
}

/** Reads `<profile>.window.json` when it exists. */
export function readWindow(profileFile: string): ProfileWindow | undefined {
  const file = `${profileFile}.window.json`;
  if (!fs.existsSync(file)) return undefined;
  const window = JSON.parse(fs.readFileSync(file, 'utf8')) as ProfileWindow;
  if (!Number.isFinite(window.startUs) || !Number.isFinite(window.endUs) || window.endUs <= window.startUs) {
    throw new Error(`${file}: startUs and endUs must be numbers with startUs < endUs`);
  }
  return window;
}

export function summarizeProfile(file: string, top = 25, window: ProfileWindow | undefined = readWindow(file)): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // A sample's delta is the time since the previous sample, charged to the sampled stack.
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.startUs || at >= window.endUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

  // tsx's output is not line-mapped in V8 profiles, so functions are named by name and file only.
  const label = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}`;
  const selfByFunction = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const byCategory = new Map<Category, number>();
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
    const category = categorize(n.callFrame);
    byCategory.set(category, (byCategory.get(category) ?? 0) + us);
    // Inclusive: charge each distinct function on the stack once.
    const seen = new Set<string>();
    for (let cur = byId.get(id); cur; cur = byId.get(parent.get(cur.id) ?? -1)) {
      const l = label(cur);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number): string => `${((us / busyUs) * 100).toFixed(1)}%`;
  const msOf = (us: number): string => `${Math.round(us / 1000)} ms`;
  const requests = window?.requests && window.requests > 0 ? window.requests : undefined;
  const perRequest = (us: number): string => (requests ? `${(us / requests).toFixed(1)} µs` : 'n/a');
  const topOf = (m: Map<string, number>, n: number, skip: (k: string) => boolean = () => false): (string | number)[][] =>
    [...m]
      .filter(([k]) => !skip(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => [`\`${k}\``, msOf(us), pct(us)]);
  const boring = (k: string): boolean => /^\((root|program|garbage collector)\)|^\(anonymous\) (\(native\)|node:)|^(Module\._compile|Module\._load|require) /.test(k);
  const scope = window
    ? `window ${window.label ? `"${window.label}" ` : ''}of ${msOf(window.endUs - window.startUs)}${requests ? `, ${requests} requests` : ''}`
    : 'whole process lifetime';
  return [
    `Profile ${path.basename(file)} (${scope}): ${msOf(totalUs)} sampled, ${msOf(idleUs)} idle, ${msOf(busyUs)} busy${requests ? ` (${perRequest(busyUs)} per request)` : ''}. Shares are of busy time.`,
    '',
    '**Busy time by category**',
    '',
    table(
      ['category', 'self', 'share', 'per request'],
      CATEGORIES.filter((c) => byCategory.has(c)).map((c) => [c, msOf(byCategory.get(c) ?? 0), pct(byCategory.get(c) ?? 0), perRequest(byCategory.get(c) ?? 0)]),
    ),
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
