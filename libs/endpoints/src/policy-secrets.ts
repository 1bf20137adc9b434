import type { envoy, tendril } from '@tendril/api-envoy';
import type { EndpointRedirects } from './endpoint-manager';

type Secret = envoy.extensions.transport_sockets.tls.v3.Secret;

/**
 * Kubernetes Secrets named by headerMatches[].secret, delivered to the node proxy as Cilium does
 * it: an SDS Secret (generic_secret) on the same ADS stream, which the NPDS HeaderMatch names in
 * value_sds_secret. The value never travels in NPDS, and a rotated Secret changes enforcement
 * without a policy change.
 *
 * Which value of the Secret: Cilium's agent (certificatemanager GetSecretString) takes the lone
 * item of the Secret's data, whatever its key, and refuses a Secret with none or several ("must
 * have exactly one item"). Tendril does the same: exactly one key across `data` (base64) and
 * `stringData`; anything else is unresolvable, and the header match then falls back to its inline
 * value or never matches.
 */

/** A Kubernetes Secret as the store holds it. */
export interface KubeSecret {
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
}

/** The SDS name of the generic secret for the Kubernetes Secret namespace/name (its own prefix: Gateway TLS secrets use the bare name). */
export function policySecretName(namespace: string, name: string): string {
  return `policy-secret/${namespace}/${name}`;
}

/** The value a header match compares with: the Secret's lone item; undefined when it has none or several. */
export function headerMatchSecretValue(secret: KubeSecret): string | undefined {
  const items = [...Object.entries(secret.data ?? {}).map(([, v]) => Buffer.from(v, 'base64').toString('utf8')), ...Object.values(secret.stringData ?? {})];
  return items.length === 1 ? items[0] : undefined;
}

/** The Secrets (namespace, name) the endpoints' HTTP rules name in headerMatches, deduplicated and sorted. */
export function referencedPolicySecrets(endpoints: readonly EndpointRedirects[]): { namespace: string; name: string }[] {
  const seen = new Map<string, { namespace: string; name: string }>();
  for (const endpoint of endpoints) {
    for (const port of endpoint.portPolicies) {
      for (const rule of port.rules) {
        for (const http of rule.http ?? []) {
          for (const match of http.headerMatches ?? []) {
            if (!match.secret?.name) continue;
            const ref = { namespace: match.secret.namespace ?? '', name: match.secret.name };
            seen.set(policySecretName(ref.namespace, ref.name), ref);
          }
        }
      }
    }
  }
  return [...seen].sort(([a], [b]) => a.localeCompare(b)).map(([, ref]) => ref);
}

/**
 * SDS generic secrets for the Secrets the endpoints' header matches name and `readSecret` finds
 * with a usable value. One that is missing (or has no single item) is not sent: the proxy then
 * has nothing under that name and the match fails closed.
 */
export function policySecretResources(endpoints: readonly EndpointRedirects[], readSecret: (namespace: string, name: string) => KubeSecret | undefined): Secret[] {
  const out: Secret[] = [];
  for (const ref of referencedPolicySecrets(endpoints)) {
    const secret = readSecret(ref.namespace, ref.name);
    const value = secret && headerMatchSecretValue(secret);
    if (value === undefined) continue;
    out.push({ name: policySecretName(ref.namespace, ref.name), generic_secret: { secret: { inline_string: value } } });
  }
  return out;
}

/**
 * Tendril NPHDS: the node's ipcache as one NetworkPolicyHosts per identity (resource name = the
 * identity in decimal), prefixes sorted, for a proxy that resolves identities without the pinned maps.
 */
export function networkPolicyHostsResources(ipcache: Iterable<readonly [cidr: string, identity: number]>): tendril.policy.v1.NetworkPolicyHosts[] {
  const byIdentity = new Map<number, string[]>();
  for (const [cidr, identity] of ipcache) {
    const list = byIdentity.get(identity) ?? [];
    list.push(cidr);
    byIdentity.set(identity, list);
  }
  return [...byIdentity]
    .sort(([a], [b]) => a - b)
    .map(([policy, cidrs]) => ({ policy, host_addresses: cidrs.sort() }));
}
