import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as dnsPacket from 'dns-packet';

/** What the upstream UDP echo probe sends (udp.ExpectEchoResponseFromBackend). */
export const UDP_ECHO_PROBE = 'gateway-api-conformance-udp-echo';
/** What the upstream weighted and attachment samplers send (udpEchoSendOnce). */
export const UDP_WEIGHT_PROBE = 'gateway-api-conformance-udp-weight\n';

/** The echo image's UDP answer, as the upstream client decodes it. */
export interface UdpEchoAnswer {
  request?: string;
  namespace?: string;
  service?: string;
  pod?: string;
}

/**
 * One datagram from a socket of its own (Go's net.Dial("udp"): a new source port, so a new proxy
 * session) and the first datagram back, read into a 4096-byte buffer as upstream does. Rejects
 * with why there was no answer: a socket error (ICMP unreachable) or `timeoutMs` without one.
 */
export function udpExchange(address: string, port: number, payload: string | Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: net.isIPv6(address) ? 'udp6' : 'udp4' });
    let settled = false;
    const finish = (err: Error | undefined, answer?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve((answer as Buffer).subarray(0, 4096));
    };
    const timer = setTimeout(() => finish(new Error(`no UDP answer from ${address}:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => finish(new Error(`UDP to ${address}:${port}: ${err.message}`)));
    socket.on('message', (answer) => finish(undefined, answer));
    socket.connect(port, address, () => socket.send(payload, (err) => err && finish(new Error(`UDP write to ${address}:${port}: ${err.message}`))));
  });
}

/** The echo answer to one datagram, decoded; rejects when it is not the echo server's JSON. */
export async function udpEchoAnswer(address: string, port: number, payload: string, timeoutMs: number): Promise<UdpEchoAnswer> {
  const answer = (await udpExchange(address, port, payload, timeoutMs)).toString('utf8');
  try {
    return JSON.parse(answer) as UdpEchoAnswer;
  } catch {
    throw new Error(`UDP answer ${JSON.stringify(answer.slice(0, 120))} is not the echo server's JSON`);
  }
}

/**
 * Upstream udp.ExpectEchoResponseFromBackend's one try: the probe answered, and, when expected, by
 * `service` in `namespace` (their empty values match anything, as upstream). Undefined when it held.
 */
export async function udpEchoProblem(address: string, port: number, expected: { service?: string; namespace?: string }, timeoutMs: number): Promise<string | undefined> {
  let answer: UdpEchoAnswer;
  try {
    if (!expected.service && !expected.namespace) {
      // Upstream accepts any answer then, JSON or not.
      await udpExchange(address, port, UDP_ECHO_PROBE, timeoutMs);
      return undefined;
    }
    answer = await udpEchoAnswer(address, port, UDP_ECHO_PROBE, timeoutMs);
  } catch (err) {
    return (err as Error).message;
  }
  const problems: string[] = [];
  if (expected.service && answer.service !== expected.service) problems.push(`service ${JSON.stringify(answer.service)}, want ${JSON.stringify(expected.service)} (pod ${answer.pod})`);
  if (expected.namespace && answer.namespace !== expected.namespace) problems.push(`namespace ${JSON.stringify(answer.namespace)}, want ${JSON.stringify(expected.namespace)} (pod ${answer.pod})`);
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/** Upstream udpEchoSendOnce: the weight probe on a new socket; resolves with the answering pod, rejects when none names one. */
export async function udpEchoPod(address: string, port: number, timeoutMs: number): Promise<string> {
  const answer = await udpEchoAnswer(address, port, UDP_WEIGHT_PROBE, timeoutMs);
  if (!answer.pod) throw new Error(`UDP echo answer names no pod: ${JSON.stringify(answer)}`);
  return answer.pod;
}

/**
 * Upstream UDPRoute's DNS query (miekg/dns Msg.SetQuestion("foo.bar.com.", A), recursion desired,
 * dns.Exchange): any well-formed reply with the query's id counts. Undefined when one came.
 */
export async function dnsExchangeProblem(address: string, port: number, name: string, timeoutMs: number): Promise<string | undefined> {
  const id = Math.floor(Math.random() * 65536);
  const query = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', class: 'IN', name }] });
  let reply: dnsPacket.Packet;
  try {
    reply = dnsPacket.decode(await udpExchange(address, port, query, timeoutMs));
  } catch (err) {
    return `DNS query ${name} A: ${(err as Error).message}`;
  }
  if (reply.type !== 'response' || reply.id !== id) return `DNS query ${name} A: answer is not a response to the query (id ${reply.id}, want ${id})`;
  return undefined;
}
