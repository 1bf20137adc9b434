import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { KubeObject } from '@tendril/api-k8s';
import { caConfigMap, caSignedSecret, certificateAuthority, selfSignedSecret, upstreamCertificateObjects, UPSTREAM_CA_SIGNED_SECRETS, UPSTREAM_CERTIFICATE_AUTHORITIES, UPSTREAM_SELF_SIGNED_SECRETS } from '../src/certificates';
import { withSecretVolumeFiles } from '../src/secret-volumes';

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

describe('the TLS profiles\' CA and the certificates it signs', () => {
  const ca = certificateAuthority('tls-checks-ca-certificate');

  it('signs server certificates with DNS and URI names that verify against the CA alone', () => {
    const secret = caSignedSecret({ namespace: 'gateway-conformance-infra', name: 'tls-checks-certificate', hosts: ['abc.example.com', 'spiffe://abc.example.com/test-identity'] }, ca) as unknown as { data: Record<string, string> };
    const cert = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64'));
    const authority = new X509Certificate(ca.cert);
    expect(cert.subjectAltName).toBe('DNS:abc.example.com, URI:spiffe://abc.example.com/test-identity');
    expect(cert.checkIssued(authority)).toBe(true);
    expect(cert.verify(authority.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(authority.ca).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(Buffer.from(secret.data['tls.key'], 'base64')))).toBe(true);
  });

  it('publishes the CA as a ConfigMap with ca.crt, and makes every Secret the setup lists', () => {
    expect(caConfigMap('gateway-conformance-infra', ca)).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'gateway-conformance-infra', name: 'tls-checks-ca-certificate' }, data: { 'ca.crt': ca.cert } });
    const objects = upstreamCertificateObjects();
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual(
      [
        ...UPSTREAM_SELF_SIGNED_SECRETS.map((s) => `Secret ${s.namespace}/${s.name}`),
        ...UPSTREAM_CERTIFICATE_AUTHORITIES.map((name) => `ConfigMap gateway-conformance-infra/${name}`),
        'ConfigMap gateway-conformance-web-backend/web-backend-cm',
        ...UPSTREAM_CA_SIGNED_SECRETS.map((s) => `Secret ${s.namespace}/${s.name}`),
      ].sort(),
    );
  });
});

describe('Secret volumes of the echo pods, written out as files', () => {
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { namespace: 'infra', name: 'cert' }, data: { 'tls.crt': Buffer.from('CRT').toString('base64'), 'tls.key': Buffer.from('KEY').toString('base64') } } as KubeObject;
  const deployment = (secretName: string): KubeObject =>
    ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { namespace: 'infra', name: 'tls-backend' },
      spec: {
        template: {
          spec: {
            containers: [{ name: 'c', env: [{ name: 'TLS_SERVER_CERT', value: '/etc/secret-volume/crt' }, { name: 'POD_NAME' }, { name: 'OTHER', value: '/etc/other' }], volumeMounts: [{ name: 'secret-volume', mountPath: '/etc/secret-volume' }] }],
            volumes: [{ name: 'secret-volume', secret: { secretName, items: [{ key: 'tls.crt', path: 'crt' }] } }],
          },
        },
      },
    }) as KubeObject;

  it('writes each item under a directory of the Deployment and points the environment there', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tendril-volumes-test-'));
    try {
      const [changed] = withSecretVolumeFiles([deployment('cert')], [secret], dir);
      const env = (changed.spec as { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } }).template.spec.containers[0].env;
      const file = path.join(dir, 'infra', 'tls-backend', 'secret-volume', 'crt');
      expect(env).toEqual([{ name: 'TLS_SERVER_CERT', value: file }, { name: 'POD_NAME' }, { name: 'OTHER', value: '/etc/other' }]);
      expect(readFileSync(file, 'utf8')).toBe('CRT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes a ConfigMap volume (the client CA bundle of TLS_CLIENT_CACERTS) the same way, its data as text', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tendril-volumes-test-'));
    try {
      const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'infra', name: 'ca' }, data: { 'ca.crt': 'PEM' } } as KubeObject;
      const withConfigMap = structuredClone(deployment('cert')) as KubeObject & { spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }>; volumeMounts: unknown[] }>; volumes: unknown[] } } } };
      withConfigMap.spec.template.spec.volumes.push({ name: 'configmap-volume', configMap: { name: 'ca', items: [{ key: 'ca.crt', path: 'ca' }] } });
      withConfigMap.spec.template.spec.containers[0].volumeMounts.push({ name: 'configmap-volume', mountPath: '/etc/configmap-volume' });
      withConfigMap.spec.template.spec.containers[0].env.push({ name: 'TLS_CLIENT_CACERTS', value: '/etc/configmap-volume/ca' });
      const [changed] = withSecretVolumeFiles([withConfigMap], [secret, configMap], dir);
      const file = path.join(dir, 'infra', 'tls-backend', 'configmap-volume', 'ca');
      expect((changed.spec as typeof withConfigMap.spec).template.spec.containers[0].env).toContainEqual({ name: 'TLS_CLIENT_CACERTS', value: file });
      expect(readFileSync(file, 'utf8')).toBe('PEM');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the Secret a Deployment mounts that the setup does not make', () => {
    expect(() => withSecretVolumeFiles([deployment('missing')], [secret], tmpdir())).toThrow('Deployment infra/tls-backend mounts Secret infra/missing, which the conformance setup does not make');
  });
});
