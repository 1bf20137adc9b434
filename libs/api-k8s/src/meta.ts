/** Helpers for apiVersion strings and object identity. */

/** The API group of an apiVersion: "apps/v1" → "apps", "v1" (the core group) → "". */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

/** The version part of an apiVersion: "apps/v1" → "v1", "v1" → "v1". */
export function versionOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? apiVersion : apiVersion.slice(slash + 1);
}

/** The fields resourceKey needs; any Kubernetes object has them. */
export interface ObjectIdentity {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string };
}

/**
 * A key that identifies an object across versions of its API: "group/Kind/namespace/name".
 * The core group and cluster-scoped objects leave their parts empty: "/Service/default/web", "/Namespace//default".
 */
export function resourceKey(obj: ObjectIdentity): string {
  return `${groupOf(obj.apiVersion)}/${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}
