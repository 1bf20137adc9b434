import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { ProxyRuntime } from '../src';
import { bufferedLineSink, formatAccessLogLine, isoTimestamp, type AccessLogEntry } from '../src/access-log';
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('buffered access log', () => {
  it('writes the lines of one flush interval together, one JSON object per line', async () => {
    const writes: string[] = [];
    const sink = bufferedLineSink((chunk) => writes.push(chunk.toString('utf8')), { flushIntervalMs: 50 });
    sink(entry('/a'));
    await sleep(5);
    sink(entry('/b'));
    expect(writes).toEqual([]);
    await sleep(100);
    expect(writes).toHaveLength(1);
    expect(writes[0].split('\n')).toHaveLength(3);
    expect(writes[0].trimEnd().split('\n').map((line) => (JSON.parse(line) as AccessLogEntry).path)).toEqual(['/a', '/b']);
    sink(entry('/c'));
    await sleep(100);
    expect(writes).toHaveLength(2);
    expect((JSON.parse(writes[1]) as AccessLogEntry).path).toBe('/c');
  });

  it('writes at once when the batch grows large, and on flush()', () => {
    const writes: string[] = [];
    const sink = bufferedLineSink((chunk) => writes.push(chunk.toString('utf8')));
    const long = `/${'x'.repeat(70 * 1024)}`;
    sink(entry(long));
    expect(writes).toHaveLength(1);
    sink(entry('/small'));
    sink.flush();
    expect(writes).toHaveLength(2);
    expect((JSON.parse(writes[1]) as AccessLogEntry).path).toBe('/small');
  });

  it('writes a batch as soon as it is full, keeping line order and multi-byte characters', () => {
    const writes: string[] = [];
    const sink = bufferedLineSink((chunk) => writes.push(chunk.toString('utf8')), { flushIntervalMs: 60_000 });
    const paths = Array.from({ length: 1000 }, (_, i) => `/${i}/é🦀/${'p'.repeat(200)}`);
    for (const p of paths) sink(entry(p));
    expect(writes.length).toBeGreaterThan(2);
    sink.flush();
    for (const chunk of writes) expect(chunk.endsWith('\n')).toBe(true);
    const lines = writes.join('').trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as AccessLogEntry).path)).toEqual(paths);
  });

  it('loses no line when ProxyRuntime.close() follows the last request', async () => {
    const writes: string[] = [];
    const h = new ProxyHarness();
    const sink = bufferedLineSink((chunk) => writes.push(chunk.toString('utf8')));
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

/** Strings JSON must escape or keep: quotes, backslashes, every control character, separators, non-ASCII, surrogates. */
const NASTY_VALUES = [
  '',
  'plain',
  'say "hi"',
  'back\\slash \\" \\\\',
  'tab\there, newline\nand\r\ncarriage',
  Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)).join(''),
  '\u007f\u0080\u009f latin1 é ÿ',
  'line\u2028separator\u2029paragraph',
  'emoji 🦀 and pair \ud83d\ude00',
  'lone high \ud800 and lone low \udfff',
  '</script><script>alert(1)</script>',
  '{"json":"inside"}',
];

describe('access log line format', () => {
  it('is exactly JSON.stringify of the entry, whatever the strings hold', () => {
    for (const value of NASTY_VALUES) {
      const nasty: AccessLogEntry = {
        ...entry(value),
        method: value,
        authority: value,
        x_request_id: value,
        user_agent: value,
        upstream_host: value,
        upstream_cluster: value,
        route_name: value,
        listener: value,
        response_flags: value,
      };
      const line = formatAccessLogLine(nasty);
      expect(line).toBe(JSON.stringify(nasty));
      expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(nasty)));
    }
  });

  it('writes null for absent values and for numbers JSON cannot hold', () => {
    const line = formatAccessLogLine({ ...entry('/'), duration_ms: Number.NaN, bytes_sent: Number.POSITIVE_INFINITY });
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toMatchObject({ upstream_host: null, upstream_cluster: null, route_name: null, user_agent: null, duration_ms: null, bytes_sent: null });
    expect(line).toBe(JSON.stringify({ ...entry('/'), duration_ms: Number.NaN, bytes_sent: Number.POSITIVE_INFINITY }));
  });

  it('an L7-policy-checked request carries its verdict, reason and mismatched header names last, as JSON.stringify writes them', () => {
    const checked: AccessLogEntry = { ...entry('/pay'), l7_policy: { verdict: 'allowed', reason: 'allowed by CiliumNetworkPolicy "shop/pay"', mismatched_headers: ['x-token'] } };
    const line = formatAccessLogLine(checked);
    expect(line).toBe(JSON.stringify(checked));
    expect(JSON.parse(line)).toMatchObject({ listener: 'l', l7_policy: { verdict: 'allowed', mismatched_headers: ['x-token'] } });
    expect(formatAccessLogLine(entry('/plain'))).not.toContain('l7_policy');
  });

  it('formats start times as ISO 8601, also when many requests share a millisecond', () => {
    const ms = Date.UTC(2026, 10, 26, 15, 4, 5, 678);
    expect(isoTimestamp(ms)).toBe('2026-11-26T15:04:05.678Z');
    expect(isoTimestamp(ms)).toBe('2026-11-26T15:04:05.678Z');
    expect(isoTimestamp(ms + 1)).toBe('2026-11-26T15:04:05.679Z');
  });

  it('stays one valid JSON line per request when clients send hostile paths and headers', async () => {
    const writes: string[] = [];
    const sink = bufferedLineSink((chunk) => writes.push(chunk.toString('utf8')));
    const runtime = new ProxyRuntime({ accessLog: sink, drainTimeoutMs: 1_000 });
    try {
      const result = await runtime.apply({
        listeners: [httpListener('l', 'rc')],
        routes: [routeConfig('rc', [vhost('v', ['*'], [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok' } } }])])],
        clusters: [],
        endpoints: [],
      });
      // Raw bytes, so nothing on the client side cleans them up: quotes, backslashes, a tab and
      // latin1 bytes in a header value, quotes and backslashes in the path and Host.
      const requests = [
        ['/q"uo\\te?x="1"', 'h"ost\\', Buffer.from('agent "quoted"\tand \\ and \xe9\xff', 'latin1')],
        ['/%22%5C%00', 'example', Buffer.from('{"ua":"json"}\\n', 'latin1')],
      ] as const;
      const socket = net.connect(result.listeners[0].port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      let received = '';
      const bothAnswered = new Promise<void>((resolve) =>
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
          if (received.split('HTTP/1.1 200').length - 1 === requests.length) resolve();
        }),
      );
      for (const [requestPath, host, userAgent] of requests) {
        socket.write(Buffer.concat([Buffer.from(`GET ${requestPath} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: `, 'latin1'), userAgent, Buffer.from('\r\n\r\n', 'latin1')]));
      }
      await bothAnswered;
      socket.destroy();
      await runtime.close();
      const lines = writes.join('').split('\n');
      expect(lines.pop()).toBe('');
      const parsed = lines.map((line) => JSON.parse(line) as AccessLogEntry);
      expect(parsed.map((e) => [e.path, e.authority, e.user_agent])).toEqual(requests.map(([p, h, ua]) => [p, h, ua.toString('latin1')]));
    } finally {
      await runtime.close();
    }
  });
});
