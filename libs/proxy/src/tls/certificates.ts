import { createHash } from 'node:crypto';
import * as tls from 'node:tls';
import type { envoy } from '@tendril/api-envoy';

type DataSource = envoy.config.core.v3.DataSource;
type TlsCertificate = envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
export type Secret = envoy.extensions.transport_sockets.tls.v3.Secret;

/** A PEM certificate chain and its private key. */
export interface CertificateKeyPair {
  certificateChain: string;
  privateKey: string;
}

/** Reads an inline DataSource; files and environment variables would make the config depend on this host. */
function inlineData(source: DataSource | undefined, field: string): string {
  if (source?.inline_string !== undefined) return source.inline_string;
  if (source?.inline_bytes !== undefined) return Buffer.from(source.inline_bytes, 'base64').toString('utf8');
  if (source?.filename !== undefined || source?.environment_variable !== undefined) throw new Error(`${field}: only inline_string and inline_bytes are supported`);
  throw new Error(`${field} is required`);
}

/** An Envoy TlsCertificate as a PEM pair; throws when it is not one node's TLS stack can serve. */
export function compileTlsCertificate(certificate: TlsCertificate, field: string): CertificateKeyPair {
  if (certificate.pkcs12 !== undefined || certificate.private_key_provider !== undefined || certificate.watched_directory !== undefined) {
    throw new Error(`${field}: only certificate_chain and private_key are supported`);
  }
  if (certificate.password !== undefined) throw new Error(`${field}: encrypted private keys are not supported`);
  const pair = {
    certificateChain: inlineData(certificate.certificate_chain, `${field}.certificate_chain`),
    privateKey: inlineData(certificate.private_key, `${field}.private_key`),
  };
  try {
    // Parses both PEM blocks and checks that the key belongs to the certificate.
    secureContextFor([pair]);
  } catch (err) {
    throw new Error(`${field}: not a usable certificate and private key (${(err as Error).message})`);
  }
  return pair;
}

/**
 * An SDS Secret: a tls_certificate (what a downstream TLS listener uses) or a generic_secret (the
 * expected value of an NPDS header match, named by its value_sds_secret).
 */
export function compileSecret(secret: Secret): { certificate: CertificateKeyPair } | { generic: string } {
  if (secret.tls_certificate) return { certificate: compileTlsCertificate(secret.tls_certificate, 'tls_certificate') };
  if (secret.generic_secret) return { generic: inlineData(secret.generic_secret.secret, 'generic_secret.secret') };
  throw new Error('only tls_certificate and generic_secret secrets are supported');
}

/**
 * Secure contexts by content. Every xDS update recompiles the whole config; reusing the context of
 * an unchanged certificate keeps that cheap and keeps TLS session tickets valid across updates.
 */
const contexts = new Map<string, tls.SecureContext>();
const MAX_CACHED_CONTEXTS = 512;

/**
 * One secure context serving every pair (e.g. an RSA and an ECDSA certificate for the same names);
 * `clientCa`: the CAs client certificates are verified against, when the chain asks for them.
 */
export function secureContextFor(pairs: readonly CertificateKeyPair[], clientCa?: string): tls.SecureContext {
  const hash = createHash('sha256');
  for (const p of pairs) hash.update(p.certificateChain).update('\0').update(p.privateKey).update('\0');
  if (clientCa !== undefined) hash.update('ca\0').update(clientCa);
  const key = hash.digest('hex');
  let context = contexts.get(key);
  if (!context) {
    context = tls.createSecureContext({ cert: pairs.map((p) => p.certificateChain), key: pairs.map((p) => p.privateKey), ...(clientCa !== undefined ? { ca: clientCa } : {}) });
    if (contexts.size >= MAX_CACHED_CONTEXTS) contexts.delete(contexts.keys().next().value as string);
    contexts.set(key, context);
  }
  return context;
}
