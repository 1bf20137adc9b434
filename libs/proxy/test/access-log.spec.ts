import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ProxyRuntime } from '../src';
import { bufferedLineSink, type AccessLogEntry } from '../src/access-log';
import { httpListener, ProxyHarness, routeConfig, vhost } from './fixtures';

function entry(path: string): AccessLogEntry {
  return {
    start_time: new Date(0).toISOString(),
    method: 'GET',
    path,
    protocol: 'HTTP/1.1',
    response_code: 200,
    response_flags: '-',
    bytes_received: 0,
    bytes_sent: 2,
    duration_ms: 1,
    upstream_host: null,
    upstream_cluster: null,
    route_name: null,
    authority: 'example',
    x_request_id: 'id',
    user_agent: null,
    listener: 'l',
  };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('buffered access log', () => {
  it('writes the lines of one event-loop turn together, one JSON object per line', async () => {
    const writes: string[] = [];
    const sink = bufferedLineSink((text) => writes.push(text));
    sink(entry('/a'));
    sink(entry('/b'));
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toHaveLength(1);
    expect(writes[0].split('\n')).toHaveLength(3);
    expect(writes[0].trimEnd().split('\n').map((line) => (JSON.parse(line) as AccessLogEntry).path)).toEqual(['/a', '/b']);
  });

  it('writes at once when the batch grows large, and on flush()', () => {
    const writes: string[] = [];
    const sink = bufferedLineSink((text) => writes.push(text));
    const long = `/${'x'.repeat(70 * 1024)}`;
    sink(entry(long));
    expect(writes).toHaveLength(1);
    sink(entry('/small'));
    sink.flush();
    expect(writes).toHaveLength(2);
    expect((JSON.parse(writes[1]) as AccessLogEntry).path).toBe('/small');
  });

  it('loses no line when ProxyRuntime.close() follows the last request', async () => {
    const writes: string[] = [];
    const h = new ProxyHarness();
    const sink = bufferedLineSink((text) => writes.push(text));
    // The harness serves as the client; the runtime under test logs to the buffered sink.
    const runtime = new ProxyRuntime({ accessLog: sink, drainTimeoutMs: 1_000 });
    const result = await runtime.apply({
      listeners: [httpListener('l', 'rc')],
      routes: [routeConfig('rc', [vhost('v', ['*'], [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok' } } }])])],
      clusters: [],
      endpoints: [],
    });
    const response = await h.request('/last', { port: result.listeners[0].port });
    expect(response.status).toBe(200);
    await h.close();
    await runtime.close();
    expect(writes.join('')).toContain('"path":"/last"');
  });

  it('writes pending lines when the process exits right after logging', () => {
    const source = path.resolve(__dirname, '../src/access-log.ts');
    const script = `const { stdoutAccessLog } = require(${JSON.stringify(source)}); stdoutAccessLog(${JSON.stringify(entry('/at-exit'))}); process.exit(0);`;
    const output = execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect((JSON.parse(output.trim()) as AccessLogEntry).path).toBe('/at-exit');
  });
});
