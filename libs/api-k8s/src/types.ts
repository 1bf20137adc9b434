/**
 * Minimal typed views of the core Kubernetes objects Tendril reads. Only the fields Tendril uses are
 * spelled out; the rest of each object is still present at runtime (objects are never pruned).
 */

export interface TypeMeta {
  apiVersion: string;
  kind: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

/** Any Kubernetes object: the generic shape the store and sources handle before narrowing by kind. */
export interface KubeObject<Spec = unknown, Status = unknown> extends TypeMeta {
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
}

/** metav1.Condition, the standard status condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface Namespace extends TypeMeta {
  apiVersion: 'v1';
  kind: 'Namespace';
  metadata: ObjectMeta;
  spec?: { finalizers?: string[] };
  status?: { phase?: 'Active' | 'Terminating' };
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: Protocol;
  appProtocol?: string;
  nodePort?: number;
}

export interface ServiceSpec {
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  clusterIP?: string;
  clusterIPs?: string[];
  selector?: Record<string, string>;
  ports?: ServicePort[];
  externalName?: string;
  ipFamilies?: ('IPv4' | 'IPv6')[];
}

export interface Service extends TypeMeta {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec?: ServiceSpec;
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
}

export interface EndpointConditions {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export interface Endpoint {
  addresses: string[];
  conditions?: EndpointConditions;
  hostname?: string;
  targetRef?: ObjectReference;
  nodeName?: string;
  zone?: string;
}

export interface EndpointPort {
  name?: string;
  port?: number;
  protocol?: Protocol;
  appProtocol?: string;
}

/** discovery.k8s.io/v1 EndpointSlice. */
export interface EndpointSlice extends TypeMeta {
  apiVersion: 'discovery.k8s.io/v1';
  kind: 'EndpointSlice';
  metadata: ObjectMeta;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints: Endpoint[];
  ports?: EndpointPort[];
}

export interface Secret extends TypeMeta {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: ObjectMeta;
  /** e.g. "Opaque", "kubernetes.io/tls". */
  type?: string;
  /** Values are base64-encoded. */
  data?: Record<string, string>;
  /** Plain-text values; on read they win over `data` for the same key, as in the API server. */
  stringData?: Record<string, string>;
  immutable?: boolean;
}

export interface ConfigMap extends TypeMeta {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: ObjectMeta;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  immutable?: boolean;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: Protocol;
}

export interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
}

export interface PodSpec {
  containers: Container[];
  nodeName?: string;
  serviceAccountName?: string;
  hostNetwork?: boolean;
}

export interface PodStatus {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
  conditions?: { type: string; status: 'True' | 'False' | 'Unknown' }[];
}

export interface Pod extends TypeMeta {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec?: PodSpec;
  status?: PodStatus;
}

export interface PodTemplateSpec {
  metadata?: ObjectMeta;
  spec?: PodSpec;
}

export interface DeploymentSpec {
  replicas?: number;
  selector: LabelSelector;
  template: PodTemplateSpec;
}

export interface Deployment extends TypeMeta {
  apiVersion: 'apps/v1';
  kind: 'Deployment';
  metadata: ObjectMeta;
  spec?: DeploymentSpec;
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number; conditions?: Condition[] };
}

/** A validation failure at one field, e.g. {path: "metadata.name", message: "Required value"}. */
export interface FieldError {
  path: string;
  message: string;
}
