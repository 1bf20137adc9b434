import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { startEchoServer, startTcpEchoServer, TCP_ECHO_WELCOME, type EchoResponse, type TcpEchoAssertions } from '../src';

/** A self-signed certificate for abc.example.com, made with openssl as the conformance runner makes its own. */
function certificate(): { cert: string; key: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tendril-echo-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', path.join(dir, 'k'), '-out', path.join(dir, 'c'), '-subj', '/CN=abc.example.com', '-addext', 'subjectAltName=DNS:abc.example.com'], { stdio: 'ignore' });
    return { cert: readFileSync(path.join(dir, 'c'), 'utf8'), key: readFileSync(path.join(dir, 'k'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Connects, reads the welcome line, then sends each command and collects one answer line per command. */
function converse(socket: net.Socket, commands: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let i: number;
      while ((i = buffered.indexOf('\n')) >= 0) {
        lines.push(buffered.slice(0, i + 1));
        buffered = buffered.slice(i + 1);
        const next = commands[lines.length - 1];
        if (next !== undefined) socket.write(`${next}\n`);
        else {
          socket.destroy();
          resolve(lines);
        }
      }
    });
  });
}

const served = certificate();

describe('TCP echo server (the conformance echo image with TCP_ECHO_SERVER)', () => {
  it('plain TCP: welcome line, PONG, IS_TLS false and where it runs', async () => {
    const server = await startTcpEchoServer({ context: { namespace: 'gateway-conformance-infra', pod: 'tcp-backend-abc-def' } });
    try {
      const [welcome, pong, isTls, test] = await converse(net.connect(server.tcpPort, server.host), ['PING', 'IS_TLS', 'TEST']);
      expect([welcome, pong, isTls]).toEqual([TCP_ECHO_WELCOME, 'PONG\n', 'false\n']);
      expect(JSON.parse(test) as TcpEchoAssertions).toEqual({ namespace: 'gateway-conformance-infra', ingress: '', service: '', pod: 'tcp-backend-abc-def', tcpport: String(server.tcpPort), isTLS: false });
    } finally {
      await server.close();
    }
  });

  it('TLS port: the same conversation after the handshake, with the SNI and version the client used', async () => {
    const server = await startTcpEchoServer({ tls: { ...served } });
    try {
      const socket = tls.connect({ host: server.host, port: server.tlsPort, servername: 'abc.example.com', ca: [served.cert] });
      const [, , isTls, test] = await converse(socket, ['PING', 'IS_TLS', 'TEST']);
      expect(isTls).toBe('true\n');
      expect(JSON.parse(test)).toMatchObject({ isTLS: true, tlsport: String(server.tlsPort), tls: { serverName: 'abc.example.com', version: 'TLS 1.3', cipherSuite: expect.stringMatching(/^TLS_/) } });
    } finally {
      await server.close();
    }
  });
});

describe('echo server HTTPS port (TLS_SERVER_CERT / TLS_SERVER_PRIVKEY)', () => {
  it('answers HTTPS with the echo JSON and the TLS it saw (no ALPN offered: none negotiated)', async () => {
    const echo = await startEchoServer({ pod: 'tls-backend-abc-def', tls: { ...served } });
    try {
      const body = await new Promise<EchoResponse>((resolve, reject) => {
        https
          .get({ host: echo.host, port: echo.httpsPort, path: '/x', servername: 'abc.example.com', ca: [served.cert], headers: { host: 'abc.example.com' } }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve(JSON.parse(text) as EchoResponse));
          })
          .on('error', reject);
      });
      expect(body).toMatchObject({ path: '/x', host: 'abc.example.com', pod: 'tls-backend-abc-def', tls: { serverName: 'abc.example.com', negotiatedProtocol: '' } });
    } finally {
      await echo.close();
    }
  });

  it('with TLS_CLIENT_CACERTS asks for a client certificate: a valid one is echoed in peerCertificates, an unknown one ends the connection, none is fine', async () => {
    const [client, stranger] = [certificate(), certificate()];
    const echo = await startEchoServer({ pod: 'tls-backend-abc-def', tls: { ...served, clientCa: client.cert } });
    const get = (presented?: { cert: string; key: string }): Promise<EchoResponse | string> =>
      new Promise((resolve) => {
        https
          .get({ host: echo.host, port: echo.httpsPort, path: '/', servername: 'abc.example.com', ca: [served.cert], agent: false, ...(presented ?? {}) }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve(JSON.parse(text) as EchoResponse));
          })
          .on('error', (err) => resolve(err.message));
      });
    try {
      const trusted = await get(client);
      expect(typeof trusted === 'object' && trusted.tls?.peerCertificates?.map((p) => p.replace(/\s/g, ''))).toEqual([client.cert.replace(/\s/g, '')]);
      expect(typeof (await get(stranger))).toBe('string');
      const anonymous = await get();
      expect(typeof anonymous === 'object' && anonymous.tls?.peerCertificates).toEqual([]);
    } finally {
      await echo.close();
    }
  });
});
