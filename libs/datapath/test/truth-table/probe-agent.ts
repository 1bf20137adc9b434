/**
 * The long-lived probe agent of one network namespace (a pod, the externals, or the host), run as
 * `ip netns exec NS node --require tsx/cjs probe-agent.ts CONFIG` so that one process per namespace
 * serves every probed port and makes every probe the suite asks for; spawning a process per probe
 * would make a matrix of hundreds of cells take minutes.
 *
 * CONFIG (JSON): `{ tcpPorts, udpPorts, bindAddresses? }`. It serves a TCP echo on each TCP port and a
 * UDP echo on each UDP port (on each of `bindAddresses`, default all addresses), prints `{"ready":true}` once
 * all listen, then reads probe requests as JSON lines on stdin and answers each with one JSON line
 * on stdout: `{ id, ok, detail }`. It exits when stdin closes, so a crashed test run leaves no agent.
 *
 * Standalone on purpose: it imports only Node built-ins, so it starts fast inside any namespace.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';

export interface AgentConfig {
  readonly tcpPorts: readonly number[];
  readonly udpPorts: readonly number[];
  /**
   * Addresses to serve on; default all. A UDP echo must answer from the address that was dialled,
   * which a socket bound to 0.0.0.0 does not do when the namespace holds several (the externals).
   */
  readonly bindAddresses?: readonly string[];
  /**
   * Also run a raw-ICMP helper (python3: Node has no raw sockets) that sends ICMP messages of any
   * type and records every ICMP message that arrives, for ICMP types `ping` cannot send.
   */
  readonly rawIcmp?: { readonly python: string };
}

/**
 * `icmp-send` sends one ICMP message of type `port` carrying `token`; `icmp-seen` answers whether a
 * message carrying `token` arrived here (waiting up to the timeout): together, one ICMP cell.
 */
export type ProbeKind = 'tcp' | 'udp' | 'icmp-echo' | 'icmp-send' | 'icmp-seen';

export interface ProbeRequest {
  readonly id: number;
  readonly kind: ProbeKind;
  readonly host: string;
  /** TCP/UDP destination port; ignored for ICMP echo. */
  readonly port: number;
  /** Source address to use (an external namespace holds several); default: chosen by routing. */
  readonly from?: string;
  /** Marks one ICMP message (hex), for icmp-send / icmp-seen. */
  readonly token?: string;
  readonly timeoutMs: number;
}

export interface ProbeReply {
  readonly id: number;
  readonly ok: boolean;
  /** What happened: `echo`, `timeout`, or the socket error. */
  readonly detail: string;
}

const PAYLOAD = 'tendril-probe';

function probeTcp(request: ProbeRequest, done: (ok: boolean, detail: string) => void): void {
  const socket = connect({ host: request.host, port: request.port, localAddress: request.from });
  const finish = (ok: boolean, detail: string): void => {
    clearTimeout(timer);
    socket.destroy();
    done(ok, detail);
  };
  // A denied SYN is silently dropped: only the timeout tells.
  const timer = setTimeout(() => finish(false, 'timeout'), request.timeoutMs);
  socket.once('connect', () => socket.write(PAYLOAD));
  socket.once('data', (data) => finish(data.toString() === PAYLOAD, `echo ${JSON.stringify(data.toString())}`));
  socket.once('error', (err) => finish(false, err.message));
}

function probeUdp(request: ProbeRequest, done: (ok: boolean, detail: string) => void): void {
  const socket = createSocket('udp4');
  const finish = (ok: boolean, detail: string): void => {
    clearTimeout(timer);
    socket.close();
    done(ok, detail);
  };
  const timer = setTimeout(() => finish(false, 'timeout'), request.timeoutMs);
  socket.once('message', (message, remote) =>
    finish(message.toString() === PAYLOAD && remote.address === request.host, `echo from ${remote.address}:${remote.port}`),
  );
  socket.once('error', (err) => finish(false, err.message));
  const send = (): void => socket.send(PAYLOAD, request.port, request.host, (err) => err && finish(false, err.message));
  if (request.from) socket.bind({ address: request.from, port: 0 }, send);
  else send();
}

function probeIcmpEcho(request: ProbeRequest, done: (ok: boolean, detail: string) => void): void {
  // iputils ping in this namespace: Node has no raw sockets. -W takes fractional seconds.
  const args = ['-n', '-c', '1', '-W', String(request.timeoutMs / 1000), ...(request.from ? ['-I', request.from] : []), request.host];
  execFile('ping', args, { timeout: request.timeoutMs + 2000 }, (err) => done(!err, err ? 'no echo reply' : 'echo reply'));
}

/**
 * Raw ICMP in python3. stdin: `send DST TYPE TOKENHEX SRC|-`; stdout: `ready`, then
 * `recv SRC TYPE PAYLOADHEX` for every ICMP message that arrives in this namespace.
 */
const RAW_ICMP_HELPER = `
import socket, struct, sys, threading
def checksum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
recv = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def receive():
    while True:
        data, addr = recv.recvfrom(65535)
        ihl = (data[0] & 15) * 4
        print('recv', addr[0], data[ihl], data[ihl + 8:].hex(), flush=True)
threading.Thread(target=receive, daemon=True).start()
print('ready', flush=True)
for line in sys.stdin:
    _, dst, icmp_type, token, src = line.split()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    if src != '-': s.bind((src, 0))
    body = bytes.fromhex(token)
    header = struct.pack('!BBHI', int(icmp_type), 0, 0, 0)
    s.sendto(struct.pack('!BBHI', int(icmp_type), 0, checksum(header + body), 0) + body, (dst, 0))
    s.close()
`;

class RawIcmp {
  private readonly seen: string[] = [];
  private readonly waiting = new Set<() => void>();

  private constructor(private readonly helper: ChildProcess) {
    createInterface({ input: helper.stdout! }).on('line', (line) => {
      const [kind, , , payload] = line.split(' ');
      if (kind !== 'recv' || !payload) return;
      this.seen.push(payload);
      for (const wake of this.waiting) wake();
    });
  }

  static start(python: string): Promise<RawIcmp> {
    const helper = spawn(python, ['-u', '-c', RAW_ICMP_HELPER], { stdio: ['pipe', 'pipe', 'inherit'] });
    return new Promise((resolve, reject) => {
      const lines = createInterface({ input: helper.stdout! });
      lines.once('line', () => {
        lines.close();
        resolve(new RawIcmp(helper));
      });
      helper.once('error', (err) => reject(new Error(`raw ICMP helper: ${err.message}`)));
      helper.once('exit', (code) => reject(new Error(`raw ICMP helper exited with ${code}`)));
    });
  }

  send(request: ProbeRequest, done: (ok: boolean, detail: string) => void): void {
    this.helper.stdin!.write(`send ${request.host} ${request.port} ${request.token} ${request.from ?? '-'}\n`);
    done(true, 'sent');
  }

  awaitToken(request: ProbeRequest, done: (ok: boolean, detail: string) => void): void {
    const token = request.token ?? '';
    const check = (): boolean => this.seen.some((payload) => payload.startsWith(token));
    if (check()) return done(true, 'arrived');
    const wake = (): void => {
      if (!check()) return;
      finish(true, 'arrived');
    };
    const finish = (ok: boolean, detail: string): void => {
      clearTimeout(timer);
      this.waiting.delete(wake);
      done(ok, detail);
    };
    const timer = setTimeout(() => finish(false, 'timeout'), request.timeoutMs);
    this.waiting.add(wake);
  }

  stop(): void {
    this.helper.kill();
  }
}

function listenAll(config: AgentConfig): Promise<void>[] {
  const addresses = config.bindAddresses ?? ['0.0.0.0'];
  const tcp = config.tcpPorts.flatMap((port) => addresses.map((host) => ({ port, host }))).map(
    ({ port, host }) =>
      new Promise<void>((resolve, reject) => {
        const server = createServer((socket) => {
          socket.on('error', () => socket.destroy());
          socket.pipe(socket);
        });
        server.once('error', (err) => reject(new Error(`TCP ${host}:${port}: ${err.message}`)));
        server.listen({ port, host }, resolve);
      }),
  );
  const udp = config.udpPorts.flatMap((port) => addresses.map((address) => ({ port, address }))).map(
    ({ port, address }) =>
      new Promise<void>((resolve, reject) => {
        const socket = createSocket('udp4');
        socket.on('message', (message, remote) => socket.send(message, remote.port, remote.address));
        socket.once('error', (err) => reject(new Error(`UDP ${address}:${port}: ${err.message}`)));
        socket.bind({ port, address }, () => resolve());
      }),
  );
  return [...tcp, ...udp];
}

function main(): void {
  const config = JSON.parse(process.argv[2] ?? '{}') as AgentConfig;
  const say = (message: object): void => {
    process.stdout.write(`${JSON.stringify(message)}\n`);
  };
  let rawIcmp: RawIcmp | undefined;
  const noRawIcmp = (_request: ProbeRequest, done: (ok: boolean, detail: string) => void): void => done(false, 'this agent runs no raw ICMP helper');
  const probes: Record<ProbeKind, (request: ProbeRequest, done: (ok: boolean, detail: string) => void) => void> = {
    tcp: probeTcp,
    udp: probeUdp,
    'icmp-echo': probeIcmpEcho,
    'icmp-send': (request, done) => (rawIcmp ? rawIcmp.send(request, done) : noRawIcmp(request, done)),
    'icmp-seen': (request, done) => (rawIcmp ? rawIcmp.awaitToken(request, done) : noRawIcmp(request, done)),
  };
  const helper = config.rawIcmp
    ? RawIcmp.start(config.rawIcmp.python).then((started) => {
        rawIcmp = started;
      })
    : Promise.resolve();
  Promise.all([...listenAll(config), helper]).then(
    () => say({ ready: true }),
    (err: Error) => {
      say({ ready: false, error: err.message });
      process.exit(1);
    },
  );
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const request = JSON.parse(line) as ProbeRequest;
    const probe = probes[request.kind];
    if (!probe) return say({ id: request.id, ok: false, detail: `unknown probe kind ${JSON.stringify(request.kind)}` });
    probe(request, (ok, detail) => say({ id: request.id, ok, detail } satisfies ProbeReply));
  });
  lines.on('close', () => {
    rawIcmp?.stop();
    process.exit(0);
  });
}

if (require.main === module) main();
