import type { ResourceIndex } from './resource-index';
import { namespaceOf } from './resource-index';

export interface ReferenceFrom {
  group: string;
  kind: string;
  namespace: string;
}

export interface ReferenceTo {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

/**
 * Whether a reference may cross namespaces: same-namespace references are always allowed; otherwise a
 * ReferenceGrant in the target namespace must list the referrer (group, kind, namespace) in `from`
 * and the target (group, kind, optionally name) in `to`.
 */
export function isReferenceAllowed(index: ResourceIndex, from: ReferenceFrom, to: ReferenceTo): boolean {
  if (from.namespace === to.namespace) return true;
  return index.referenceGrants.some(
    (grant) =>
      namespaceOf(grant) === to.namespace &&
      (grant.spec?.from ?? []).some(
        (f) => (f.group ?? '') === from.group && f.kind === from.kind && f.namespace === from.namespace,
      ) &&
      (grant.spec?.to ?? []).some(
        (t) => (t.group ?? '') === to.group && t.kind === to.kind && (!t.name || t.name === to.name),
      ),
  );
}
