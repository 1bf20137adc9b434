import type { KubeObject } from '@tendril/api-k8s';
import type { ProcedureContext } from './procedures';
import type { ObjectRef } from './status-checks';

/**
 * GatewayInfrastructure, written out from its Go source (conformance/tests/gateway-infrastructure.go):
 * the Gateway's conditions at its latest generation and Accepted, then some ServiceAccount, Pod or
 * Service in its namespace labelled `gateway.networking.k8s.io/gateway-name=<gateway>` must exist,
 * and the first of each kind found must carry every spec.infrastructure label and annotation.
 * Here those objects are what the agent created for the Gateway (its Service), read from its store.
 */

const GATEWAY: ObjectRef = { namespace: 'gateway-conformance-infra', name: 'gateway-with-infrastructure-metadata' };
const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** Upstream lists these kinds, in this order. */
const GENERATED_KINDS = ['ServiceAccount', 'Pod', 'Service'];

interface GatewayWithInfrastructure extends KubeObject {
  spec?: { infrastructure?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
  status?: { conditions?: Array<{ type: string; status: string; observedGeneration?: number }> };
}

/** Upstream require.Subset: every key of `want` with the same value in `got`. */
function missingEntries(what: string, got: Record<string, string> | undefined, want: Record<string, string>): string | undefined {
  const missing = Object.entries(want).filter(([k, v]) => got?.[k] !== v);
  return missing.length ? `${what} ${JSON.stringify(got ?? {})} lacks ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}` : undefined;
}

export async function gatewayInfrastructure(ctx: ProcedureContext): Promise<string[]> {
  const what = `Gateway ${GATEWAY.namespace}/${GATEWAY.name}`;
  const latest = await ctx.eventually(`${what} conditions at its latest generation`, 180_000, () => {
    const gw = ctx.get('Gateway', GATEWAY.namespace, GATEWAY.name) as GatewayWithInfrastructure | undefined;
    const conditions = gw?.status?.conditions ?? [];
    if (!gw) return `${what} not found`;
    if (conditions.length === 0) return `${what} has no conditions yet`;
    const stale = conditions.filter((c) => c.observedGeneration !== gw.metadata.generation);
    return stale.length ? `${stale.map((c) => c.type).join(', ')} not at generation ${gw.metadata.generation}` : undefined;
  });
  if (latest) return [latest];
  const accepted = await ctx.status({ clause: `${what} Accepted`, gateway: GATEWAY, conditions: [{ type: 'Accepted', status: 'True' }] });
  if (accepted) return [accepted];
  const gateway = ctx.get('Gateway', GATEWAY.namespace, GATEWAY.name) as GatewayWithInfrastructure;
  const labels = gateway.spec?.infrastructure?.labels ?? {};
  const annotations = gateway.spec?.infrastructure?.annotations ?? {};
  // Upstream lists once, right after the Gateway is Accepted; the agent creates the Service in the
  // same translation that writes the status, so it is there by then.
  const failures: string[] = [];
  let found = false;
  for (const kind of GENERATED_KINDS) {
    const first = ctx.list(kind, GATEWAY.namespace).find((o) => o.metadata.labels?.[GATEWAY_NAME_LABEL] === GATEWAY.name);
    if (!first) continue;
    found = true;
    const where = `${kind} ${first.metadata.name}`;
    for (const problem of [missingEntries(`${where} labels`, first.metadata.labels, labels), missingEntries(`${where} annotations`, first.metadata.annotations, annotations)]) {
      if (problem) failures.push(problem);
    }
  }
  if (!found) failures.push(`no ServiceAccount, Pod or Service in ${GATEWAY.namespace} is labelled ${GATEWAY_NAME_LABEL}=${GATEWAY.name}`);
  return failures;
}
