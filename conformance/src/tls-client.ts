import type { PeerCertificate } from 'node:tls';

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
function dnsNames(cert: PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
}

/** A `checkServerIdentity` with Go's name matching: undefined when some DNS name of the certificate matches. */
export function checkServerIdentityAsGo(host: string, cert: PeerCertificate): Error | undefined {
  const names = dnsNames(cert);
  if (names.some((name) => goHostnameMatches(name, host))) return undefined;
  return new Error(`the certificate is valid for ${names.length ? names.join(', ') : 'no DNS name'}, not ${host}`);
}

export interface TlsClientSettings {
  /** SNI, and the name the certificate must be valid for. */
  servername: string;
  /** Trusted certificates (PEM): the only trust anchors. */
  ca: string[];
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
  ALPNProtocols?: string[];
}

/** Options for tls.connect / https.request / http2.connect. An empty trust list is an error: nothing could verify. */
export function tlsClientSettings(servername: string, trusted: readonly string[], alpn?: string[]): TlsClientSettings {
  if (trusted.length === 0) throw new Error(`no certificate to trust for a TLS request to ${servername}`);
  return { servername, ca: [...trusted], checkServerIdentity: checkServerIdentityAsGo, ...(alpn ? { ALPNProtocols: alpn } : {}) };
}
