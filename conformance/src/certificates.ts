import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/**
 * The self-signed server certificates the GATEWAY-HTTP Gateways refer to. The CA-signed and client
 * certificates of the other profiles are not generated yet.
 */
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
