import { createHash, X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import type { envoy } from '@tendril/api-envoy';
import { compileTlsCertificate, type CertificateKeyPair } from '../tls/certificates';
import { TLS_TRANSPORT_SOCKET_NAME } from '../tls/downstream-tls';

type TransportSocket = envoy.config.core.v3.TransportSocket;
type UpstreamTlsContext = envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
type CertificateValidationContext = envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
type SubjectAltNameMatcher = envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;

export const UPSTREAM_TLS_CONTEXT_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

/** One accepted subject alternative name of the upstream's certificate (a DNS name may be a `*.` wildcard in the certificate). */
export interface SubjectAltNameSpec {
  type: 'DNS' | 'URI';
  value: string;
}

/** What a cluster's UpstreamTlsContext asks of the connection to each endpoint. */
export interface UpstreamTlsSpec {
  /** SNI sent in the ClientHello; none when absent. */
  sni?: string;
  /** PEM bundle the upstream's chain must lead to; 'system' for the system roots (Node's bundled Mozilla store). */
  trustedCa: string | 'system';
  /** When not empty, the certificate must carry one of these names (Envoy's match_typed_subject_alt_names). */
  subjectAltNames: SubjectAltNameSpec[];
  /** The client certificate presented when the upstream asks for one. */
  clientCertificate?: CertificateKeyPair;
  /** ALPN protocols offered, in preference order. */
  alpnProtocols: string[];
  /** Content hash: pools with equal keys can share connections. */
  key: string;
}

function inlinePem(source: envoy.config.core.v3.DataSource | undefined, field: string): string {
  if (source?.inline_string !== undefined) return source.inline_string;
  if (source?.inline_bytes !== undefined) return Buffer.from(source.inline_bytes, 'base64').toString('utf8');
  throw new Error(`${field}: only inline_string and inline_bytes are supported`);
}

function subjectAltNameOf(matcher: SubjectAltNameMatcher, i: number): SubjectAltNameSpec {
  const field = `match_typed_subject_alt_names[${i}]`;
  if (matcher.san_type !== 'DNS' && matcher.san_type !== 'URI') throw new Error(`${field}: san_type ${matcher.san_type ?? 'unset'} is not supported (DNS or URI)`);
  const m = matcher.matcher ?? {};
  if (m.exact === undefined || m.prefix !== undefined || m.suffix !== undefined || m.safe_regex !== undefined || m.contains !== undefined || m.custom !== undefined) {
    throw new Error(`${field}: only exact matchers are supported`);
  }
  return { type: matcher.san_type, value: m.exact };
}

/** The trust anchors and name checks of a validation_context; the upstream is always verified (no ACCEPT_UNTRUSTED). */
function compileValidation(context: CertificateValidationContext | undefined): Pick<UpstreamTlsSpec, 'trustedCa' | 'subjectAltNames'> {
  if (!context) throw new Error('an UpstreamTlsContext without validation_context would trust any server; give trusted_ca or system_root_certs');
  if (context.trust_chain_verification === 'ACCEPT_UNTRUSTED') throw new Error('trust_chain_verification ACCEPT_UNTRUSTED is not supported');
  if (context.match_subject_alt_names !== undefined) throw new Error('match_subject_alt_names is deprecated and not supported; use match_typed_subject_alt_names');
  for (const unsupported of ['ca_certificate_provider_instance', 'watched_directory', 'verify_certificate_spki', 'verify_certificate_hash', 'crl', 'custom_validator_config'] as const) {
    if (context[unsupported] !== undefined) throw new Error(`validation_context.${unsupported} is not supported`);
  }
  const subjectAltNames = (context.match_typed_subject_alt_names ?? []).map(subjectAltNameOf);
  if (context.trusted_ca !== undefined) {
    const pem = inlinePem(context.trusted_ca, 'validation_context.trusted_ca');
    try {
      // Every block must parse: a bundle that does not is an error now, not a failed handshake later.
      const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      if (blocks.length === 0) throw new Error('no PEM certificate');
      for (const block of blocks) new X509Certificate(block);
    } catch (err) {
      throw new Error(`validation_context.trusted_ca is not a PEM certificate bundle (${(err as Error).message})`);
    }
    return { trustedCa: pem, subjectAltNames };
  }
  if (context.system_root_certs !== undefined) return { trustedCa: 'system', subjectAltNames };
  throw new Error('validation_context needs trusted_ca or system_root_certs');
}

/**
 * A cluster's transport_socket: TLS origination with an UpstreamTlsContext (Envoy's
 * envoy.transport_sockets.tls). The server certificate is always verified against the given CA (or
 * the system roots) and, when matchers are given, its subject alternative names; anything this
 * proxy cannot check is refused rather than connected without the check.
 */
export function compileUpstreamTls(socket: TransportSocket): UpstreamTlsSpec {
  const type = socket.typed_config?.['@type'];
  if (socket.name !== TLS_TRANSPORT_SOCKET_NAME && type !== UPSTREAM_TLS_CONTEXT_TYPE_URL) throw new Error(`transport socket "${socket.name ?? ''}" is not supported`);
  if (type !== UPSTREAM_TLS_CONTEXT_TYPE_URL) throw new Error(`transport_socket typed_config must be an UpstreamTlsContext, got ${type ?? 'none'}`);
  const context = socket.typed_config as unknown as UpstreamTlsContext;
  if (context.allow_renegotiation === true) throw new Error('allow_renegotiation is not supported');
  const common = context.common_tls_context ?? {};
  if (common.validation_context_sds_secret_config !== undefined || common.combined_validation_context !== undefined || common.validation_context_certificate_provider !== undefined || common.validation_context_certificate_provider_instance !== undefined) {
    throw new Error('only an inline validation_context is supported upstream');
  }
  if ((common.tls_certificate_sds_secret_configs?.length ?? 0) > 0 || common.tls_certificate_provider_instance !== undefined) {
    throw new Error('upstream client certificates must be inline tls_certificates');
  }
  if ((common.tls_certificates?.length ?? 0) > 1) throw new Error('at most one upstream client certificate is supported');
  const { trustedCa, subjectAltNames } = compileValidation(common.validation_context);
  const clientCertificate = common.tls_certificates?.[0] ? compileTlsCertificate(common.tls_certificates[0], 'tls_certificates[0]') : undefined;
  const sni = context.sni || undefined;
  const alpnProtocols = [...(common.alpn_protocols ?? [])];
  const key = createHash('sha256')
    .update(JSON.stringify([sni, trustedCa, subjectAltNames, clientCertificate?.certificateChain, clientCertificate?.privateKey, alpnProtocols]))
    .digest('hex');
  return { ...(sni ? { sni } : {}), trustedCa, subjectAltNames, ...(clientCertificate ? { clientCertificate } : {}), alpnProtocols, key };
}

/** The names of a peer certificate's subjectaltname field ("DNS:a, URI:spiffe://…"), by type. */
function certificateNames(cert: tls.PeerCertificate, type: 'DNS' | 'URI'): string[] {
  return (cert.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith(`${type}:`))
    .map((entry) => entry.slice(type.length + 1));
}

/**
 * Envoy's SAN check: with matchers, the certificate must carry one of the names (a DNS name as
 * certificate wildcards match it, a URI exactly). Without matchers Envoy checks no name, and
 * neither does this.
 */
export function subjectAltNameProblem(names: readonly SubjectAltNameSpec[], cert: tls.PeerCertificate): Error | undefined {
  if (names.length === 0) return undefined;
  for (const name of names) {
    if (name.type === 'URI' && certificateNames(cert, 'URI').includes(name.value)) return undefined;
    // Node's hostname check: the certificate's DNS names, wildcards included (no CN fallback when SANs exist).
    if (name.type === 'DNS' && certificateNames(cert, 'DNS').length > 0 && tls.checkServerIdentity(name.value, cert) === undefined) return undefined;
  }
  const wanted = names.map((n) => `${n.type}:${n.value}`).join(', ');
  return Object.assign(new Error(`upstream certificate names (${cert.subjectaltname ?? 'none'}) match none of ${wanted}`), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
}

/** node:tls connect options for one endpoint connection of a cluster with this spec. */
export function tlsConnectOptions(spec: UpstreamTlsSpec): tls.ConnectionOptions {
  return {
    ...(spec.sni ? { servername: spec.sni } : {}),
    ...(spec.trustedCa === 'system' ? {} : { ca: spec.trustedCa }),
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => subjectAltNameProblem(spec.subjectAltNames, cert),
    ...(spec.clientCertificate ? { cert: spec.clientCertificate.certificateChain, key: spec.clientCertificate.privateKey } : {}),
    ...(spec.alpnProtocols.length > 0 ? { ALPNProtocols: spec.alpnProtocols } : {}),
  };
}
