import { execFile } from 'node:child_process';
import * as tls from 'node:tls';

/**
 * TLS client settings for requests to a Gateway's HTTPS listeners, verifying its certificate the
 * way the upstream suite's Go client does.
 *
 * The upstream certificates name hosts with wildcards such as `*.org`; Go's crypto/x509 matches a
 * `*` leftmost label against any one label, while Node's default check refuses wildcards directly
 * under a top-level domain. So the chain is verified by Node (against the trusted certificates
 * only) and the name by Go's rules (x509.Certificate.VerifyHostname).
 */

/** Go's matchHostnames: same number of labels, each equal (ASCII case-insensitive) or `*` in the leftmost position. */
export function goHostnameMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!p || !h) return false;
  const patternLabels = p.split('.');
  const hostLabels = h.split('.');
  if (patternLabels.length !== hostLabels.length) return false;
  return patternLabels.every((label, i) => (i === 0 && label === '*') || label === hostLabels[i]);
}

/** The DNS names of a peer certificate's subjectAltName ("DNS:a, DNS:*.b, IP Address:…"). */
function dnsNames(cert: tls.PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
}

/** A `checkServerIdentity` with Go's name matching: undefined when some DNS name of the certificate matches. */
export function checkServerIdentityAsGo(host: string, cert: tls.PeerCertificate): Error | undefined {
  const names = dnsNames(cert);
  if (names.some((name) => goHostnameMatches(name, host))) return undefined;
  return new Error(`the certificate is valid for ${names.length ? names.join(', ') : 'no DNS name'}, not ${host}`);
}

export interface TlsClientSettings {
  /** SNI, and the name the certificate must be valid for. */
  servername: string;
  /** Trusted certificates (PEM): the only trust anchors. */
  ca: string[];
  allowPartialTrustChain: boolean;
  checkServerIdentity: (host: string, cert: tls.PeerCertificate) => Error | undefined;
  ALPNProtocols?: string[];
}

/** Options for tls.connect / https.request / http2.connect. An empty trust list is an error: nothing could verify. */
export function tlsClientSettings(servername: string, trusted: readonly string[], alpn?: string[]): TlsClientSettings {
  if (trusted.length === 0) throw new Error(`no certificate to trust for a TLS request to ${servername}`);
  // Go takes every certificate in RootCAs as a trust anchor, a CA-signed leaf too (HTTPS through a
  // TLSRoute trusts the backend's leaf): a partial chain ending at a trusted certificate is enough.
  return { servername, ca: [...trusted], allowPartialTrustChain: true, checkServerIdentity: checkServerIdentityAsGo, ...(alpn ? { ALPNProtocols: alpn } : {}) };
}

/**
 * One TLS dial as upstream's connection-rejection check makes it (SNI `servername`, the system's
 * trust, TLS 1.2 or later): undefined when the server resets or closes the connection before the
 * handshake completes, else what happened instead (a completed handshake, a certificate the
 * client refuses, a refused or timed-out connection).
 */
export function tlsDialRejected(host: string, port: number, servername: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, servername, minVersion: 'TLSv1.2' });
    let settled = false;
    const done = (outcome: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done(`no TLS handshake and no rejection within ${timeoutMs} ms`), timeoutMs);
    socket.once('secureConnect', () => done(`the Gateway completed a TLS handshake for SNI ${servername}`));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // Go's isConnectionRejected: EOF or ECONNRESET. Node reports a close before the handshake as ECONNRESET.
      done(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : `TLS dial failed without a rejection: ${err.message}`);
    });
    socket.once('close', () => done(undefined));
  });
}

/**
 * Whether the server asks for a client certificate in the handshake (sends a CertificateRequest),
 * as upstream asserts by having its GetClientCertificate hook called. Node's TLS client has no such
 * hook, so `openssl s_client` dials and reports it: its "Requested Signature Algorithms" line
 * comes from a CertificateRequest. Resolves with the answer, or rejects saying why it has none.
 */
export function clientCertificateRequested(host: string, port: number, servername: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    execFile('openssl', ['s_client', '-connect', `${host}:${port}`, '-servername', servername], { timeout: timeoutMs }, (err, stdout) => {
      // s_client exits non-zero when the server ends the connection; what it printed before still counts.
      if (/^Requested Signature Algorithms:/m.test(stdout)) return resolve(true);
      // "New, TLSv1.3, Cipher is …" once a handshake completed ("New, (NONE), Cipher is (NONE)" when none did).
      if (/^New, TLSv[\d.]+, Cipher is (?!\(NONE\))/m.test(stdout)) return resolve(false);
      reject(new Error(`openssl s_client to ${host}:${port} (SNI ${servername}) completed no handshake${err ? `: ${err.message}` : ''}`));
    }).stdin?.end();
  });
}
