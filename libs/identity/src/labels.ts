/**
 * Security labels: `source:key=value`, as Cilium writes them. The source says where a label came
 * from (`k8s` for pod and namespace metadata, `reserved` for the built-in identities, `cidr` for
 * prefixes referenced by policy, `fqdn` for names learned by the DNS proxy); a selector may name
 * one source or `any`.
 */

export const LabelSource = {
  K8S: 'k8s',
  RESERVED: 'reserved',
  CIDR: 'cidr',
  FQDN: 'fqdn',
  ANY: 'any',
  UNSPEC: 'unspec',
} as const;

/** Label keys Cilium derives from Kubernetes metadata (policy-semantics §2.4). */
export const PodNamespaceLabel = 'io.kubernetes.pod.namespace';
export const NamespaceLabelPrefix = 'io.cilium.k8s.namespace.labels.';
export const ServiceAccountLabel = 'io.cilium.k8s.policy.serviceaccount';
export const ClusterLabel = 'io.cilium.k8s.policy.cluster';

export interface Label {
  readonly source: string;
  readonly key: string;
  readonly value: string;
}

/** A canonical label set: sorted by source then key, one label per (source, key). */
export type LabelSet = readonly Label[];

export function label(source: string, key: string, value = ''): Label {
  return { source, key, value };
}

/** `k8s:app=web`, `reserved:host`. */
export function formatLabel(l: Label): string {
  return l.value === '' ? `${l.source}:${l.key}` : `${l.source}:${l.key}=${l.value}`;
}

/**
 * Parses `source:key=value` (source optional, then `defaultSource`; value optional). Kubernetes label
 * keys cannot contain ':' so the first ':' always ends the source.
 */
export function parseLabel(text: string, defaultSource: string = LabelSource.UNSPEC): Label {
  const eq = text.indexOf('=');
  const keyPart = eq < 0 ? text : text.slice(0, eq);
  const value = eq < 0 ? '' : text.slice(eq + 1);
  const colon = keyPart.indexOf(':');
  if (colon < 0) return label(defaultSource, keyPart, value);
  return label(keyPart.slice(0, colon), keyPart.slice(colon + 1), value);
}

function compareLabels(a: Label, b: Label): number {
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return 0;
}

/** Builds the canonical form; a later label with the same source and key replaces an earlier one. */
export function labelSet(labels: Iterable<Label>): LabelSet {
  const byKey = new Map<string, Label>();
  for (const l of labels) byKey.set(`${l.source}:${l.key}`, l);
  return [...byKey.values()].sort(compareLabels);
}

/** One string per distinct label set: the identity allocator's key. */
export function labelSetKey(labels: LabelSet): string {
  return labels.map(formatLabel).join(';');
}

export function formatLabelSet(labels: LabelSet): string {
  return labels.map(formatLabel).join(', ');
}

/** Labels of `set` with this key, from this source or any source when `source` is `any`. */
export function labelsWithKey(set: LabelSet, source: string, key: string): Label[] {
  return set.filter((l) => l.key === key && (source === LabelSource.ANY || l.source === source));
}

export function hasLabel(set: LabelSet, source: string, key: string): boolean {
  return set.some((l) => l.key === key && (source === LabelSource.ANY || l.source === source));
}
