/**
 * The object shape the store holds comes from libs/api-k8s. The store relies only on apiVersion,
 * kind and metadata (name, namespace, labels and the fields it defaults) and carries every other
 * field through untouched.
 */
export type { KubeObject, ObjectMeta } from '@tendril/api-k8s';
