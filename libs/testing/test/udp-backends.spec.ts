import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { parseCorefile, startCorefileDnsServer, startUdpEchoServer } from '../src';

const run = promisify(execFile);

/** Sends one datagram from a fresh socket and resolves with the first reply. */
async function exchange(port: number, payload: Buffer | string): Promise<Buffer> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), 3_000);
      socket.once('message', (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      socket.send(payload, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

/** The conformance suite's coredns ConfigMap, as the runner applies it. */
function conformanceCorefile(): string {
  const manifests = readFileSync(path.join(__dirname, '../../../../shared/gateway-api/conformance/base/manifests.yaml'), 'utf8');
  const configMap = manifests
    .split(/^---$/m)
    .map((doc) => parse(doc) as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> } | null)
    .find((o) => o?.kind === 'ConfigMap' && o.metadata?.name === 'coredns');
  if (!configMap?.data?.['Corefile']) throw new Error('base/manifests.yaml has no coredns ConfigMap');
  return configMap.data['Corefile'];
}

describe('UDP echo server (echo-basic with UDP_ECHO_SERVER)', () => {
  it('answers each datagram with the request and the pod, as the image’s JSON envelope', async () => {
    const echo = await startUdpEchoServer({ port: 0, context: { namespace: 'infra', service: 'udp-backend-v1', pod: 'udp-backend-v1-abc-xyz' } });
    try {
      const reply = (await exchange(echo.port, 'gateway-api-conformance-udp-echo')).toString();
      expect(reply).toBe('{"request":"gateway-api-conformance-udp-echo","namespace":"infra","ingress":"","service":"udp-backend-v1","pod":"udp-backend-v1-abc-xyz"}');
      // Go's encoder escapes HTML characters; a datagram past the image's 1024-byte read buffer is cut.
      expect(JSON.parse((await exchange(echo.port, '<a&b>')).toString()).request).toBe('<a&b>');
      expect((await exchange(echo.port, '<a&b>')).toString()).toContain('"request":"\\u003ca\\u0026b\\u003e"');
      expect(JSON.parse((await exchange(echo.port, 'x'.repeat(2000))).toString()).request).toHaveLength(1024);
    } finally {
      await echo.close();
    }
  });
});

describe('Corefile DNS server (the coredns pod)', () => {
  it('parses the conformance Corefile: a forwarding root zone and a whoami zone', () => {
    expect(parseCorefile(conformanceCorefile())).toEqual([
      { zones: ['.'], port: 53, plugins: [{ name: 'forward', from: '.', to: [{ host: '8.8.8.8', port: 53 }, { host: '9.9.9.9', port: 53 }] }, { name: 'log' }, { name: 'errors' }] },
      { zones: ['foo.bar.com.'], port: 53, plugins: [{ name: 'whoami' }] },
    ]);
  });

  it('rejects Corefiles it cannot serve, naming the line', () => {
    expect(() => parseCorefile('.:53 {\n  cache 30\n}\n')).toThrow('Corefile line 2: plugin "cache" is not supported by the test DNS server (it has whoami, forward, log, errors)');
    expect(() => parseCorefile('.:53 {\n  whoami\n')).toThrow('a server block is not closed');
    expect(() => parseCorefile('whoami\n')).toThrow('Corefile line 1: expected a server block');
    expect(() => parseCorefile('.:53 {\n  forward . example.com\n}\n')).toThrow('forward upstream "example.com" is not an IP address');
  });

  it('answers whoami for foo.bar.com as CoreDNS does, and SERVFAIL for names its unreachable upstreams would resolve (dig)', async () => {
    const lines: string[] = [];
    // Upstreams that refuse at once (nothing listens on them), so SERVFAIL comes without waiting out timeouts.
    const corefile = conformanceCorefile().replace('8.8.8.8 9.9.9.9', '127.0.0.1:1 127.0.0.1:2');
    const dns = await startCorefileDnsServer({ corefile, port: 0, log: (l) => lines.push(l) });
    const port = dns.ports.get(53) as number;
    try {
      const whoami = (await run('dig', ['@127.0.0.1', '-p', String(port), '+noedns', '+tries=1', '+time=3', 'foo.bar.com', 'A'])).stdout;
      expect(whoami).toContain('status: NOERROR');
      expect(whoami).toMatch(/flags: qr aa rd;/);
      expect(whoami).toMatch(/^foo\.bar\.com\.\s+0\s+IN\s+A\s+127\.0\.0\.1$/m);
      expect(whoami).toMatch(/^_udp\.foo\.bar\.com\.\s+0\s+IN\s+SRV\s+0 0 \d+ \.$/m);
      const forwarded = (await run('dig', ['@127.0.0.1', '-p', String(port), '+noedns', '+tries=1', '+time=5', 'example.org', 'A'])).stdout;
      expect(forwarded).toContain('status: SERVFAIL');
      expect(lines.some((l) => l.startsWith('[INFO] 127.0.0.1:') && l.includes('"A IN example.org. udp') && l.includes(' SERVFAIL '))).toBe(true);
      expect(lines.some((l) => l.startsWith('[ERROR] plugin/errors: 2 example.org. A: forward to 127.0.0.1:1'))).toBe(true);
    } finally {
      await dns.close();
    }
  });

  it('drops datagrams that are not DNS and keeps answering', async () => {
    const dns = await startCorefileDnsServer({ corefile: 'foo.bar.com {\n  whoami\n}\n', port: 0 });
    const port = dns.ports.get(53) as number;
    try {
      const socket = dgram.createSocket('udp4');
      socket.send(Buffer.from([1, 2, 3]), port, '127.0.0.1', () => socket.close());
      const refused = (await run('dig', ['@127.0.0.1', '-p', String(port), '+noedns', '+tries=1', '+time=3', 'other.example', 'A'])).stdout;
      expect(refused).toContain('status: REFUSED');
      const answered = (await run('dig', ['@127.0.0.1', '-p', String(port), '+noedns', '+tries=1', '+time=3', 'FOO.bar.com', 'AAAA'])).stdout;
      expect(answered).toContain('status: NOERROR');
    } finally {
      await dns.close();
    }
  });
});
