/**
 * Truth-table files (test/truth-tables/*.yaml, format in the README there): a cluster, policies as
 * users write them, and reachability matrices. This module reads one into a checked structure
 * (clear errors for malformed files) and evaluates it against the compiler.
 */
import { parse } from 'yaml';
import { type ClusterSpec, type ExternalSpec, type PodSpec, protocolNumber, TestCluster } from './cluster';

export interface ProbeBlock {
  readonly protocol: string;
  readonly port: number;
  /** rows = sources, columns = destinations; '.' reachable, 'X' dropped. */
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly expected: readonly (readonly boolean[])[];
}

export interface TruthTable extends ClusterSpec {
  readonly name: string;
  readonly description: string;
  readonly model?: string;
  readonly policies: readonly unknown[];
  readonly rejected: readonly { readonly name: string; readonly error: string }[];
  readonly probes: readonly ProbeBlock[];
}

function fail(file: string, message: string): never {
  throw new Error(`${file}: ${message}`);
}

function parseMatrix(file: string, text: unknown, index: number): Pick<ProbeBlock, 'from' | 'to' | 'expected'> {
  if (typeof text !== 'string') fail(file, `probes[${index}].reachability must be a text block`);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length < 2) fail(file, `probes[${index}].reachability needs a header line and at least one row`);
  const [, ...to] = lines[0].split(/\s+/);
  const from: string[] = [];
  const expected: boolean[][] = [];
  for (const line of lines.slice(1)) {
    const [source, ...cells] = line.split(/\s+/);
    if (cells.length !== to.length) fail(file, `probes[${index}] row ${source}: ${cells.length} cells for ${to.length} columns`);
    from.push(source);
    expected.push(
      cells.map((c) => {
        if (c !== '.' && c !== 'X') fail(file, `probes[${index}] row ${source}: cell ${JSON.stringify(c)} is neither '.' nor 'X'`);
        return c === '.';
      }),
    );
  }
  return { from, to, expected };
}

export function parseTruthTable(file: string, text: string): TruthTable {
  const doc = parse(text) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object') fail(file, 'not a YAML mapping');
  for (const field of ['name', 'description']) if (typeof doc[field] !== 'string') fail(file, `${field} must be a string`);
  for (const field of ['namespaces', 'pods', 'policies', 'probes']) if (!Array.isArray(doc[field] ?? [])) fail(file, `${field} must be a list`);
  const probes = ((doc.probes as Record<string, unknown>[]) ?? []).map((p, i) => {
    if (typeof p.protocol !== 'string') fail(file, `probes[${i}].protocol must be TCP, UDP, SCTP or ICMP`);
    if (typeof p.port !== 'number') fail(file, `probes[${i}].port must be a number`);
    protocolNumber(p.protocol);
    return { protocol: p.protocol, port: p.port, ...parseMatrix(file, p.reachability, i) };
  });
  return {
    name: doc.name as string,
    description: doc.description as string,
    model: doc.model as string | undefined,
    clusterName: doc.clusterName as string | undefined,
    namespaces: (doc.namespaces as ClusterSpec['namespaces']) ?? [],
    pods: (doc.pods as PodSpec[]) ?? [],
    externals: (doc.externals as ExternalSpec[]) ?? [],
    policies: (doc.policies as unknown[]) ?? [],
    rejected: (doc.rejected as TruthTable['rejected']) ?? [],
    probes,
  };
}

export interface CellResult {
  readonly from: string;
  readonly to: string;
  readonly expected: boolean;
  readonly map: boolean;
  readonly reference: boolean;
}

export interface TableResult {
  readonly rejected: Map<string, string>;
  /** One rendered matrix per probe block whose result differs from the file ('!' marks a wrong cell). */
  readonly mismatches: string[];
  readonly cells: number;
}

/**
 * Evaluates every probe. Not evaluated (and written '.'): a pod talking to itself, which never
 * leaves its network namespace, and cells between two non-pod ends (host, externals).
 */
export function evaluateTruthTable(table: TruthTable): TableResult {
  const cluster = new TestCluster(table);
  const rejected = cluster.apply(table.policies);
  const mismatches: string[] = [];
  let cells = 0;
  for (const block of table.probes) {
    const protocol = protocolNumber(block.protocol);
    const port = block.protocol.toUpperCase() === 'ICMP' ? block.port << 8 : block.port;
    let wrong = false;
    const rows = block.from.map((from, r) =>
      block.to.map((to, c) => {
        const expected = block.expected[r][c];
        // Self traffic stays on the pod's loopback; between two non-pods no pod policy applies.
        if (from === to || !(cluster.isPod(from) || cluster.isPod(to))) return expected ? '.' : '?';
        const result = cluster.reachable(from, to, protocol, port);
        cells++;
        const agree = result.map === result.reference;
        if (!agree || result.map !== expected) wrong = true;
        const mark = result.map ? '.' : 'X';
        return agree ? (result.map === expected ? mark : `${mark}!`) : `${mark}≠${result.reference ? '.' : 'X'}`;
      }),
    );
    if (wrong || rows.some((row) => row.includes('?'))) {
      const width = Math.max(...block.to.map((t) => t.length), 4);
      const pad = (s: string) => s.padEnd(width + 1);
      const header = pad('') + block.to.map(pad).join('');
      const body = rows.map((row, r) => pad(block.from[r]) + row.map(pad).join('')).join('\n');
      mismatches.push(`${block.protocol}/${block.port} (actual; ! = differs from the file, ≠ = map and semantics disagree):\n${header}\n${body}`);
    }
  }
  return { rejected, mismatches, cells };
}
