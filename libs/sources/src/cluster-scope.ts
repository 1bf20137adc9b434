import { groupOf } from '@tendril/api-k8s';

/**
 * Kinds that live outside namespaces, as "group/Kind" ("" for the core group). A file has no API
 * server to ask for a kind's scope, so the source keeps this table; kinds missing from it are
 * treated as namespaced, and FileSource accepts extra entries for other CRDs.
 */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  '/Namespace',
  '/Node',
  '/PersistentVolume',
  '/ComponentStatus',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'apiregistration.k8s.io/APIService',
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding',
  'admissionregistration.k8s.io/MutatingAdmissionPolicy',
  'admissionregistration.k8s.io/MutatingAdmissionPolicyBinding',
  'certificates.k8s.io/CertificateSigningRequest',
  'certificates.k8s.io/ClusterTrustBundle',
  'flowcontrol.apiserver.k8s.io/FlowSchema',
  'flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration',
  'networking.k8s.io/IngressClass',
  'networking.k8s.io/IPAddress',
  'networking.k8s.io/ServiceCIDR',
  'node.k8s.io/RuntimeClass',
  'scheduling.k8s.io/PriorityClass',
  'storage.k8s.io/StorageClass',
  'storage.k8s.io/CSIDriver',
  'storage.k8s.io/CSINode',
  'storage.k8s.io/VolumeAttachment',
  'gateway.networking.k8s.io/GatewayClass',
  'cert-manager.io/ClusterIssuer',
  'cilium.io/CiliumClusterwideNetworkPolicy',
  'cilium.io/CiliumClusterwideEnvoyConfig',
  'cilium.io/CiliumNode',
  'cilium.io/CiliumIdentity',
  'cilium.io/CiliumExternalWorkload',
  'cilium.io/CiliumEgressGatewayPolicy',
  'cilium.io/CiliumLoadBalancerIPPool',
  'cilium.io/CiliumCIDRGroup',
  'cilium.io/CiliumL2AnnouncementPolicy',
  'cilium.io/CiliumPodIPPool',
  'cilium.io/CiliumBGPPeeringPolicy',
  'cilium.io/CiliumBGPClusterConfig',
  'cilium.io/CiliumBGPPeerConfig',
  'cilium.io/CiliumBGPAdvertisement',
  'cilium.io/CiliumBGPNodeConfig',
  'cilium.io/CiliumBGPNodeConfigOverride',
]);

/** Whether objects of this apiVersion/kind are cluster-scoped, per the table plus `extra` "group/Kind" entries. */
export function isClusterScoped(apiVersion: string, kind: string, extra?: ReadonlySet<string>): boolean {
  const groupKind = `${groupOf(apiVersion)}/${kind}`;
  return CLUSTER_SCOPED_KINDS.has(groupKind) || (extra?.has(groupKind) ?? false);
}
