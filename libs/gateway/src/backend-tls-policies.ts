import { X509Certificate } from 'node:crypto';
import { cond, stampConditions, type ConditionDraft } from './conditions';
import type { GatewayState } from './gateways';
import type { IrUpstreamTls } from './ir';
import { GATEWAY_API_GROUP, type BackendObjectReference, type BackendTLSPolicy, type Condition, type KubeObject } from './kube-types';
import { compareStrings, generationOf, nameOf, namespaceOf, type ResourceIndex } from './resource-index';
import { GATEWAY_API_VERSION, type StatusUpdate } from './status';

/** The key under which a CA ConfigMap holds its PEM bundle, as the spec requires. */
const CA_CERTIFICATE_KEY = 'ca.crt';

/**
 * What a BackendTLSPolicy means for the connections to the Service port it targets: TLS with
 * `tls`, or (when none of its CA certificates can be used) no connection at all, because falling
 * back to plaintext would send traffic the policy meant to protect in the clear.
 */
export type BackendTlsEffect = { policy: BackendTLSPolicy; tls: IrUpstreamTls } | { policy: BackendTLSPolicy; failClosed: string };

interface PolicyEvaluation {
  policy: BackendTLSPolicy;
  /** Accepted and ResolvedRefs, without the conflict verdict (which is per target). */
  accepted: ConditionDraft;
  resolvedRefs: ConditionDraft;
  tls?: IrUpstreamTls;
  /** Lost a conflict on at least one target to an older policy. */
  conflictedBy?: string;
}

/** `<namespace>/<service>/<sectionName or empty>`: what one policy target means. */
const targetKey = (namespace: string, service: string, sectionName: string | undefined): string => `${namespace}/${service}/${sectionName ?? ''}`;

/** Older first, then by namespace/name: the spec's precedence between conflicting policies. */
function comparePrecedence(a: BackendTLSPolicy, b: BackendTLSPolicy): number {
  return compareStrings(a.metadata?.creationTimestamp ?? '', b.metadata?.creationTimestamp ?? '') || compareStrings(`${namespaceOf(a)}/${nameOf(a)}`, `${namespaceOf(b)}/${nameOf(b)}`);
}

/** Whether `pem` holds at least one certificate and every block of it parses. */
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

/**
 * BackendTLSPolicies: which one applies to each Service port (a policy naming the port by
 * sectionName before one naming the whole Service; between policies with the same target the oldest
 * wins and the others are Conflicted), the TLS settings it gives the connections there, and the
 * policies' status per ancestor Gateway.
 */
export class BackendTlsPolicies {
  private readonly evaluations: PolicyEvaluation[];
  private readonly winners = new Map<string, PolicyEvaluation>();

  constructor(private readonly index: ResourceIndex) {
    this.evaluations = [...index.backendTlsPolicies].sort(comparePrecedence).map((policy) => this.evaluate(policy));
    for (const evaluation of this.evaluations) {
      for (const ref of evaluation.policy.spec?.targetRefs ?? []) {
        if ((ref.group ?? '') !== '' || ref.kind !== 'Service' || !ref.name) continue;
        const key = targetKey(namespaceOf(evaluation.policy), ref.name, ref.sectionName);
        const winner = this.winners.get(key);
        if (winner && winner !== evaluation) evaluation.conflictedBy ??= `${namespaceOf(winner.policy)}/${nameOf(winner.policy)}`;
        else this.winners.set(key, evaluation);
      }
    }
  }

  /** The policy in force for connections to this Service port (by port name), if any. */
  effectFor(namespace: string, service: string, portName: string | undefined): BackendTlsEffect | undefined {
    const evaluation = (portName ? this.winners.get(targetKey(namespace, service, portName)) : undefined) ?? this.winners.get(targetKey(namespace, service, undefined));
    if (!evaluation) return undefined;
    if (evaluation.tls) return { policy: evaluation.policy, tls: evaluation.tls };
    return { policy: evaluation.policy, failClosed: evaluation.accepted.message };
  }

  private evaluate(policy: BackendTLSPolicy): PolicyEvaluation {
    const validation = policy.spec?.validation;
    const hostname = validation?.hostname ?? '';
    const refs = validation?.caCertificateRefs ?? [];
    const namespace = namespaceOf(policy);
    const bundles: string[] = [];
    let refProblem: ConditionDraft | undefined;
    for (const ref of refs) {
      const what = `${ref.group ? `${ref.group}/` : ''}${ref.kind ?? ''} ${ref.name ?? ''}`;
      if ((ref.group ?? '') !== '' || ref.kind !== 'ConfigMap') {
        refProblem ??= cond('ResolvedRefs', false, 'InvalidKind', `caCertificateRef ${what} is not a supported kind (only core ConfigMap)`);
        continue;
      }
      const pem = this.index.configMap(namespace, ref.name ?? '')?.data?.[CA_CERTIFICATE_KEY];
      if (pem === undefined) {
        refProblem ??= cond('ResolvedRefs', false, 'InvalidCACertificateRef', `ConfigMap ${namespace}/${ref.name ?? ''} does not exist or has no ${CA_CERTIFICATE_KEY}`);
        continue;
      }
      if (!isPemBundle(pem)) {
        refProblem ??= cond('ResolvedRefs', false, 'InvalidCACertificateRef', `${CA_CERTIFICATE_KEY} of ConfigMap ${namespace}/${ref.name ?? ''} is not a PEM certificate bundle`);
        continue;
      }
      bundles.push(pem.trim());
    }
    const system = validation?.wellKnownCACertificates === 'System';
    const resolvedRefs = refProblem ?? cond('ResolvedRefs', true, 'ResolvedRefs', 'All CA certificate references are resolved');
    if (bundles.length === 0 && !system) {
      const why = refs.length === 0 ? 'the policy names no CA certificate and no supported wellKnownCACertificates' : `no usable CA certificate: ${refProblem?.message ?? ''}`;
      return { policy, accepted: cond('Accepted', false, 'NoValidCACertificate', why), resolvedRefs };
    }
    // Without subjectAltNames the certificate must be for the hostname (Envoy Gateway matches it as a DNS name).
    const subjectAltNames = (validation?.subjectAltNames ?? []).length
      ? (validation?.subjectAltNames ?? []).map((san) => (san.type === 'URI' ? { type: 'URI' as const, value: san.uri ?? '' } : { type: 'DNS' as const, value: san.hostname ?? '' }))
      : [{ type: 'DNS' as const, value: hostname }];
    return {
      policy,
      accepted: cond('Accepted', true, 'Accepted', 'Policy accepted'),
      resolvedRefs,
      tls: { sni: hostname, trustedCa: bundles.length > 0 ? bundles.join('\n') : 'System', subjectAltNames },
    };
  }

  /**
   * Status for every policy with an ancestor here (a Gateway of ours that a route sending traffic
   * to the targeted Service is attached to) or that carries our status from before. Ancestor
   * entries of other controllers are kept.
   */
  statuses(current: ResourceIndex, gatewaysByKey: ReadonlyMap<string, GatewayState>, controllerName: string, now: string): StatusUpdate[] {
    // Without policies there is nothing to report: skip the walk over every route.
    if (this.evaluations.length === 0) return [];
    const targeted = new Set(
      this.evaluations.flatMap(({ policy }) => (policy.spec?.targetRefs ?? []).filter((ref) => (ref.group ?? '') === '' && ref.kind === 'Service').map((ref) => `${namespaceOf(policy)}/${ref.name}`)),
    );
    const gatewaysOfService = ancestorsByService(current, gatewaysByKey, targeted);
    // The evaluations outlive status writes (which make new policy objects): the previous status is the current object's.
    const currentPolicies = new Map(current.backendTlsPolicies.map((p) => [`${namespaceOf(p)}/${nameOf(p)}`, p]));
    const updates: StatusUpdate[] = [];
    for (const { policy: evaluated, accepted, resolvedRefs, conflictedBy } of this.evaluations) {
      const policy = currentPolicies.get(`${namespaceOf(evaluated)}/${nameOf(evaluated)}`) ?? evaluated;
      const namespace = namespaceOf(policy);
      const ancestors = new Map<string, { namespace: string; name: string }>();
      for (const ref of policy.spec?.targetRefs ?? []) {
        if ((ref.group ?? '') !== '' || ref.kind !== 'Service') continue;
        for (const gateway of gatewaysOfService.get(`${namespace}/${ref.name}`) ?? []) ancestors.set(`${gateway.namespace}/${gateway.name}`, gateway);
      }
      type AncestorStatus = { ancestorRef: { group?: string; kind?: string; namespace?: string; name?: string }; controllerName: string; conditions: Condition[] };
      const previous = ((policy.status as { ancestors?: AncestorStatus[] } | undefined)?.ancestors ?? []);
      if (ancestors.size === 0 && !previous.some((a) => a.controllerName === controllerName)) continue;
      const drafts = [conflictedBy ? cond('Accepted', false, 'Conflicted', `an older policy, ${conflictedBy}, has the same target`) : accepted, resolvedRefs];
      const ours: AncestorStatus[] = [...ancestors.values()]
        .sort((a, b) => compareStrings(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`))
        .map((gateway) => {
          const before = previous.find((p) => p.controllerName === controllerName && p.ancestorRef?.name === gateway.name && (p.ancestorRef?.namespace ?? namespace) === gateway.namespace);
          return {
            ancestorRef: { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: gateway.namespace, name: gateway.name },
            controllerName,
            conditions: stampConditions(drafts, before?.conditions, generationOf(policy), now),
          };
        });
      const foreign = previous.filter((p) => p.controllerName !== controllerName);
      updates.push({ apiVersion: GATEWAY_API_VERSION, kind: 'BackendTLSPolicy', namespace, name: nameOf(policy), status: { ancestors: [...foreign, ...ours] } });
    }
    return updates;
  }

}

/**
 * `<namespace>/<service>` → our Gateways that routes with a backendRef to that Service name have as a
 * parent, for the `targeted` Services only.
 */
function ancestorsByService(index: ResourceIndex, gatewaysByKey: ReadonlyMap<string, GatewayState>, targeted: ReadonlySet<string>): Map<string, Array<{ namespace: string; name: string }>> {
    const byService = new Map<string, Array<{ namespace: string; name: string }>>();
    const routes: KubeObject[] = [...index.httpRoutes, ...index.grpcRoutes, ...index.tlsRoutes];
    for (const route of routes) {
      const spec = (route as { spec?: { parentRefs?: Array<{ group?: string; kind?: string; namespace?: string; name?: string }>; rules?: Array<{ backendRefs?: BackendObjectReference[] }> } }).spec;
      const routeNamespace = namespaceOf(route);
      const targets = (spec?.rules ?? []).flatMap((rule) =>
        (rule.backendRefs ?? []).filter((ref) => (ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service').map((ref) => `${ref.namespace ?? routeNamespace}/${ref.name ?? ''}`).filter((key) => targeted.has(key)),
      );
      if (targets.length === 0) continue;
      const gateways = (spec?.parentRefs ?? [])
        .filter((p) => (p.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP && (p.kind ?? 'Gateway') === 'Gateway')
        .map((p) => gatewaysByKey.get(`${p.namespace ?? routeNamespace}/${p.name ?? ''}`))
        .filter((g): g is GatewayState => g !== undefined)
        .map((g) => ({ namespace: g.namespace, name: g.name }));
      if (gateways.length === 0) continue;
      for (const key of targets) {
        const known = byService.get(key);
        if (known) known.push(...gateways);
        else byService.set(key, [...gateways]);
      }
    }
    return byService;
}
