/**
 * CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy → PolicyRule IR, for
 * objects validatePolicy accepted. Namespace scoping (§1.3), entities (§1.7), CIDR rules (§1.6)
 * and the Kubernetes NetworkPolicy mapping (§1.11) happen here, so the compiler and the verdict
 * engine only ever see identity selectors, CIDRs and port ranges.
 */
import type { LabelSelector } from '@tendril/api-k8s';
import {
  ClusterLabel,
  DEFAULT_CLUSTER_NAME,
  LabelSource,
  NamespaceLabelPrefix,
  parseIpPrefix,
  parseIpPrefixOrAddress,
  PodNamespaceLabel,
} from '@tendril/identity';
import type {
  CIDRRule,
  CiliumRule,
  EgressRule,
  ICMPRule,
  IngressRule,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  PolicyObject,
  PortRule,
} from './api-types';
import type { ItemOrigin, L7Parser, Peer, PolicyItem, PolicyRule, PolicySection, PortMatch, RuleOrigin } from './policy-ir';
import { icmpMatch, portMatches } from './ports';
import { type IdentitySelector, identitySelector, namesKey, requirement, selectorOf, type SelectorRequirement, usesSource } from './selector';

export interface TranslateOptions {
  /** This cluster's name: the `cluster` entity selects pods labelled with it. */
  readonly clusterName?: string;
}

const reserved = (name: string) => selectorOf(requirement(LabelSource.RESERVED, name, 'Exists'));
const selectorPeer = (selector: IdentitySelector): Peer => ({ kind: 'selector', selector });

/** What each entity selects (Cilium's EntitySelectorMapping). */
export function entityPeers(entity: string, clusterName: string = DEFAULT_CLUSTER_NAME): Peer[] {
  switch (entity) {
    case 'all':
      return [{ kind: 'any' }];
    case 'world':
      return ['world', 'world-ipv4', 'world-ipv6'].map((n) => selectorPeer(reserved(n)));
    case 'cluster':
      return [
        ...['host', 'remote-node', 'init', 'ingress', 'health', 'unmanaged', 'kube-apiserver'].map((n) => selectorPeer(reserved(n))),
        selectorPeer(selectorOf(requirement(LabelSource.K8S, ClusterLabel, 'In', [clusterName]))),
      ];
    default:
      // host, remote-node, kube-apiserver, ingress, health, init, unmanaged, world-ipv4/6, none
      return [selectorPeer(reserved(entity))];
  }
}

type Scope = { kind: 'namespace'; namespace: string } | { kind: 'cluster' };

/**
 * CNP peers are confined to the policy's namespace unless they name one; CCNP peers to pods of
 * any namespace (so `{}` there is not the world). Selectors of reserved labels are left alone.
 */
function scopePeerSelector(selector: IdentitySelector, scope: Scope): IdentitySelector {
  if (namesKey(selector, PodNamespaceLabel) || usesSource(selector, LabelSource.RESERVED)) return selector;
  const extra: SelectorRequirement =
    scope.kind === 'namespace'
      ? requirement(LabelSource.K8S, PodNamespaceLabel, 'In', [scope.namespace])
      : requirement(LabelSource.K8S, PodNamespaceLabel, 'Exists');
  return { requirements: [...selector.requirements, extra] };
}

function cidrPeer(rule: CIDRRule): Peer {
  return {
    kind: 'cidr',
    prefix: parseIpPrefix(rule.cidr ?? ''),
    except: (rule.except ?? []).map((e) => parseIpPrefix(e)),
  };
}

function l7Of(portRule: PortRule): PolicyItem['l7'] {
  const rules = portRule.rules;
  if (!rules) return undefined;
  const parser: L7Parser | undefined = rules.http ? 'http' : rules.kafka ? 'kafka' : rules.dns ? 'dns' : undefined;
  return parser ? { parser, rules } : undefined;
}

function icmpPorts(icmps: ICMPRule[]): PortMatch[] {
  return icmps.flatMap((r) => (r.fields ?? []).map(icmpMatch).filter((m): m is PortMatch => m !== undefined));
}

interface ItemContext {
  readonly origin: RuleOrigin;
  readonly scope: Scope;
  readonly clusterName: string;
  /** Selectors of reserved:init endpoints skip namespace scoping (§1.3). */
  readonly skipScoping: boolean;
}

function ciliumItems(raw: (IngressRule | EgressRule)[] | undefined, section: PolicySection, ctx: ItemContext): PolicyItem[] {
  const ingress = section === 'ingress' || section === 'ingressDeny';
  const deny = section === 'ingressDeny' || section === 'egressDeny';
  const items: PolicyItem[] = [];
  (raw ?? []).forEach((rawItem, index) => {
    const item = rawItem as IngressRule & EgressRule;
    const origin: ItemOrigin = { ...ctx.origin, section, item: index };
    const scoped = (s: LabelSelector) => {
      const selector = identitySelector(s);
      return selectorPeer(ctx.skipScoping ? selector : scopePeerSelector(selector, ctx.scope));
    };
    const peers: Peer[] = [
      ...((ingress ? item.fromEndpoints : item.toEndpoints) ?? []).map(scoped),
      ...((ingress ? item.fromCIDR : item.toCIDR) ?? []).map((c): Peer => ({ kind: 'cidr', prefix: parseIpPrefixOrAddress(c), except: [] })),
      ...((ingress ? item.fromCIDRSet : item.toCIDRSet) ?? []).map(cidrPeer),
      ...((ingress ? item.fromEntities : item.toEntities) ?? []).flatMap((e) => entityPeers(e, ctx.clusterName)),
      ...(ingress ? [] : (item.toFQDNs ?? [])).map((f) =>
        selectorPeer(selectorOf(requirement(LabelSource.FQDN, f.matchName ? `matchName:${f.matchName}` : `matchPattern:${f.matchPattern}`, 'Exists'))),
      ),
    ];
    const hasPeerField = peers.length > 0;
    const toPorts = item.toPorts ?? [];
    const icmps = item.icmps ?? [];
    // An item with ports but no peer is "any peer on these ports"; with neither it selects nothing.
    const effectivePeers: Peer[] = hasPeerField ? peers : toPorts.length > 0 || icmps.length > 0 ? [{ kind: 'any' }] : [];
    if (toPorts.length > 0) {
      for (const portRule of toPorts) {
        const ports = (portRule.ports ?? []).flatMap(portMatches);
        const l7 = deny ? undefined : l7Of(portRule);
        items.push({ origin, deny, peers: effectivePeers, ports, ...(l7 ? { l7 } : {}) });
      }
    } else if (icmps.length > 0) {
      items.push({ origin, deny, peers: effectivePeers, ports: icmpPorts(icmps) });
    } else {
      items.push({ origin, deny, peers: effectivePeers, ports: 'all' });
    }
  });
  return items;
}

function ciliumRule(rule: CiliumRule, origin: RuleOrigin, scope: Scope, clusterName: string): PolicyRule {
  let subject: IdentitySelector | undefined;
  if (rule.endpointSelector) {
    const selector = identitySelector(rule.endpointSelector);
    // A CNP applies to its own namespace only; a namespace the user put in is replaced (Cilium warns).
    subject =
      scope.kind === 'namespace'
        ? {
            requirements: [
              ...selector.requirements.filter((r) => r.key !== PodNamespaceLabel),
              requirement(LabelSource.K8S, PodNamespaceLabel, 'In', [scope.namespace]),
            ],
          }
        : selector;
  }
  const skipScoping = Object.keys(rule.endpointSelector?.matchLabels ?? {}).includes('reserved:init');
  const ctx: ItemContext = { origin, scope, clusterName, skipScoping };
  const ingress = [...ciliumItems(rule.ingress, 'ingress', ctx), ...ciliumItems(rule.ingressDeny, 'ingressDeny', ctx)];
  const egress = [...ciliumItems(rule.egress, 'egress', ctx), ...ciliumItems(rule.egressDeny, 'egressDeny', ctx)];
  // Default: a direction with any allow or deny section becomes default-deny (§2.1).
  const hasIngress = (rule.ingress?.length ?? 0) > 0 || (rule.ingressDeny?.length ?? 0) > 0;
  const hasEgress = (rule.egress?.length ?? 0) > 0 || (rule.egressDeny?.length ?? 0) > 0;
  return {
    origin,
    subject,
    ingress,
    egress,
    defaultDeny: {
      ingress: rule.enableDefaultDeny?.ingress ?? hasIngress,
      egress: rule.enableDefaultDeny?.egress ?? hasEgress,
    },
  };
}

// ---- NetworkPolicy ----

function knpPortMatches(port: NetworkPolicyPort): PortMatch[] {
  return portMatches({ port: port.port === undefined || port.port === null ? '0' : String(port.port), endPort: port.endPort, protocol: port.protocol ?? 'TCP' });
}

function knpPeer(peer: NetworkPolicyPeer, namespace: string): Peer {
  if (peer.ipBlock) return cidrPeer({ cidr: peer.ipBlock.cidr, except: peer.ipBlock.except });
  const k8sKeyed = (selector: LabelSelector | undefined, prefix: string): SelectorRequirement[] =>
    identitySelector(selector).requirements.map((r) => ({ ...r, source: LabelSource.K8S, key: prefix + r.key }));
  const requirements = k8sKeyed(peer.podSelector, '');
  if (peer.namespaceSelector) {
    const nsRequirements = k8sKeyed(peer.namespaceSelector, NamespaceLabelPrefix);
    // An empty namespaceSelector is every namespace: still only pods, never host or world.
    requirements.push(...(nsRequirements.length > 0 ? nsRequirements : [requirement(LabelSource.K8S, PodNamespaceLabel, 'Exists')]));
  } else {
    requirements.push(requirement(LabelSource.K8S, PodNamespaceLabel, 'In', [namespace]));
  }
  return selectorPeer({ requirements });
}

function networkPolicyRule(policy: NetworkPolicy): PolicyRule {
  const namespace = policy.metadata.namespace || 'default';
  const spec = policy.spec ?? {};
  const origin: RuleOrigin = { kind: 'NetworkPolicy', namespace, name: policy.metadata.name ?? '', rule: 0 };
  const types = spec.policyTypes ?? ['Ingress', ...((spec.egress?.length ?? 0) > 0 ? ['Egress'] : [])];
  const subject: IdentitySelector = {
    requirements: [
      ...identitySelector(spec.podSelector).requirements.map((r) => ({ ...r, source: LabelSource.K8S })),
      requirement(LabelSource.K8S, PodNamespaceLabel, 'In', [namespace]),
    ],
  };
  const items = (section: 'ingress' | 'egress'): PolicyItem[] => {
    if (!types.includes(section === 'ingress' ? 'Ingress' : 'Egress')) return [];
    return (spec[section] ?? []).map((rule, index) => {
      const peersRaw = section === 'ingress' ? (rule as { from?: NetworkPolicyPeer[] }).from : (rule as { to?: NetworkPolicyPeer[] }).to;
      // No from/to: every peer, the world included (KNP `ingress: [{}]` allows all).
      const peers: Peer[] = peersRaw && peersRaw.length > 0 ? peersRaw.map((p) => knpPeer(p, namespace)) : [{ kind: 'any' }];
      const ports = rule.ports && rule.ports.length > 0 ? rule.ports.flatMap(knpPortMatches) : 'all';
      return { origin: { ...origin, section, item: index }, deny: false, peers, ports };
    });
  };
  return {
    origin,
    subject,
    ingress: items('ingress'),
    egress: items('egress'),
    defaultDeny: { ingress: types.includes('Ingress'), egress: types.includes('Egress') },
  };
}

/** The rules of one validated policy object. */
export function translatePolicy(policy: PolicyObject, options: TranslateOptions = {}): PolicyRule[] {
  const clusterName = options.clusterName || DEFAULT_CLUSTER_NAME;
  if (policy.kind === 'NetworkPolicy') return [networkPolicyRule(policy)];
  const scope: Scope = policy.kind === 'CiliumNetworkPolicy' ? { kind: 'namespace', namespace: policy.metadata.namespace || 'default' } : { kind: 'cluster' };
  const rules = [...(policy.spec ? [policy.spec] : []), ...(policy.specs ?? [])];
  return rules.map((rule, index) =>
    ciliumRule(rule, { kind: policy.kind, ...(scope.kind === 'namespace' ? { namespace: scope.namespace } : {}), name: policy.metadata.name ?? '', rule: index }, scope, clusterName),
  );
}
