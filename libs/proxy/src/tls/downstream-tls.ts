import type { envoy } from '@tendril/api-envoy';
import { compileTlsCertificate, type CertificateKeyPair } from './certificates';

type TransportSocket = envoy.config.core.v3.TransportSocket;
type DownstreamTlsContext = envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;

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
}

/**
 * A filter chain's transport_socket: only TLS termination with server certificates. Client
 * certificate validation, certificate providers and SDS from other sources than ADS are refused
 * rather than served without the checks they promise.
 */
export function compileDownstreamTls(socket: TransportSocket): DownstreamTlsSpec {
  const type = socket.typed_config?.['@type'];
  if (socket.name !== TLS_TRANSPORT_SOCKET_NAME && type !== DOWNSTREAM_TLS_CONTEXT_TYPE_URL) {
    throw new Error(`transport socket "${socket.name ?? ''}" is not supported`);
  }
  if (type !== DOWNSTREAM_TLS_CONTEXT_TYPE_URL) throw new Error(`transport_socket typed_config must be a DownstreamTlsContext, got ${type ?? 'none'}`);
  const context = socket.typed_config as unknown as DownstreamTlsContext;
  if (context.require_client_certificate === true) throw new Error('require_client_certificate is not supported');
  if (context.session_ticket_keys !== undefined || context.session_ticket_keys_sds_secret_config !== undefined) {
    throw new Error('session_ticket_keys are not supported');
  }
  const common = context.common_tls_context ?? {};
  if (common.validation_context !== undefined || common.validation_context_sds_secret_config !== undefined || common.combined_validation_context !== undefined) {
    throw new Error('client certificate validation (validation_context) is not supported');
  }
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
  return { secretNames, inlineCertificates, alpnProtocols: [...(common.alpn_protocols ?? [])] };
}
