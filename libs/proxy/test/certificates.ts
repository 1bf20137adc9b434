import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { promisify } from 'node:util';
import type { envoy } from '@tendril/api-envoy';

const run = promisify(execFile);

/** A self-signed certificate made for one test run (never committed); clients trust it directly. */
export interface TestCertificate {
  cert: string;
  key: string;
  /** SHA-256 fingerprint, as node reports a peer certificate's. */
  fingerprint: string;
}

/** A P-256 certificate for `dnsNames` (the first is also the common name), valid for a day. */
export async function selfSignedCertificate(dnsNames: readonly string[]): Promise<TestCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'tendril-cert-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', `/CN=${dnsNames[0]}`,
      '-addext', `subjectAltName=${dnsNames.map((n) => `DNS:${n}`).join(',')}`,
      '-keyout', keyFile, '-out', certFile,
    ]);
    const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    return { cert, key, fingerprint: new X509Certificate(cert).fingerprint256 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function tlsSecret(name: string, certificate: Pick<TestCertificate, 'cert' | 'key'>): envoy.extensions.transport_sockets.tls.v3.Secret {
  return { name, tls_certificate: { certificate_chain: { inline_string: certificate.cert }, private_key: { inline_string: certificate.key } } };
}

export interface HandshakeResult {
  fingerprint: string;
  alpnProtocol: string | false | null;
}

/** A TLS handshake with the proxy: which certificate it presented and which ALPN protocol it chose. */
export function handshake(
  port: number,
  options: { servername?: string; ca: string[]; alpn?: string[] },
): Promise<HandshakeResult> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      // node sends no SNI for an IP address; a test without servername checks exactly that case.
      ...(options.servername ? { servername: options.servername } : {}),
      ca: options.ca,
      ALPNProtocols: options.alpn,
      // The certificate is checked by fingerprint; name checks are the clients' business in other tests.
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      const result = { fingerprint: socket.getPeerCertificate().fingerprint256, alpnProtocol: socket.alpnProtocol };
      socket.end();
      resolve(result);
    });
    socket.once('error', reject);
  });
}
