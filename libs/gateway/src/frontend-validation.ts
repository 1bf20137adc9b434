import { X509Certificate } from 'node:crypto';
import { cond, type ConditionDraft } from './conditions';
import type { GatewayState, ListenerState } from './gateways';
import { GATEWAY_API_GROUP } from './kube-types';
import { isReferenceAllowed } from './reference-grants';
import type { ResourceIndex } from './resource-index';

/** The key under which a CA ConfigMap holds its PEM bundle. */
const CA_CERTIFICATE_KEY = 'ca.crt';

/** How an HTTPS listener checks client certificates (Gateway spec.tls.frontend). */
export interface ClientCertificateValidation {
  /** PEM bundle of the CAs a client certificate must chain to. */
  trustedCa: string;
  /** AllowValidOnly: a client without a valid certificate is refused. AllowInsecureFallback: a certificate is asked for, any answer is let through. */
  mode: 'AllowValidOnly' | 'AllowInsecureFallback';
}

interface FrontendValidationSpec {
  caCertificateRefs?: Array<{ group?: string; kind?: string; name?: string; namespace?: string }>;
  mode?: string;
}

interface GatewayFrontendSpec {
  default?: { validation?: FrontendValidationSpec };
  perPort?: Array<{ port?: number; tls?: { validation?: FrontendValidationSpec } }>;
}

function frontendOf(state: GatewayState): GatewayFrontendSpec | undefined {
  return (state.gateway.spec as { tls?: { frontend?: GatewayFrontendSpec } } | undefined)?.tls?.frontend;
}

function isPemBundle(pem: string): boolean {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return false;
  try {
    for (const block of blocks) new X509Certificate(block);
    return true;
  } catch {
    return false;
  }
}

type Resolution = { validation: ClientCertificateValidation } | { problem: { reason: string; message: string } };

/** The CA bundle of a validation block, or why it cannot be used (the reason ResolvedRefs reports). */
function resolveValidation(index: ResourceIndex, state: GatewayState, spec: FrontendValidationSpec, port: number): Resolution {
  const bundles: string[] = [];
  for (const ref of spec.caCertificateRefs ?? []) {
    const namespace = ref.namespace ?? state.namespace;
    const name = ref.name ?? '';
    const what = `caCertificateRef ${ref.group ? `${ref.group}/` : ''}${ref.kind ?? ''} ${namespace}/${name} (port ${port})`;
    if ((ref.group ?? '') !== '' || ref.kind !== 'ConfigMap') return { problem: { reason: 'InvalidCACertificateKind', message: `${what} is not a supported kind (only core ConfigMap)` } };
    if (!isReferenceAllowed(index, { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: state.namespace }, { group: '', kind: 'ConfigMap', namespace, name })) {
      return { problem: { reason: 'RefNotPermitted', message: `${what} is not permitted by any ReferenceGrant` } };
    }
    const pem = index.configMap(namespace, name)?.data?.[CA_CERTIFICATE_KEY];
    if (pem === undefined) return { problem: { reason: 'InvalidCACertificateRef', message: `${what}: the ConfigMap does not exist or has no ${CA_CERTIFICATE_KEY}` } };
    if (!isPemBundle(pem)) return { problem: { reason: 'InvalidCACertificateRef', message: `${what}: ${CA_CERTIFICATE_KEY} is not a PEM certificate bundle` } };
    bundles.push(pem.trim());
  }
  if (bundles.length === 0) return { problem: { reason: 'InvalidCACertificateRef', message: `client certificate validation for port ${port} names no CA certificate` } };
  return { validation: { trustedCa: bundles.join('\n'), mode: spec.mode === 'AllowInsecureFallback' ? 'AllowInsecureFallback' : 'AllowValidOnly' } };
}

/**
 * Applies a Gateway's spec.tls.frontend to its HTTPS listeners: the perPort entry for a listener's
 * port, else the default, gives the CA its client certificates are checked against. A validation
 * whose CA cannot be used breaks only the HTTPS listeners it applies to (Accepted=False
 * NoValidCACertificate, ResolvedRefs=False with the reference's problem, not programmed), so the
 * Gateway's other listeners keep serving. Listener conditions are [Accepted, Programmed, ResolvedRefs, …].
 */
export function applyFrontendValidation(index: ResourceIndex, state: GatewayState): void {
  const frontend = frontendOf(state);
  if (!frontend) return;
  const resolved = new Map<number, Resolution | undefined>();
  const forPort = (port: number): Resolution | undefined => {
    if (!resolved.has(port)) {
      const spec = (frontend.perPort ?? []).find((p) => p.port === port)?.tls?.validation ?? frontend.default?.validation;
      resolved.set(port, spec ? resolveValidation(index, state, spec, port) : undefined);
    }
    return resolved.get(port);
  };
  for (const listener of state.listeners) {
    if (listener.protocol !== 'HTTPS' || listener.conditions[0]?.status !== 'True') continue;
    const resolution = forPort(listener.port);
    if (!resolution) continue;
    if ('validation' in resolution) {
      listener.clientValidation = resolution.validation;
      continue;
    }
    refuse(listener, resolution.problem);
  }
}

function refuse(listener: ListenerState, problem: { reason: string; message: string }): void {
  listener.programmed = false;
  listener.conditions[0] = cond('Accepted', false, 'NoValidCACertificate', `no usable CA certificate for client certificate validation: ${problem.message}`);
  listener.conditions[1] = cond('Programmed', false, 'Invalid', 'Listener is not valid');
  listener.conditions[2] = cond('ResolvedRefs', false, problem.reason, problem.message);
}

/**
 * The Gateway condition that warns of AllowInsecureFallback (clients without a valid certificate
 * are let through): InsecureFrontendValidationMode=True, reason ConfigurationChanged.
 */
export function frontendValidationConditions(state: GatewayState): ConditionDraft[] {
  const frontend = frontendOf(state);
  if (!frontend) return [];
  const modes = [frontend.default?.validation?.mode, ...(frontend.perPort ?? []).map((p) => p.tls?.validation?.mode)];
  return modes.includes('AllowInsecureFallback')
    ? [cond('InsecureFrontendValidationMode', true, 'ConfigurationChanged', 'client certificate validation lets clients without a valid certificate through (AllowInsecureFallback)')]
    : [];
}
