import { startTcpEchoServer, type TcpEchoServer } from '@tendril/testing';
import * as net from 'node:net';
import { tcpEchoExchange, tcpEchoPod } from '../src/tcp-echo-traffic';

const INFRA = 'gateway-conformance-infra';

/** A server that speaks, but not the echo server's protocol. */
async function impostor(greeting: string): Promise<net.Server> {
  const server = net.createServer((socket) => socket.end(greeting));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('plain TCP echo (upstream WaitForValidTCPResponse and EchoSendOnce), against the TCP echo server', () => {
  let server: TcpEchoServer;
  let other: net.Server;
  beforeAll(async () => {
    server = await startTcpEchoServer({ host: '127.0.0.1', context: { namespace: INFRA, pod: 'tcp-backend-v1-abc12-def34' } });
    other = await impostor('SSH-2.0-OpenSSH\n');
  });
  afterAll(async () => {
    await server.close();
    await new Promise((resolve) => other.close(resolve));
  });
  const expected = { backendIsTLS: false, backend: 'tcp-backend-v1', namespace: INFRA };

  it('passes when the conversation answers as the expected backend, without TLS', async () => {
    expect(await tcpEchoExchange(server.host, server.tcpPort, expected, 5_000)).toBeUndefined();
  });

  it('says what differs: another backend or namespace, TLS expected, not an echo server', async () => {
    expect(await tcpEchoExchange(server.host, server.tcpPort, { ...expected, backend: 'tcp-backend-v2', namespace: 'elsewhere' }, 5_000)).toBe(
      'namespace "gateway-conformance-infra", want "elsewhere"; answered by pod "tcp-backend-v1-abc12-def34", want tcp-backend-v2-…',
    );
    expect(await tcpEchoExchange(server.host, server.tcpPort, { ...expected, backendIsTLS: true }, 5_000)).toBe('IS_TLS answered "false\\n", want true');
    const port = (other.address() as net.AddressInfo).port;
    expect(await tcpEchoExchange('127.0.0.1', port, expected, 5_000)).toBe('welcome line "SSH-2.0-OpenSSH\\n", want "Gateway API Test TCP Server\\n"');
  });

  it('samples the answering pod of one connection, and rejects with the reason when there is none', async () => {
    expect(await tcpEchoPod(server.host, server.tcpPort, 5_000)).toBe('tcp-backend-v1-abc12-def34');
    const port = (other.address() as net.AddressInfo).port;
    await expect(tcpEchoPod('127.0.0.1', port, 5_000)).rejects.toThrow(`TCP echo via 127.0.0.1:${port}: welcome line "SSH-2.0-OpenSSH\\n", want "Gateway API Test TCP Server\\n"`);
    const closed = await impostor('');
    const closedPort = (closed.address() as net.AddressInfo).port;
    await expect(tcpEchoPod('127.0.0.1', closedPort, 5_000)).rejects.toThrow('the connection closed before the TEST answer');
    await new Promise((resolve) => closed.close(resolve));
  });
});
