import { X509Certificate, createPrivateKey } from 'node:crypto';
import { selfSignedSecret, UPSTREAM_SELF_SIGNED_SECRETS } from '../src/certificates';

describe('run-time certificates (the upstream suite setup\'s self-signed server Secrets)', () => {
  it('makes a kubernetes.io/tls Secret whose certificate covers the hosts and matches its key', () => {
    const secret = selfSignedSecret({ namespace: 'gateway-conformance-infra', name: 'tls-validity-checks-certificate', hosts: ['*', '*.org', '*.wildcard.org'] }) as unknown as {
      kind: string;
      type: string;
      metadata: { namespace: string; name: string };
      data: Record<string, string>;
    };
    expect([secret.kind, secret.type, secret.metadata.namespace, secret.metadata.name]).toEqual(['Secret', 'kubernetes.io/tls', 'gateway-conformance-infra', 'tls-validity-checks-certificate']);
    const cert = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64'));
    expect(cert.subjectAltName).toBe('DNS:*, DNS:*.org, DNS:*.wildcard.org');
    expect(cert.checkPrivateKey(createPrivateKey(Buffer.from(secret.data['tls.key'], 'base64')))).toBe(true);
    expect(cert.checkHost('www.wildcard.org')).toBe('*.wildcard.org');
  });

  it('is new on every run, as upstream\'s', () => {
    const spec = UPSTREAM_SELF_SIGNED_SECRETS[0];
    const a = selfSignedSecret(spec) as unknown as { data: Record<string, string> };
    const b = selfSignedSecret(spec) as unknown as { data: Record<string, string> };
    expect(a.data['tls.key']).not.toBe(b.data['tls.key']);
  });

  it('refuses a certificate for no host, naming it', () => {
    expect(() => selfSignedSecret({ namespace: 'ns', name: 'broken', hosts: [] })).toThrow('the conformance certificate ns/broken needs at least one host');
  });
});
