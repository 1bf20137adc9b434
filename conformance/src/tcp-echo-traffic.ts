import * as net from 'node:net';
import * as tls from 'node:tls';
import { checkServerIdentityAsGo } from './tls-client';

/** The first line the conformance TCP echo server writes (echo-basic's tcpserver.WelcomeMessage). */
const WELCOME = 'Gateway API Test TCP Server\n';

/** Upstream tcp.ExpectedResponse: what the TEST answer must say. */
export interface TcpEchoExpectation {
  backendIsTLS: boolean;
  /** The answering pod's name must start with `<backend>-`. */
  backend: string;
  namespace: string;
  /** When set, the SNI the backend saw. */
  hostname?: string;
}

/**
 * One try of upstream WaitForValidTCPResponse over TLS: dial with `servername` as SNI trusting only
 * `ca`, read the welcome line, PING → PONG, IS_TLS → the expected flag, TEST → JSON whose
 * namespace, pod prefix and SNI match. Undefined when all hold, else the first difference.
 */
export function tlsEchoExchange(host: string, port: number, servername: string, ca: readonly string[], expected: TcpEchoExpectation, timeoutMs: number): Promise<string | undefined> {
  return echoConversation(tls.connect({ host, port, servername, ca: [...ca], minVersion: 'TLSv1.2', checkServerIdentity: checkServerIdentityAsGo }), 'TLS', expected, timeoutMs);
}

/** One try of upstream WaitForValidTCPResponse in plain TCP: the same conversation as tlsEchoExchange, no TLS. */
export function tcpEchoExchange(host: string, port: number, expected: TcpEchoExpectation, timeoutMs: number): Promise<string | undefined> {
  return echoConversation(net.connect({ host, port }), 'TCP', expected, timeoutMs);
}

/**
 * Upstream tcp.EchoSendOnce: one plain connection, the welcome line, TEST; resolves with the pod
 * name of the JSON answer, rejects with what went wrong (the weighted and attachment samplers).
 */
export function tcpEchoPod(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buffered = '';
    let welcomed = false;
    const fail = (message: string): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`TCP echo via ${host}:${port}: ${message}`));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.on('error', (err) => fail(err.message));
    socket.on('close', () => fail('the connection closed before the TEST answer'));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline + 1);
        buffered = buffered.slice(newline + 1);
        if (!welcomed) {
          if (line !== WELCOME) return fail(`welcome line ${JSON.stringify(line)}, want ${JSON.stringify(WELCOME)}`);
          welcomed = true;
          socket.write('TEST\n');
          continue;
        }
        let pod: string | undefined;
        try {
          pod = (JSON.parse(line) as { pod?: string }).pod;
        } catch {
          return fail(`TEST answered ${JSON.stringify(line.slice(0, 120))}, not the echo server's JSON`);
        }
        if (!pod) return fail(`TEST answer names no pod: ${JSON.stringify(line.slice(0, 120))}`);
        clearTimeout(timer);
        socket.removeAllListeners('close');
        socket.destroy();
        return resolve(pod);
      }
    });
  });
}

function echoConversation(socket: net.Socket, transport: 'TCP' | 'TLS', expected: TcpEchoExpectation, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const steps: Array<{ send?: string; check: (line: string) => string | undefined }> = [
      { check: (line) => (line === WELCOME ? undefined : `welcome line ${JSON.stringify(line)}, want ${JSON.stringify(WELCOME)}`) },
      { send: 'PING', check: (line) => (line === 'PONG\n' ? undefined : `PING answered ${JSON.stringify(line)}, want "PONG"`) },
      { send: 'IS_TLS', check: (line) => (line === `${expected.backendIsTLS}\n` ? undefined : `IS_TLS answered ${JSON.stringify(line)}, want ${expected.backendIsTLS}`) },
      { send: 'TEST', check: (line) => testProblem(line, expected) },
    ];
    let settled = false;
    const done = (outcome: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done(`no complete answer within ${timeoutMs} ms`), timeoutMs);
    socket.on('error', (err) => done(`${transport} connection failed: ${err.message}`));
    socket.on('close', () => done('the connection closed before the TEST answer'));
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while (!settled && (newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline + 1);
        buffered = buffered.slice(newline + 1);
        const step = steps.shift();
        const problem = step?.check(line);
        if (problem || steps.length === 0) return done(problem);
        socket.write(`${steps[0].send}\n`);
      }
    });
  });
}

function testProblem(line: string, expected: TcpEchoExpectation): string | undefined {
  let payload: { namespace?: string; pod?: string; tls?: { serverName?: string } };
  try {
    payload = JSON.parse(line) as typeof payload;
  } catch {
    return `TEST answered ${JSON.stringify(line.slice(0, 120))}, not the echo server's JSON`;
  }
  const problems: string[] = [];
  if (payload.namespace !== expected.namespace) problems.push(`namespace ${JSON.stringify(payload.namespace)}, want ${JSON.stringify(expected.namespace)}`);
  if (!(payload.pod ?? '').startsWith(`${expected.backend}-`)) problems.push(`answered by pod ${JSON.stringify(payload.pod)}, want ${expected.backend}-…`);
  if (expected.hostname !== undefined && payload.tls?.serverName !== expected.hostname) problems.push(`backend saw SNI ${JSON.stringify(payload.tls?.serverName)}, want ${JSON.stringify(expected.hostname)}`);
  return problems.length ? problems.join('; ') : undefined;
}
