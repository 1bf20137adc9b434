/**
 * Runs every truth table in test/truth-tables against the compiler. The root e2e suite replays
 * the same files with real packets between network namespaces.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateTruthTable, parseTruthTable } from './support/truth-table';

const WRONG_TABLE = `
name: wrong
description: claims a default-deny pod is reachable
namespaces: [{name: x}]
pods: [{name: a, namespace: x}, {name: b, namespace: x}]
policies:
  - apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: deny, namespace: x}
    spec: {podSelector: {}, policyTypes: [Ingress]}
probes:
  - protocol: TCP
    port: 80
    reachability: |
      -    x/a  x/b
      x/a  .    .
      x/b  X    .
`;

const dir = join(__dirname, 'truth-tables');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('truth tables', () => {
  it('has at least 60 cases', () => {
    expect(files.length).toBeGreaterThanOrEqual(60);
  });

  it.each(files)('%s', (file) => {
    const table = parseTruthTable(file, readFileSync(join(dir, file), 'utf8'));
    expect(table.name).toBe(file.replace(/\.yaml$/, ''));
    const result = evaluateTruthTable(table);
    expect(Object.fromEntries(result.rejected)).toEqual(Object.fromEntries(table.rejected.map((r) => [r.name, r.error])));
    expect(result.mismatches.join('\n\n')).toBe('');
    expect(result.cells).toBeGreaterThan(0);
  });
});

describe('truth table format', () => {
  it('shows which cells differ from the file', () => {
    const result = evaluateTruthTable(parseTruthTable('wrong.yaml', WRONG_TABLE));
    expect(result.mismatches).toHaveLength(1);
    expect(result.mismatches[0]).toContain('x/a  .    X!');
    expect(result.cells).toBe(2);
  });

  it('reports a malformed matrix with the file and row', () => {
    const text = ['name: bad', 'description: d', 'probes:', '  - protocol: TCP', '    port: 80', '    reachability: |', '      -   x/a', '      x/a . .'].join('\n');
    expect(() => parseTruthTable('bad.yaml', text)).toThrow('bad.yaml: probes[0] row x/a: 2 cells for 1 columns');
    expect(() => parseTruthTable('bad.yaml', 'name: 1')).toThrow('bad.yaml: name must be a string');
  });
});
