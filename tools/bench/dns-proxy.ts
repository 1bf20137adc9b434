/**
 * DNS proxy and toFQDNs cache bench. Prints a markdown section; progress goes to stderr.
 *
 * (a) The toFQDNs cache (FqdnCache) at node scale: recording answers for 1,000 pods × 100 names,
 *     expiring them all into zombies, and one conntrack check over those zombies with half of them
 *     still connected.
 * (b) As root: the DNS proxy over TCP on 127.0.0.1 (its transparent listener, the policy check, and
 *     one upstream connection per client connection to an in-process DNS server): queries per
 *     second and latency for queries sent one at a time, and pipelined 64 deep on one connection.
 *
 * Environment: BENCH_DNS_QUERIES (default 20000).
 */
import { connect, createServer, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { DnsMessageReader, DnsProxy, FqdnCache, frameDnsMessage, type ConnectionActivity } from '@tendril/endpoints';
import type { DnsPortPolicy } from '@tendril/policy';
import { freePort, ms, progress, table } from './common';

const QUERIES = Number(process.env.BENCH_DNS_QUERIES ?? 20_000);

function cacheBench(): (string | number)[][] {
  const pods = 1_000;
  const names = 100;
  const t0 = 1_000_000;
  const cache = new FqdnCache();
  let started = performance.now();
  for (let p = 0; p < pods; p++) {
    for (let n = 0; n < names; n++) {
      cache.record(`ns/pod-${p}`, { questions: [{ name: `svc-${n}.example.com` }], answers: [{ type: 'A', name: `svc-${n}.example.com`, ttl: 30, data: `198.18.${n}.${p % 250}` }] }, t0);
    }
  }
  const recordMs = performance.now() - started;
  started = performance.now();
  cache.expire(t0 + 31_000);
  const expireMs = performance.now() - started;
  const zombies = cache.zombies().length;
  started = performance.now();
  let calls = 0;
  cache.collectZombies(t0 + 31_000, (): ConnectionActivity => (calls++ % 2 === 0 ? 'open' : undefined));
  const collectMs = performance.now() - started;
  const answers = pods * names;
  return [
    [`record ${answers.toLocaleString('en-US')} answers (${pods} pods × ${names} names)`, ms(recordMs), `${((recordMs * 1000) / answers).toFixed(2)} µs`],
    [`expire them (${zombies.toLocaleString('en-US')} zombies)`, ms(expireMs), `${((expireMs * 1000) / zombies).toFixed(2)} µs`],
    [`conntrack check of ${zombies.toLocaleString('en-US')} zombies (half connected)`, ms(collectMs), `${((collectMs * 1000) / zombies).toFixed(2)} µs`],
  ];
}

/** A DNS-over-TCP server answering every query with one A record. */
async function startUpstream(): Promise<{ port: number; close(): void }> {
  const server = createServer((socket) => {
    const reader = new DnsMessageReader();
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        const query = dnsPacket.decode(message);
        socket.write(frameDnsMessage(dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: query.questions, answers: (query.questions ?? []).map((q) => ({ type: 'A' as const, name: q.name, ttl: 30, data: '198.18.0.1' })) })));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

/** Sends `total` queries with at most `depth` outstanding; per-query latencies in ms. */
async function run(port: number, total: number, depth: number): Promise<{ seconds: number; latencies: number[] }> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  const reader = new DnsMessageReader();
  const sentAt: number[] = [];
  const latencies: number[] = [];
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const send = (): void => {
      while (sent < total && sent - latencies.length < depth) {
        sentAt.push(performance.now());
        socket.write(frameDnsMessage(dnsPacket.encode({ type: 'query', id: sent & 0xffff, questions: [{ type: 'A', name: `q${sent}.example.com` }] })));
        sent++;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      // Answers come back in query order.
      for (const _ of reader.push(chunk)) latencies.push(performance.now() - (sentAt[latencies.length] ?? Number.NaN));
      if (latencies.length === total) resolve();
      else send();
    });
    send();
  });
  socket.destroy();
  return { seconds: (performance.now() - started) / 1000, latencies };
}

const percentile = (values: number[], p: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? Number.NaN;

async function proxyBench(): Promise<(string | number)[][]> {
  const upstream = await startUpstream();
  const port = await freePort();
  const policies: DnsPortPolicy[] = [{ transport: 'TCP', port, rules: [{ remotes: 'any', dns: [{ matchPattern: '*.example.com' }], origin: 'bench' }] }];
  const proxy = await DnsProxy.start({
    port,
    clientOf: () => ({ pod: 'bench/client', identity: 1000, policies }),
    identityOf: () => 2,
    beforeRelay: async () => undefined,
    connectUpstream: () =>
      new Promise((resolve, reject) => {
        const s = connect(upstream.port, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      }),
    logger: { info: () => undefined, warn: () => undefined },
  });
  const rows: (string | number)[][] = [];
  try {
    for (const depth of [1, 64]) {
      progress(`DNS proxy over TCP: ${QUERIES} queries, ${depth} outstanding`);
      await run(port, Math.min(1_000, QUERIES), depth); // warm-up
      const { seconds, latencies } = await run(port, QUERIES, depth);
      rows.push([depth === 1 ? 'one at a time' : `pipelined, ${depth} outstanding`, Math.round(QUERIES / seconds).toLocaleString('en-US'), ms(percentile(latencies, 50)), ms(percentile(latencies, 99))]);
    }
  } finally {
    proxy.close();
    upstream.close();
  }
  return rows;
}

async function main(): Promise<void> {
  const out: string[] = ['## DNS proxy and toFQDNs cache', ''];
  progress('toFQDNs cache');
  out.push('toFQDNs cache (FqdnCache), one run:', '', table(['operation', 'total', 'per item'], cacheBench()), '');
  if (process.getuid?.() === 0) {
    out.push(`DNS proxy over TCP on 127.0.0.1 (transparent listener, policy check, one upstream connection per client connection), ${QUERIES.toLocaleString('en-US')} queries on one connection:`, '');
    out.push(table(['client', 'queries/s', 'p50', 'p99'], await proxyBench()), '');
  } else out.push('_DNS proxy over TCP skipped: its transparent listener needs root._', '');
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`dns-proxy bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
