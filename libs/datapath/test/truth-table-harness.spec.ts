import { freePort } from '@tendril/testing';
import { formatMismatches, type CellResult } from './truth-table/case-runner';
import { ProbeAgent } from './truth-table/lab';
import { parseTruthTable, readTruthTable, truthTableFiles } from './truth-table/table-file';

/*
 * The parts of the truth-table e2e suite that need no root: reading the tables, reporting a
 * mismatch, and the probe agent's echo servers and probes (on 127.0.0.1).
 */

const TABLE = `
name: sample
description: x/a accepts only x/b
namespaces: [{name: x, labels: {ns: x}}]
pods:
  - {name: a, namespace: x, labels: {pod: a}, ports: [{name: http, port: 80}]}
  - {name: b, namespace: x, labels: {pod: b}}
probes:
  - protocol: tcp
    port: 80
    reachability: |
      -    x/a  x/b
      x/a  .    X
      x/b  .    .
`;

describe('truth table files', () => {
  it('reads every table of libs/policy, at least 60', () => {
    const files = truthTableFiles();
    expect(files.length).toBeGreaterThanOrEqual(60);
    for (const file of files) expect(readTruthTable(file).name).toBe(file.replace(/\.yaml$/, ''));
  });

  it('parses pods, ports and the matrix', () => {
    const table = parseTruthTable('sample.yaml', TABLE);
    expect(table.pods.map((p) => [p.namespace, p.name, p.ports])).toEqual([
      ['x', 'a', [{ name: 'http', port: 80, protocol: 'TCP' }]],
      ['x', 'b', []],
    ]);
    expect(table.probes).toEqual([{ protocol: 'TCP', port: 80, from: ['x/a', 'x/b'], to: ['x/a', 'x/b'], expected: [[true, false], [true, true]] }]);
  });

  it('names the file and the place of a malformed entry', () => {
    expect(() => parseTruthTable('bad.yaml', TABLE.replace('x/a  .    X', 'x/a  .    X  .'))).toThrow('bad.yaml: probes[0] row x/a: 3 cells for 2 columns');
    expect(() => parseTruthTable('bad.yaml', TABLE.replace('x/b  .    .', 'x/b  .    ?'))).toThrow(`bad.yaml: probes[0] row x/b: cell "?" is neither '.' nor 'X'`);
    expect(() => parseTruthTable('bad.yaml', TABLE.replace('protocol: tcp', 'protocol: gre'))).toThrow('bad.yaml: probes[0].protocol must be one of TCP, UDP, SCTP, ICMP');
    expect(() => parseTruthTable('bad.yaml', TABLE.replace('namespace: x, labels: {pod: b}', 'namespace: z, labels: {pod: b}'))).toThrow(
      'bad.yaml: pods[1]: namespace z is not declared',
    );
    expect(() => parseTruthTable('bad.yaml', 'name: [')).toThrow(/^bad.yaml: not valid YAML/);
    expect(() => parseTruthTable('bad.yaml', '- a list')).toThrow('bad.yaml: not a YAML mapping');
  });
});

describe('mismatch report', () => {
  const block = parseTruthTable('sample.yaml', TABLE).probes[0];
  const cell = (row: number, column: number, got: boolean, detail: string): CellResult => ({
    block,
    row,
    column,
    expected: block.expected[row][column],
    got,
    detail,
  });

  it('is empty when every probed cell is as expected', () => {
    expect(formatMismatches([cell(0, 1, false, 'timeout'), cell(1, 0, true, 'echo')])).toBe('');
  });

  it('lists each wrong cell and shows the measured matrix with the wrong cells marked', () => {
    expect(formatMismatches([cell(0, 1, true, 'echo "tendril-probe"'), cell(1, 0, false, 'timeout')]).split('\n')).toEqual([
      'x/a → x/b TCP/80: expected X, got . (echo "tendril-probe")',
      'x/b → x/a TCP/80: expected ., got X (timeout)',
      '',
      'TCP/80 as measured (! = differs from the file):',
      '     x/a  x/b',
      'x/a  .    .!',
      'x/b  X!   .',
    ]);
  });
});

describe('probe agent', () => {
  let agent: ProbeAgent;
  let tcpPort: number;
  let udpPort: number;

  beforeAll(async () => {
    tcpPort = await freePort();
    udpPort = await freePort();
    agent = await ProbeAgent.start('local', undefined, { tcpPorts: [tcpPort], udpPorts: [udpPort], bindAddresses: ['127.0.0.1'] });
  }, 20_000);

  afterAll(() => agent?.stop());

  it('echoes on its TCP and UDP ports and reports the echo', async () => {
    await expect(agent.probe({ kind: 'tcp', host: '127.0.0.1', port: tcpPort, timeoutMs: 2000 })).resolves.toMatchObject({ ok: true });
    await expect(agent.probe({ kind: 'udp', host: '127.0.0.1', port: udpPort, timeoutMs: 2000 })).resolves.toMatchObject({
      ok: true,
      detail: `echo from 127.0.0.1:${udpPort}`,
    });
  });

  it('reports a refused connection with the socket error, and no answer as a timeout', async () => {
    const closed = await freePort();
    await expect(agent.probe({ kind: 'tcp', host: '127.0.0.1', port: closed, timeoutMs: 2000 })).resolves.toMatchObject({
      ok: false,
      detail: expect.stringContaining('ECONNREFUSED'),
    });
    // Nothing answers a datagram to a closed port (an unconnected socket never sees the ICMP error).
    await expect(agent.probe({ kind: 'udp', host: '127.0.0.1', port: closed, timeoutMs: 200 })).resolves.toEqual({
      id: expect.any(Number),
      ok: false,
      detail: 'timeout',
    });
  });

  it('refuses to start when a port is taken, saying which', async () => {
    await expect(ProbeAgent.start('clash', undefined, { tcpPorts: [tcpPort], udpPorts: [], bindAddresses: ['127.0.0.1'] })).rejects.toThrow(
      `probe agent of clash could not listen: TCP 127.0.0.1:${tcpPort}: listen EADDRINUSE`,
    );
  }, 20_000);
});
