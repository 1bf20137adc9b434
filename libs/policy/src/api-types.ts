/**
 * The policy resources as users write them (cilium.io/v2 CiliumNetworkPolicy and
 * CiliumClusterwideNetworkPolicy, networking.k8s.io/v1 NetworkPolicy). Field names and shapes are
 * Cilium's and Kubernetes' own, so existing YAML is accepted unchanged.
 */
import type { LabelSelector, ObjectMeta } from '@tendril/api-k8s';

export type EndpointSelector = LabelSelector;

export interface PortProtocol {
  port?: string | number;
  endPort?: number;
  protocol?: string;
}

export interface PortRuleHTTP {
  path?: string;
  method?: string;
  host?: string;
  headers?: string[];
  headerMatches?: { name?: string; value?: string; secret?: { namespace?: string; name?: string }; mismatch?: string }[];
}

export interface PortRuleKafka {
  role?: string;
  apiKey?: string;
  apiVersion?: string;
  clientID?: string;
  topic?: string;
}

export interface PortRuleDNS {
  matchName?: string;
  matchPattern?: string;
}

export interface L7Rules {
  http?: PortRuleHTTP[];
  kafka?: PortRuleKafka[];
  dns?: PortRuleDNS[];
  l7proto?: string;
  l7?: Record<string, string>[];
}

export interface PortRule {
  ports?: PortProtocol[];
  rules?: L7Rules;
  serverNames?: string[];
  terminatingTLS?: unknown;
  originatingTLS?: unknown;
  listener?: { envoyConfig?: { kind?: string; name?: string }; name?: string; priority?: number };
}

export interface PortDenyRule {
  ports?: PortProtocol[];
}

export interface ICMPField {
  family?: string;
  type?: number | string;
}

export interface ICMPRule {
  fields?: ICMPField[];
}

export interface CIDRRule {
  cidr?: string;
  cidrGroupRef?: string;
  cidrGroupSelector?: LabelSelector;
  except?: string[];
}

export interface FQDNSelector {
  matchName?: string;
  matchPattern?: string;
}

export type Entity =
  | 'all'
  | 'world'
  | 'world-ipv4'
  | 'world-ipv6'
  | 'cluster'
  | 'host'
  | 'remote-node'
  | 'kube-apiserver'
  | 'ingress'
  | 'health'
  | 'init'
  | 'unmanaged'
  | 'none';

interface CommonPeerFields {
  icmps?: ICMPRule[];
  authentication?: { mode?: string };
}

export interface IngressRule extends CommonPeerFields {
  fromEndpoints?: EndpointSelector[];
  fromCIDR?: string[];
  fromCIDRSet?: CIDRRule[];
  fromEntities?: string[];
  fromNodes?: EndpointSelector[];
  fromGroups?: unknown[];
  fromRequires?: EndpointSelector[];
  toPorts?: PortRule[];
}

export interface IngressDenyRule extends Omit<IngressRule, 'toPorts'> {
  toPorts?: PortDenyRule[];
}

export interface EgressRule extends CommonPeerFields {
  toEndpoints?: EndpointSelector[];
  toCIDR?: string[];
  toCIDRSet?: CIDRRule[];
  toEntities?: string[];
  toServices?: unknown[];
  toFQDNs?: FQDNSelector[];
  toGroups?: unknown[];
  toNodes?: EndpointSelector[];
  toRequires?: EndpointSelector[];
  toPorts?: PortRule[];
}

export interface EgressDenyRule extends Omit<EgressRule, 'toPorts' | 'toFQDNs'> {
  toPorts?: PortDenyRule[];
}

export interface CiliumRule {
  endpointSelector?: EndpointSelector;
  nodeSelector?: EndpointSelector;
  ingress?: IngressRule[];
  ingressDeny?: IngressDenyRule[];
  egress?: EgressRule[];
  egressDeny?: EgressDenyRule[];
  enableDefaultDeny?: { ingress?: boolean; egress?: boolean };
  labels?: unknown[];
  description?: string;
}

export interface CiliumNetworkPolicy {
  apiVersion: 'cilium.io/v2';
  kind: 'CiliumNetworkPolicy';
  metadata: ObjectMeta;
  spec?: CiliumRule;
  specs?: CiliumRule[];
}

export interface CiliumClusterwideNetworkPolicy {
  apiVersion: 'cilium.io/v2';
  kind: 'CiliumClusterwideNetworkPolicy';
  metadata: ObjectMeta;
  spec?: CiliumRule;
  specs?: CiliumRule[];
}

export interface NetworkPolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

export interface IPBlock {
  cidr: string;
  except?: string[];
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicySpec {
  podSelector?: LabelSelector;
  ingress?: NetworkPolicyIngressRule[];
  egress?: NetworkPolicyEgressRule[];
  policyTypes?: string[];
}

export interface NetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: ObjectMeta;
  spec?: NetworkPolicySpec;
}

export type PolicyObject = CiliumNetworkPolicy | CiliumClusterwideNetworkPolicy | NetworkPolicy;

export const POLICY_KINDS = ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];
