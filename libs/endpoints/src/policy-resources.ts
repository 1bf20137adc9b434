import { validateObjectMeta, type FieldError, type KubeObject } from '@tendril/api-k8s';
import { POLICY_KINDS, type PolicyKind, validatePolicy, type ValidationOptions } from '@tendril/policy';

/** The API group and version each policy kind is served at. */
export const POLICY_API_VERSIONS: Readonly<Record<PolicyKind, string>> = {
  CiliumNetworkPolicy: 'cilium.io/v2',
  CiliumClusterwideNetworkPolicy: 'cilium.io/v2',
  NetworkPolicy: 'networking.k8s.io/v1',
};

/** Store filters (group + kind) of the three policy kinds. */
export const POLICY_GROUP_KINDS: readonly { readonly group: string; readonly kind: PolicyKind }[] = POLICY_KINDS.map((kind) => ({
  kind,
  group: POLICY_API_VERSIONS[kind].split('/')[0],
}));

export function isPolicyKind(apiVersion: unknown, kind: unknown): kind is PolicyKind {
  return typeof kind === 'string' && (POLICY_KINDS as readonly string[]).includes(kind) && POLICY_API_VERSIONS[kind as PolicyKind] === apiVersion;
}

/** ServiceAccounts carry no spec Tendril reads; a pod's service account name becomes an identity label. */
function isServiceAccount(apiVersion: unknown, kind: unknown): boolean {
  return apiVersion === 'v1' && kind === 'ServiceAccount';
}

/**
 * Validation of the kinds the endpoint manager reads, for the file source: a policy gets its
 * metadata checked and then Cilium's own validation, so a bad policy file is reported with its
 * file and document like any other bad input, and (the source keeping the last valid version of an
 * object whose new version fails) an invalid edit never reaches the store. Returns undefined for
 * other kinds, which the caller validates itself.
 */
export function validateEndpointResource(obj: KubeObject, options: ValidationOptions = {}): FieldError[] | undefined {
  if (isServiceAccount(obj.apiVersion, obj.kind)) return validateObjectMeta(obj.metadata, { namespaced: true });
  if (!isPolicyKind(obj.apiVersion, obj.kind)) return undefined;
  const metaErrors = validateObjectMeta(obj.metadata, { namespaced: obj.kind !== 'CiliumClusterwideNetworkPolicy' });
  if (metaErrors.length > 0) return metaErrors;
  const error = validatePolicy(obj, options);
  return error === undefined ? [] : [{ path: '', message: error }];
}

/** Cilium's condition on a policy object (newer releases): whether the agent accepted it. */
export interface PolicyValidCondition {
  readonly type: 'Valid';
  readonly status: 'True' | 'False';
  readonly reason: 'ValidationSucceeded' | 'ValidationFailed';
  readonly message: string;
  readonly lastTransitionTime: string;
}

export function validCondition(error: string | undefined, at: string): PolicyValidCondition {
  return error === undefined
    ? { type: 'Valid', status: 'True', reason: 'ValidationSucceeded', message: 'Policy validation succeeded', lastTransitionTime: at }
    : { type: 'Valid', status: 'False', reason: 'ValidationFailed', message: error, lastTransitionTime: at };
}
