import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as dnsPacket from 'dns-packet';

/**
 * A test DNS server driven by a CoreDNS Corefile, standing in for the conformance suite's coredns
 * Deployment (Debian ships no coredns). It serves the server blocks' zones over UDP with the plugins
 * the conformance Corefile uses: `whoami`, `forward`, `log` and `errors`; any other plugin is an
 * error, so a Corefile it cannot honour is refused rather than half served.
 */

/** One server block: `zone[:port] ... { plugins }`. */
export interface CorefileServerBlock {
  /** Lower-case, ending in a dot (`.` is the root). */
  zones: string[];
  port: number;
  plugins: CorefilePlugin[];
}

export type CorefilePlugin =
  | { name: 'whoami' }
  | { name: 'log' }
  | { name: 'errors' }
  /** Queries under `from` go to `to` (host:port, port 53 by default), tried in order. */
  | { name: 'forward'; from: string; to: Array<{ host: string; port: number }> };

export class CorefileError extends Error {}

const SUPPORTED_PLUGINS = ['whoami', 'forward', 'log', 'errors'];

function normalizeZone(zone: string, line: number): string {
  const z = zone.replace(/^dns:\/\//, '').toLowerCase();
  if (z === '' || /[\s{}]/.test(z)) throw new CorefileError(`Corefile line ${line}: invalid zone ${JSON.stringify(zone)}`);
  return z.endsWith('.') ? z : `${z}.`;
}

function parseServerKey(key: string, line: number): { zone: string; port: number } {
  const match = /^(.*?)(?::(\d+))?$/.exec(key.replace(/^dns:\/\//, ''));
  if (!match || /^[a-z]+:\/\//.test(key.replace(/^dns:\/\//, ''))) throw new CorefileError(`Corefile line ${line}: unsupported server address ${JSON.stringify(key)} (only plain DNS)`);
  const port = match[2] === undefined ? 53 : Number(match[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CorefileError(`Corefile line ${line}: port ${match[2]} is out of range`);
  return { zone: normalizeZone(match[1], line), port };
}

function parseUpstream(address: string, line: number): { host: string; port: number } {
  const plain = address.replace(/^dns:\/\//, '');
  if (/^[a-z]+:\/\//.test(plain)) throw new CorefileError(`Corefile line ${line}: forward to ${address}: only plain DNS upstreams are supported`);
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(plain);
  const [host, port] = bracketed ? [bracketed[1], bracketed[2]] : net.isIPv6(plain) ? [plain, undefined] : plain.split(':');
  if (net.isIP(host) === 0) throw new CorefileError(`Corefile line ${line}: forward upstream ${JSON.stringify(address)} is not an IP address`);
  const n = port === undefined ? 53 : Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CorefileError(`Corefile line ${line}: forward upstream port ${port} is out of range`);
  return { host, port: n };
}

/** Parses a Corefile's server blocks; throws CorefileError naming the line for anything it cannot serve. */
export function parseCorefile(text: string): CorefileServerBlock[] {
  const blocks: CorefileServerBlock[] = [];
  let current: CorefileServerBlock | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const content = raw.replace(/#.*$/, '').trim();
    if (content === '') return;
    if (!current) {
      if (!content.endsWith('{')) throw new CorefileError(`Corefile line ${line}: expected a server block ("zone:port {"), got ${JSON.stringify(content)}`);
      const keys = content.slice(0, -1).trim().split(/[\s,]+/).filter(Boolean);
      if (keys.length === 0) throw new CorefileError(`Corefile line ${line}: a server block needs a zone`);
      const parsed = keys.map((k) => parseServerKey(k, line));
      if (new Set(parsed.map((p) => p.port)).size > 1) throw new CorefileError(`Corefile line ${line}: one server block, one port`);
      current = { zones: parsed.map((p) => p.zone), port: parsed[0].port, plugins: [] };
      return;
    }
    if (content === '}') {
      blocks.push(current);
      current = undefined;
      return;
    }
    const [name, ...args] = content.split(/\s+/);
    if (args.at(-1) === '{') throw new CorefileError(`Corefile line ${line}: plugin ${name}: options blocks are not supported`);
    switch (name) {
      case 'whoami':
      case 'log':
      case 'errors':
        current.plugins.push({ name });
        break;
      case 'forward': {
        if (args.length < 2) throw new CorefileError(`Corefile line ${line}: forward needs a zone and at least one upstream`);
        current.plugins.push({ name, from: normalizeZone(args[0], line), to: args.slice(1).map((a) => parseUpstream(a, line)) });
        break;
      }
      default:
        throw new CorefileError(`Corefile line ${line}: plugin ${JSON.stringify(name)} is not supported by the test DNS server (it has ${SUPPORTED_PLUGINS.join(', ')})`);
    }
  });
  if (current) throw new CorefileError('Corefile: a server block is not closed with "}"');
  if (blocks.length === 0) throw new CorefileError('Corefile: no server blocks');
  const seen = new Set<string>();
  for (const b of blocks) {
    for (const z of b.zones) {
      const key = `${z}:${b.port}`;
      if (seen.has(key)) throw new CorefileError(`Corefile: zone ${z} on port ${b.port} is in two server blocks`);
      seen.add(key);
    }
  }
  return blocks;
}

export interface CorefileDnsServerOptions {
  corefile: string;
  /** Address the servers bind (CoreDNS binds every address; local pods share the host's ports). */
  host?: string;
  /** Serve every block on this port instead of its own (CoreDNS's -dns.port); 0 picks one. */
  port?: number;
  /** How long one forward upstream may take to answer (CoreDNS: 2 s read timeout). */
  forwardTimeoutMs?: number;
  /** Receives the log and errors plugins' lines. */
  log?: (line: string) => void;
}

export interface CorefileDnsServer {
  host: string;
  /** Each Corefile port → the port actually bound. */
  ports: Map<number, number>;
  close(): Promise<void>;
}

function isUnder(name: string, zone: string): boolean {
  return zone === '.' || name === zone || name.endsWith(`.${zone}`);
}

function fqdn(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** Response codes this server answers with, as the header's low four bits (dns-packet encodes only `flags`). */
const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODES;

/** A decoded message: dns-packet's decoder adds the response code by name. */
type DecodedPacket = dnsPacket.Packet & { rcode?: string };

const FLAG_NAMES: Array<[number, string]> = [
  [dnsPacket.AUTHORITATIVE_ANSWER, 'aa'],
  [dnsPacket.TRUNCATED_RESPONSE, 'tc'],
  [dnsPacket.RECURSION_DESIRED, 'rd'],
  [dnsPacket.RECURSION_AVAILABLE, 'ra'],
];

/**
 * Starts one UDP server per port of the Corefile. A query goes to the server block with the longest
 * zone containing its name (none: REFUSED). In that block, `whoami` answers with the client's
 * address (an A or AAAA record in the additional section) and port (an SRV record for
 * `_udp.<name>`), authoritatively, as CoreDNS's whoami does; `forward` relays the query to each
 * upstream in turn and answers SERVFAIL when none answers, which is what CoreDNS answers when its
 * upstreams are unreachable (8.8.8.8 is, in a sandbox without internet). A datagram that is not a
 * DNS query is dropped; one without a question gets FORMERR.
 */
export async function startCorefileDnsServer(options: CorefileDnsServerOptions): Promise<CorefileDnsServer> {
  const blocks = parseCorefile(options.corefile);
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => undefined);
  const forwardTimeoutMs = options.forwardTimeoutMs ?? 2_000;
  const byPort = new Map<number, CorefileServerBlock[]>();
  for (const b of blocks) byPort.set(b.port, [...(byPort.get(b.port) ?? []), b]);
  const sockets: dgram.Socket[] = [];
  const ports = new Map<number, number>();

  const respond = async (query: dnsPacket.Packet, raw: Buffer, from: dgram.RemoteInfo, served: CorefileServerBlock[]): Promise<{ packet?: DecodedPacket; raw?: Buffer; block?: CorefileServerBlock }> => {
    const reply = (rcode: Rcode, extra: Partial<dnsPacket.Packet> = {}): DecodedPacket => ({
      type: 'response',
      id: query.id,
      questions: query.questions ?? [],
      answers: [],
      authorities: [],
      additionals: [],
      ...extra,
      // A reply echoes the query's RD bit; `extra.flags` adds its own (AA).
      flags: ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | (extra.flags ?? 0) | RCODES[rcode],
      rcode,
    });
    const question = query.questions?.[0];
    if (!question) return { packet: reply('FORMERR') };
    const name = fqdn(question.name);
    const block = served
      .flatMap((b) => b.zones.filter((z) => isUnder(name, z)).map((zone) => ({ b, zone })))
      .sort((x, y) => y.zone.length - x.zone.length)[0]?.b;
    if (!block) return { packet: reply('REFUSED') };
    if (block.plugins.some((p) => p.name === 'whoami')) {
      const client = from.address.startsWith('::ffff:') && from.address.includes('.') ? from.address.slice(7) : from.address;
      const answerName = name === '.' ? '.' : name.slice(0, -1);
      return {
        block,
        packet: reply('NOERROR', {
          flags: dnsPacket.AUTHORITATIVE_ANSWER,
          additionals: [
            net.isIPv6(client) ? { name: answerName, type: 'AAAA', class: 'IN', ttl: 0, data: client } : { name: answerName, type: 'A', class: 'IN', ttl: 0, data: client },
            { name: `_udp.${answerName}`.replace(/\.$/, ''), type: 'SRV', class: 'IN', ttl: 0, data: { priority: 0, weight: 0, port: from.port, target: '.' } },
          ],
        }),
      };
    }
    const forward = block.plugins.find((p): p is Extract<CorefilePlugin, { name: 'forward' }> => p.name === 'forward' && isUnder(name, p.from));
    if (forward) {
      for (const upstream of forward.to) {
        const answer = await exchange(raw, upstream, forwardTimeoutMs).catch((err: Error) => {
          if (block.plugins.some((p) => p.name === 'errors')) log(`[ERROR] plugin/errors: 2 ${name} ${question.type}: forward to ${upstream.host}:${upstream.port}: ${err.message}`);
          return undefined;
        });
        if (answer) return { block, raw: answer };
      }
    }
    return { block, packet: reply('SERVFAIL') };
  };

  for (const [port, served] of byPort) {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    socket.on('message', (raw, from) => {
      let query: dnsPacket.Packet;
      try {
        query = dnsPacket.decode(raw);
      } catch {
        return;
      }
      if (query.type !== 'query') return;
      const started = process.hrtime.bigint();
      void respond(query, raw, from, served).then(({ packet, raw: relayed, block }) => {
        const out = relayed ?? dnsPacket.encode(packet as dnsPacket.Packet);
        socket.send(out, from.port, from.address);
        if (block?.plugins.some((p) => p.name === 'log')) {
          const question = query.questions?.[0];
          const answered: DecodedPacket = packet ?? dnsPacket.decode(out);
          const flags = ['qr', ...FLAG_NAMES.filter(([bit]) => ((answered.flags ?? 0) & bit) !== 0).map(([, n]) => n)].join(',');
          const seconds = (Number(process.hrtime.bigint() - started) / 1e9).toFixed(9);
          log(`[INFO] ${from.address}:${from.port} - ${query.id} "${question?.type} ${question?.class} ${fqdn(question?.name ?? '.')} udp ${raw.length} false 512" ${answered.rcode ?? 'NOERROR'} ${flags} ${out.length} ${seconds}s`);
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port: options.port ?? port, exclusive: true }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => log(`[ERROR] ${err.message}`));
    sockets.push(socket);
    ports.set(port, socket.address().port);
  }
  return {
    host,
    ports,
    close: () => Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined),
  };
}

/** One query to one upstream over UDP; rejects on a socket error (ICMP unreachable) or after `timeoutMs`. */
function exchange(query: Buffer, upstream: { host: string; port: number }, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: net.isIPv6(upstream.host) ? 'udp6' : 'udp4' });
    const done = (err: Error | undefined, answer?: Buffer): void => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer as Buffer);
    };
    const timer = setTimeout(() => done(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => done(err));
    socket.on('message', (answer) => done(undefined, answer));
    socket.connect(upstream.port, upstream.host, () => socket.send(query));
  });
}
