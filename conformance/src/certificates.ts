import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KubeObject } from '@tendril/api-k8s';

/** A server certificate Secret the upstream suite creates at setup (summary.md §1.2 step 3). */
export interface SelfSignedSecretSpec {
  namespace: string;
  name: string;
  /** DNS subjectAltNames. */
  hosts: string[];
}

/** The self-signed server certificates the GATEWAY-HTTP Gateways refer to. */
export const UPSTREAM_SELF_SIGNED_SECRETS: readonly SelfSignedSecretSpec[] = [
  { namespace: 'gateway-conformance-web-backend', name: 'certificate', hosts: ['*'] },
  { namespace: 'gateway-conformance-infra', name: 'tls-validity-checks-certificate', hosts: ['*', '*.org', '*.wildcard.org'] },
];

/**
 * A `kubernetes.io/tls` Secret holding a new self-signed RSA certificate for `hosts`, made with the
 * openssl command (node:crypto cannot issue X.509 certificates). Keys live only in the returned
 * object and are new on every run, as upstream's are.
 */
export function selfSignedSecret(spec: SelfSignedSecretSpec): KubeObject {
  if (spec.hosts.length === 0) throw new Error(`the conformance certificate ${spec.namespace}/${spec.name} needs at least one host`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tendril-conformance-cert-'));
  try {
    const key = path.join(dir, 'tls.key');
    const crt = path.join(dir, 'tls.crt');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-keyout', key, '-out', crt, '-subj', `/O=gateway-api-conformance/CN=${spec.hosts[0]}`, '-addext', `subjectAltName=${spec.hosts.map((h) => `DNS:${h}`).join(',')}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace: spec.namespace, name: spec.name },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': readFileSync(crt).toString('base64'), 'tls.key': readFileSync(key).toString('base64') },
    } as KubeObject;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`cannot create the conformance certificate ${spec.namespace}/${spec.name} with openssl: ${stderr || (err as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A certificate authority made for the run: its certificate and key, PEM. */
export interface CertificateAuthority {
  name: string;
  cert: string;
  key: string;
}

/** A server certificate Secret the suite's CA signs: DNS names, and URIs (spiffe://…) as URI names. */
export interface CaSignedSecretSpec extends SelfSignedSecretSpec {
  /** The CA (UPSTREAM_CERTIFICATE_AUTHORITIES name) that signs it. */
  ca: string;
  /** A client certificate (extendedKeyUsage clientAuth) rather than a server one. */
  client?: boolean;
}

/**
 * The suite setup's CAs, each published as a ConfigMap (`ca.crt`) in the infra namespace: the one
 * signing the TLS backends' certificates, and an unrelated one that BackendTLSPolicy tests trust
 * on purpose so that backend validation fails.
 */
export const UPSTREAM_CERTIFICATE_AUTHORITIES: readonly string[] = [
  'tls-checks-ca-certificate',
  'mismatch-ca-certificate',
  // Frontend client certificate validation: the Gateway's default CA and its per-port one.
  'tls-validity-checks-ca-certificate',
  'tls-validity-checks-per-port-ca-certificate',
];

/** A CA the setup publishes in another namespace (a cross-namespace CA reference needs a ReferenceGrant). */
export const UPSTREAM_OTHER_NAMESPACE_AUTHORITIES: ReadonlyArray<{ namespace: string; name: string }> = [{ namespace: 'gateway-conformance-web-backend', name: 'web-backend-cm' }];

/** The server and client certificates those CAs sign (summary.md §1.2 step 3). */
export const UPSTREAM_CA_SIGNED_SECRETS: readonly CaSignedSecretSpec[] = [
  { namespace: 'gateway-conformance-infra', name: 'tls-checks-certificate', hosts: ['abc.example.com', 'spiffe://abc.example.com/test-identity', 'other.example.com'], ca: 'tls-checks-ca-certificate' },
  { namespace: 'gateway-conformance-infra', name: 'tls-passthrough-checks-certificate', hosts: ['abc.example.com'], ca: 'tls-checks-ca-certificate' },
  { namespace: 'gateway-conformance-app-backend', name: 'tls-passthrough-checks-certificate', hosts: ['abc.example.com'], ca: 'tls-checks-ca-certificate' },
  { namespace: 'gateway-conformance-infra', name: 'tls-terminate-checks-certificate', hosts: ['tls.example.com'], ca: 'tls-checks-ca-certificate' },
  { namespace: 'gateway-conformance-infra', name: 'tls-checks-client-certificate', hosts: ['client.example.com'], ca: 'tls-checks-ca-certificate', client: true },
  { namespace: 'gateway-conformance-infra', name: 'tls-validity-checks-client-certificate', hosts: ['client.example.org'], ca: 'tls-validity-checks-ca-certificate', client: true },
  { namespace: 'gateway-conformance-infra', name: 'tls-validity-checks-per-port-client-certificate', hosts: ['client.example.org'], ca: 'tls-validity-checks-per-port-ca-certificate', client: true },
];

function subjectAltNames(hosts: readonly string[]): string {
  return hosts.map((h) => (h.includes('://') ? `URI:${h}` : `DNS:${h}`)).join(',');
}

/** Runs openssl in a temporary directory, returning the named files' contents; the directory is removed. */
function withOpenssl(what: string, steps: (dir: string, run: (args: string[]) => void) => void, outputs: string[]): string[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tendril-conformance-cert-'));
  try {
    steps(dir, (args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    return outputs.map((f) => readFileSync(path.join(dir, f), 'utf8'));
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`cannot create ${what} with openssl: ${stderr || (err as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A new self-signed CA (RSA, CA:TRUE, may sign certificates), new on every run as upstream's. */
export function certificateAuthority(name: string): CertificateAuthority {
  const [cert, key] = withOpenssl(
    `the conformance CA ${name}`,
    (dir, run) =>
      run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-keyout', path.join(dir, 'ca.key'), '-out', path.join(dir, 'ca.crt'), '-subj', `/O=gateway-api-conformance/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
    ['ca.crt', 'ca.key'],
  );
  return { name, cert, key };
}

/** A `kubernetes.io/tls` Secret holding a new server certificate for `hosts`, signed by `ca`. */
export function caSignedSecret(spec: SelfSignedSecretSpec & { client?: boolean }, ca: CertificateAuthority): KubeObject {
  if (spec.hosts.length === 0) throw new Error(`the conformance certificate ${spec.namespace}/${spec.name} needs at least one host`);
  const [crt, key] = withOpenssl(
    `the conformance certificate ${spec.namespace}/${spec.name}`,
    (dir, run) => {
      const file = (f: string): string => path.join(dir, f);
      writeFileSync(file('ca.crt'), ca.cert);
      writeFileSync(file('ca.key'), ca.key);
      writeFileSync(file('ext'), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=${spec.client ? 'clientAuth' : 'serverAuth'}\nsubjectAltName=${subjectAltNames(spec.hosts)}\n`);
      run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('tls.key'), '-out', file('tls.csr'), '-subj', `/O=gateway-api-conformance/CN=${spec.hosts[0]}`]);
      run(['x509', '-req', '-sha256', '-days', '2', '-in', file('tls.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-extfile', file('ext'), '-out', file('tls.crt')]);
    },
    ['tls.crt', 'tls.key'],
  );
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { namespace: spec.namespace, name: spec.name },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': Buffer.from(crt).toString('base64'), 'tls.key': Buffer.from(key).toString('base64') },
  } as KubeObject;
}

/** The CA's ConfigMap (`ca.crt`), as upstream publishes its CAs for the tests to trust. */
export function caConfigMap(namespace: string, ca: CertificateAuthority): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace, name: ca.name }, data: { 'ca.crt': ca.cert } } as KubeObject;
}

/**
 * Every certificate object of the suite setup this runner makes: the self-signed Secrets, the CAs
 * as ConfigMaps in the infra namespace, and the Secrets they sign.
 */
export function upstreamCertificateObjects(): KubeObject[] {
  const cas = new Map(UPSTREAM_CERTIFICATE_AUTHORITIES.map((name) => [name, certificateAuthority(name)]));
  return [
    ...UPSTREAM_SELF_SIGNED_SECRETS.map(selfSignedSecret),
    ...[...cas.values()].map((ca) => caConfigMap('gateway-conformance-infra', ca)),
    ...UPSTREAM_OTHER_NAMESPACE_AUTHORITIES.map(({ namespace, name }) => caConfigMap(namespace, certificateAuthority(name))),
    ...UPSTREAM_CA_SIGNED_SECRETS.map((spec) => {
      const ca = cas.get(spec.ca);
      if (!ca) throw new Error(`the conformance certificate ${spec.namespace}/${spec.name} names CA ${spec.ca}, which is not made`);
      return caSignedSecret(spec, ca);
    }),
  ];
}
