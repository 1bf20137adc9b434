import { groupOf } from '@tendril/api-k8s';
import type { KubeObject } from './kube-object';

/**
 * A kind, qualified by its API group ("" for the core group). The type parameter is a phantom:
 * it lets `store.list(HTTPRouteKind)` return `HTTPRoute[]` without a cast at the call site.
 */
export interface GroupKind<T extends KubeObject = KubeObject> {
  readonly group: string;
  readonly kind: string;
  /** Never set; carries the object type for inference only. */
  readonly __object?: T;
}

/** Identifies one object: group, kind, namespace (absent for cluster-scoped kinds) and name. */
export interface ObjectRef {
  readonly group: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

/**
 * The string form of an ObjectRef: "group/Kind/namespace/name", the same spelling as
 * resourceKey() in @tendril/api-k8s. The core group and cluster-scoped objects leave their parts
 * empty: "/Service/default/web", "gateway.networking.k8s.io/GatewayClass//eg". Groups, kinds,
 * namespaces and names never contain "/", so the form parses back unambiguously.
 */
export type ResourceKey = string;

export function groupKind<T extends KubeObject = KubeObject>(group: string, kind: string): GroupKind<T> {
  return { group, kind };
}

/** The identity of an object; throws if it has no metadata.name (the store validates that first). */
export function refOf(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): ObjectRef {
  const { name, namespace } = obj.metadata;
  if (!name) throw new Error(`${obj.kind} object has no metadata.name`);
  const group = groupOf(obj.apiVersion);
  return namespace ? { group, kind: obj.kind, namespace, name } : { group, kind: obj.kind, name };
}

/** "HTTPRoute.gateway.networking.k8s.io" or "Service" for the core group. */
export function formatGroupKind(gk: { group: string; kind: string }): string {
  return gk.group ? `${gk.kind}.${gk.group}` : gk.kind;
}

export function keyOf(ref: ObjectRef): ResourceKey {
  return `${ref.group}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

export function keyOfObject(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): ResourceKey {
  return keyOf(refOf(obj));
}

/** Parses a ResourceKey back into its ObjectRef; throws on a string keyOf() could not have produced. */
export function parseKey(key: ResourceKey): ObjectRef {
  const parts = key.split('/');
  if (parts.length !== 4 || parts[1] === '' || parts[3] === '') {
    throw new Error(`invalid resource key "${key}": expected group/Kind/namespace/name`);
  }
  const [group, kind, namespace, name] = parts;
  return namespace ? { group, kind, namespace, name } : { group, kind, name };
}

/** Human-readable identity for messages: "HTTPRoute default/foo", "GatewayClass eg". */
export function describeRef(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}
