/**
 * The security-relevant label set of a pod (policy-semantics §2.4): its own labels, its
 * namespace's name and labels, its service account and its cluster, all with source `k8s`,
 * filtered by the label filter. Two pods with the same result share one identity.
 */
import type { Namespace, Pod } from '@tendril/api-k8s';
import { defaultLabelFilter, type LabelFilter } from './label-filter';
import {
  ClusterLabel,
  label,
  LabelSource,
  type LabelSet,
  labelSet,
  NamespaceLabelPrefix,
  PodNamespaceLabel,
  ServiceAccountLabel,
} from './labels';

export const DEFAULT_CLUSTER_NAME = 'default';

export interface WorkloadLabelInput {
  readonly namespace: string;
  readonly podLabels?: Readonly<Record<string, string>>;
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  /** Kubernetes defaults an unset service account to `default`. */
  readonly serviceAccount?: string;
  readonly clusterName?: string;
  readonly filter?: LabelFilter;
}

export function workloadLabels(input: WorkloadLabelInput): LabelSet {
  const k8s = (key: string, value: string) => label(LabelSource.K8S, key, value);
  const all = [
    ...Object.entries(input.podLabels ?? {}).map(([k, v]) => k8s(k, v)),
    ...Object.entries(input.namespaceLabels ?? {}).map(([k, v]) => k8s(NamespaceLabelPrefix + k, v)),
    k8s(PodNamespaceLabel, input.namespace),
    k8s(ServiceAccountLabel, input.serviceAccount || 'default'),
    k8s(ClusterLabel, input.clusterName || DEFAULT_CLUSTER_NAME),
  ];
  return labelSet((input.filter ?? defaultLabelFilter).filter(all));
}

export interface PodLabelOptions {
  readonly clusterName?: string;
  readonly filter?: LabelFilter;
}

/** workloadLabels for a Pod object; the Namespace object supplies the namespace labels, if known. */
export function podLabels(pod: Pod, namespace?: Namespace, options: PodLabelOptions = {}): LabelSet {
  return workloadLabels({
    namespace: pod.metadata.namespace || 'default',
    podLabels: pod.metadata.labels,
    namespaceLabels: {
      // The API server sets this label on every namespace; set it here too for namespaces not read.
      'kubernetes.io/metadata.name': pod.metadata.namespace || 'default',
      ...(namespace?.metadata.labels ?? {}),
    },
    serviceAccount: pod.spec?.serviceAccountName,
    clusterName: options.clusterName,
    filter: options.filter,
  });
}
