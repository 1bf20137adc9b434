import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * The network-policy truth tables of libs/policy/test/truth-tables (format in the README there),
 * read at test time: a cluster (namespaces, pods, externals), policies as users write them, the
 * policies that must be rejected, and reachability matrices. A malformed file gives an error that
 * names the file and the place.
 */
export const TRUTH_TABLE_DIR = join(__dirname, '../../../policy/test/truth-tables');

export interface NamespaceSpec {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ContainerPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
}

export interface PodSpec {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount?: string;
  readonly ports: readonly ContainerPort[];
}

export interface ExternalSpec {
  readonly name: string;
  readonly ip: string;
}

export type ProbeProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP';

export interface ProbeBlock {
  readonly protocol: ProbeProtocol;
  /** Destination port; for ICMP the ICMP type. */
  readonly port: number;
  /** Row labels (sources) and column labels (destinations). */
  readonly from: readonly string[];
  readonly to: readonly string[];
  /** expected[row][column]: true = '.' (gets through). */
  readonly expected: readonly (readonly boolean[])[];
}

export interface TruthTable {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly clusterName?: string;
  readonly namespaces: readonly NamespaceSpec[];
  readonly pods: readonly PodSpec[];
  readonly externals: readonly ExternalSpec[];
  readonly policies: readonly unknown[];
  readonly rejected: readonly { readonly name: string; readonly error: string }[];
  readonly probes: readonly ProbeBlock[];
}

const PROTOCOLS: readonly ProbeProtocol[] = ['TCP', 'UDP', 'SCTP', 'ICMP'];

class TableError extends Error {}

function fail(file: string, message: string): never {
  throw new TableError(`${file}: ${message}`);
}

function list(file: string, doc: Record<string, unknown>, field: string): Record<string, unknown>[] {
  const value = doc[field] ?? [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'object' || v === null)) fail(file, `${field} must be a list of mappings`);
  return value as Record<string, unknown>[];
}

function stringMap(file: string, where: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Object.values(value).some((v) => typeof v !== 'string')) {
    fail(file, `${where} must map strings to strings`);
  }
  return value as Record<string, string>;
}

function str(file: string, where: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') fail(file, `${where} must be a non-empty string`);
  return value;
}

function parseMatrix(file: string, text: unknown, where: string): Pick<ProbeBlock, 'from' | 'to' | 'expected'> {
  if (typeof text !== 'string') fail(file, `${where}.reachability must be a text block`);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length < 2) fail(file, `${where}.reachability needs a header line and at least one row`);
  const [, ...to] = lines[0].split(/\s+/);
  const from: string[] = [];
  const expected = lines.slice(1).map((line) => {
    const [source, ...cells] = line.split(/\s+/);
    if (cells.length !== to.length) fail(file, `${where} row ${source}: ${cells.length} cells for ${to.length} columns`);
    from.push(source);
    return cells.map((cell) => {
      if (cell !== '.' && cell !== 'X') fail(file, `${where} row ${source}: cell ${JSON.stringify(cell)} is neither '.' nor 'X'`);
      return cell === '.';
    });
  });
  return { from, to, expected };
}

export function parseTruthTable(file: string, text: string): TruthTable {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    fail(file, `not valid YAML: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(file, 'not a YAML mapping');
  const d = doc as Record<string, unknown>;
  const namespaces = list(file, d, 'namespaces').map((ns, i) => ({
    name: str(file, `namespaces[${i}].name`, ns.name),
    labels: stringMap(file, `namespaces[${i}].labels`, ns.labels),
  }));
  const pods = list(file, d, 'pods').map((pod, i): PodSpec => {
    const where = `pods[${i}]`;
    const namespace = str(file, `${where}.namespace`, pod.namespace);
    if (!namespaces.some((ns) => ns.name === namespace)) fail(file, `${where}: namespace ${namespace} is not declared`);
    const ports = ((pod.ports ?? []) as Record<string, unknown>[]).map((p, j) => {
      if (typeof p.port !== 'number') fail(file, `${where}.ports[${j}].port must be a number`);
      return { name: str(file, `${where}.ports[${j}].name`, p.name), port: p.port, protocol: typeof p.protocol === 'string' ? p.protocol : 'TCP' };
    });
    const serviceAccount = pod.serviceAccount === undefined ? undefined : str(file, `${where}.serviceAccount`, pod.serviceAccount);
    return { name: str(file, `${where}.name`, pod.name), namespace, labels: stringMap(file, `${where}.labels`, pod.labels), serviceAccount, ports };
  });
  const externals = list(file, d, 'externals').map((e, i) => ({ name: str(file, `externals[${i}].name`, e.name), ip: str(file, `externals[${i}].ip`, e.ip) }));
  const rejected = list(file, d, 'rejected').map((r, i) => ({ name: str(file, `rejected[${i}].name`, r.name), error: str(file, `rejected[${i}].error`, r.error) }));
  const probes = list(file, d, 'probes').map((p, i): ProbeBlock => {
    const where = `probes[${i}]`;
    const protocol = typeof p.protocol === 'string' ? p.protocol.toUpperCase() : '';
    if (!PROTOCOLS.includes(protocol as ProbeProtocol)) fail(file, `${where}.protocol must be one of ${PROTOCOLS.join(', ')}`);
    if (typeof p.port !== 'number' || !Number.isInteger(p.port)) fail(file, `${where}.port must be an integer`);
    return { protocol: protocol as ProbeProtocol, port: p.port, ...parseMatrix(file, p.reachability, where) };
  });
  if (probes.length === 0) fail(file, 'has no probes');
  return {
    file,
    name: str(file, 'name', d.name),
    description: str(file, 'description', d.description),
    clusterName: d.clusterName === undefined ? undefined : str(file, 'clusterName', d.clusterName),
    namespaces,
    pods,
    externals,
    policies: list(file, d, 'policies'),
    rejected,
    probes,
  };
}

/** Every `*.yaml` truth table, sorted by file name. */
export function truthTableFiles(dir = TRUTH_TABLE_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}

export function readTruthTable(file: string, dir = TRUTH_TABLE_DIR): TruthTable {
  return parseTruthTable(file, readFileSync(join(dir, file), 'utf8'));
}

/** What a lab must provide for this table: same value = the same namespaces and pods can be reused. */
export function clusterKey(table: TruthTable): string {
  return JSON.stringify({ clusterName: table.clusterName, namespaces: table.namespaces, pods: table.pods });
}

export const podKey = (pod: Pick<PodSpec, 'namespace' | 'name'>): string => `${pod.namespace}/${pod.name}`;
