import { cond } from './conditions';
import { resolveCertificateRef, type GatewayState, type ListenerCertificate } from './gateways';
import type { ResourceIndex } from './resource-index';
import type { SecretObjectReference } from './kube-types';

/** The certificate a Gateway presents to backends that ask for one (spec.tls.backend.clientCertificateRef). */
export type BackendClientCertificate = ListenerCertificate;

/**
 * Resolves a Gateway's spec.tls.backend.clientCertificateRef. A usable one is kept on the Gateway
 * (the TLS connections its routes open to backends under a BackendTLSPolicy present it) and the
 * Gateway gets ResolvedRefs=True; one that is not (no such Secret, not a core Secret, not a PEM
 * certificate and key, another namespace without a ReferenceGrant) gets ResolvedRefs=False with
 * InvalidClientCertificateRef or RefNotPermitted, and the Gateway stays Accepted: its listeners
 * serve, its backends just get no client certificate.
 */
export function applyBackendClientCertificate(index: ResourceIndex, state: GatewayState): void {
  const ref = (state.gateway.spec as { tls?: { backend?: { clientCertificateRef?: SecretObjectReference } } } | undefined)?.tls?.backend?.clientCertificateRef;
  if (!ref) return;
  const resolved = resolveCertificateRef(index, { kind: 'Gateway', namespace: state.namespace }, ref);
  if ('certificate' in resolved) {
    state.backendClientCertificate = resolved.certificate;
    state.conditions.push(cond('ResolvedRefs', true, 'ResolvedRefs', 'The backend client certificate is resolved'));
    return;
  }
  const reason = resolved.problem.reason === 'RefNotPermitted' ? 'RefNotPermitted' : 'InvalidClientCertificateRef';
  state.conditions.push(cond('ResolvedRefs', false, reason, `spec.tls.backend.clientCertificateRef: ${resolved.problem.message}`));
}
