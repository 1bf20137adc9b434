import { X509Certificate } from 'node:crypto';
import type { envoy } from '@tendril/api-envoy';
import { compileTlsCertificate, type CertificateKeyPair } from './certificates';

type TransportSocket = envoy.config.core.v3.TransportSocket;
type DownstreamTlsContext = envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
type CertificateValidationContext = envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;

export const TLS_TRANSPORT_SOCKET_NAME = 'envoy.transport_sockets.tls';
export const DOWNSTREAM_TLS_CONTEXT_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

/** What a filter chain's DownstreamTlsContext asks of the TLS handshake. */
export interface DownstreamTlsSpec {
  /** SDS Secret names (tls_certificate_sds_secret_configs), fetched over the same ADS stream. */
  secretNames: string[];
  /** Certificates given inline (tls_certificates). */
  inlineCertificates: CertificateKeyPair[];
  /** ALPN protocols offered, in preference order; empty means no ALPN (HTTP/1.1 unless the client speaks h2 directly). */
  alpnProtocols: string[];
  /** Client certificates are requested and checked (a validation_context); none are asked for when absent. */
  clientValidation?: ClientValidationSpec;
}

/** Envoy's downstream client certificate checks. */
export interface ClientValidationSpec {
  /** PEM bundle client certificates must chain to. */
  trustedCa: string;
  /** require_client_certificate: a client that presents no certificate is refused. */
  required: boolean;
  /** trust_chain_verification ACCEPT_UNTRUSTED: the certificate is requested, but whatever comes back is let through. */
  acceptUntrusted: boolean;
}

/**
 * A filter chain's transport_socket: TLS termination with server certificates, and client
 * certificate validation against an inline CA bundle. Other validation checks, certificate
 * providers and SDS from other sources than ADS are refused rather than served without the checks
 * they promise.
 */
export function compileDownstreamTls(socket: TransportSocket): DownstreamTlsSpec {
  const type = socket.typed_config?.['@type'];
  if (socket.name !== TLS_TRANSPORT_SOCKET_NAME && type !== DOWNSTREAM_TLS_CONTEXT_TYPE_URL) {
    throw new Error(`transport socket "${socket.name ?? ''}" is not supported`);
  }
  if (type !== DOWNSTREAM_TLS_CONTEXT_TYPE_URL) throw new Error(`transport_socket typed_config must be a DownstreamTlsContext, got ${type ?? 'none'}`);
  const context = socket.typed_config as unknown as DownstreamTlsContext;
  if (context.session_ticket_keys !== undefined || context.session_ticket_keys_sds_secret_config !== undefined) {
    throw new Error('session_ticket_keys are not supported');
  }
  const common = context.common_tls_context ?? {};
  if (common.validation_context_sds_secret_config !== undefined || common.combined_validation_context !== undefined) {
    throw new Error('client certificate validation from SDS is not supported (give an inline validation_context)');
  }
  const clientValidation = common.validation_context ? compileClientValidation(common.validation_context, context.require_client_certificate === true) : undefined;
  if (!clientValidation && context.require_client_certificate === true) throw new Error('require_client_certificate needs a validation_context to check the certificate against');
  if (common.tls_certificate_provider_instance !== undefined || common.tls_certificate_certificate_provider !== undefined || common.tls_certificate_certificate_provider_instance !== undefined) {
    throw new Error('certificate providers are not supported');
  }
  const secretNames = (common.tls_certificate_sds_secret_configs ?? []).map((config, i) => {
    if (!config.name) throw new Error(`tls_certificate_sds_secret_configs[${i}].name is required`);
    if (config.sds_config !== undefined && config.sds_config.ads === undefined) {
      throw new Error(`tls_certificate_sds_secret_configs[${i}]: only SDS over ADS is supported`);
    }
    return config.name;
  });
  const inlineCertificates = (common.tls_certificates ?? []).map((c, i) => compileTlsCertificate(c, `tls_certificates[${i}]`));
  if (secretNames.length === 0 && inlineCertificates.length === 0) throw new Error('a DownstreamTlsContext needs a certificate (tls_certificates or tls_certificate_sds_secret_configs)');
  return { secretNames, inlineCertificates, alpnProtocols: [...(common.alpn_protocols ?? [])], ...(clientValidation ? { clientValidation } : {}) };
}

function compileClientValidation(context: CertificateValidationContext, required: boolean): ClientValidationSpec {
  for (const unsupported of ['ca_certificate_provider_instance', 'system_root_certs', 'watched_directory', 'verify_certificate_spki', 'verify_certificate_hash', 'match_typed_subject_alt_names', 'match_subject_alt_names', 'crl', 'custom_validator_config'] as const) {
    if (context[unsupported] !== undefined) throw new Error(`validation_context.${unsupported} is not supported for client certificates`);
  }
  const source = context.trusted_ca;
  const trustedCa = source?.inline_string ?? (source?.inline_bytes !== undefined ? Buffer.from(source.inline_bytes, 'base64').toString('utf8') : undefined);
  if (trustedCa === undefined) throw new Error('validation_context.trusted_ca must be given inline (inline_string or inline_bytes)');
  const blocks = trustedCa.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    if (blocks.length === 0) throw new Error('no PEM certificate');
    for (const block of blocks) new X509Certificate(block);
  } catch (err) {
    throw new Error(`validation_context.trusted_ca is not a PEM certificate bundle (${(err as Error).message})`);
  }
  return { trustedCa, required, acceptUntrusted: context.trust_chain_verification === 'ACCEPT_UNTRUSTED' };
}

/**
 * Whether a handshake's client certificate passes the chain's checks, as Envoy decides it: with
 * ACCEPT_UNTRUSTED anything does; otherwise a presented certificate must verify, and one must be
 * presented when it is required.
 */
export function clientCertificateAccepted(validation: ClientValidationSpec, presented: boolean, verified: boolean): boolean {
  if (validation.acceptUntrusted) return true;
  return presented ? verified : !validation.required;
}
