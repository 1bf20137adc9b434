import type { envoy, tendril } from '@tendril/api-envoy';
import type { L7Parser, L7PortPolicy, PortRuleHTTP, PortRuleKafka, TrafficDirection } from '@tendril/policy';
import type { EndpointRedirects } from './endpoint-manager';
import { policySecretName } from './policy-secrets';

type Listener = envoy.config.listener.v3.Listener;
type FilterChain = envoy.config.listener.v3.FilterChain;
type Cluster = envoy.config.cluster.v3.Cluster;
type Route = envoy.config.route.v3.Route;
type NetworkPolicy = tendril.policy.v1.NetworkPolicy;
type PortNetworkPolicy = tendril.policy.v1.PortNetworkPolicy;

/**
 * The node proxy's side of the datapath's L7 redirect, as xDS resources (what Cilium's agent gives
 * its Envoy): per direction, one transparent listener on the proxy port the policy map redirects
 * to, with the original_dst and tendril.bpf_metadata listener filters and an HTTP connection
 * manager whose tendril.l7policy filter checks every request against the endpoint's L7 policy,
 * then routes it to an ORIGINAL_DST cluster, so it goes on to the address the pod dialled, marked
 * with the client's identity. The policy itself travels as Tendril's NPDS resources
 * (networkPolicyResources), one per endpoint with L7 ports.
 */

export interface RedirectResourceOptions {
  /** The listener port per parser and direction (the policy map's proxy port). */
  readonly proxyPort: (parser: L7Parser, direction: TrafficDirection) => number;
  /** Pinned BPF maps directory the proxy reads identities from; empty for its default. */
  readonly bpfRoot?: string;
  /** The proxy resolves identities from NPHDS instead of the pinned ipcache (bpf_metadata use_nphds). */
  readonly useNphds?: boolean;
}

export interface RedirectResources {
  readonly listeners: Listener[];
  readonly clusters: Cluster[];
  readonly networkPolicies: NetworkPolicy[];
}

const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const L7_POLICY_TYPE_URL = 'type.googleapis.com/tendril.policy.v1.L7Policy';

export function redirectListenerName(direction: TrafficDirection): string {
  return `tendril-http-${direction}`;
}

export function originalDestinationClusterName(direction: TrafficDirection): string {
  return `tendril-${direction}-original-dst`;
}

/** An HTTP connection manager whose L7 policy filter checks each request and whose one route sends it on. */
function policyChain(name: string, direction: TrafficDirection, route: Route): FilterChain {
  return {
    name,
    filters: [
      {
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM_TYPE_URL,
          stat_prefix: name,
          // The client's own request goes on unchanged: a transparent proxy adds no X-Forwarded-For.
          skip_xff_append: true,
          route_config: { name, virtual_hosts: [{ name, domains: ['*'], routes: [route] }] },
          http_filters: [
            { name: 'tendril.l7policy', typed_config: { '@type': L7_POLICY_TYPE_URL, is_ingress: direction === 'ingress' } },
            { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE_URL } },
          ],
        },
      },
    ],
  } as FilterChain;
}

function forwardRoute(direction: TrafficDirection): Route {
  // No route timeout: the proxy enforces policy, it does not cut long requests (Cilium does the same).
  return { match: { prefix: '/' }, route: { cluster: originalDestinationClusterName(direction), timeout: '0s' } };
}

function httpRuleResource(rule: PortRuleHTTP): tendril.policy.v1.HttpNetworkPolicyRule {
  return {
    ...(rule.path ? { path: rule.path } : {}),
    ...(rule.method ? { method: rule.method } : {}),
    ...(rule.host ? { host: rule.host } : {}),
    ...(rule.headers?.length ? { headers: [...rule.headers] } : {}),
    ...(rule.headerMatches?.length
      ? {
          header_matches: rule.headerMatches.map((m) => ({
            name: m.name ?? '',
            ...(m.value ? { value: m.value } : {}),
            ...(m.mismatch ? { mismatch: m.mismatch } : {}),
            // The Secret's value travels as an SDS generic secret of this name (policy-secrets.ts), never here.
            ...(m.secret?.name ? { value_sds_secret: policySecretName(m.secret.namespace ?? '', m.secret.name) } : {}),
          })),
        }
      : {}),
  };
}

function kafkaRuleResource(rule: PortRuleKafka): tendril.policy.v1.KafkaNetworkPolicyRule {
  return {
    ...(rule.role ? { role: rule.role } : {}),
    ...(rule.apiKey ? { api_key: rule.apiKey } : {}),
    ...(rule.apiVersion ? { api_version: rule.apiVersion } : {}),
    ...(rule.clientID ? { client_id: rule.clientID } : {}),
    ...(rule.topic ? { topic: rule.topic } : {}),
  };
}

function portPolicyResource(policy: L7PortPolicy): PortNetworkPolicy {
  return {
    port: policy.port,
    rules: policy.rules.map((rule) => ({
      ...(rule.remotes === 'any' ? {} : { remote_policies: [...rule.remotes] }),
      ...(rule.http ? { http_rules: { http_rules: rule.http.map(httpRuleResource) } } : {}),
      ...(rule.kafka ? { kafka_rules: { kafka_rules: rule.kafka.map(kafkaRuleResource) } } : {}),
      origins: [rule.origin],
    })),
  };
}

/** Tendril NPDS: one NetworkPolicy per endpoint with HTTP or Kafka L7 ports, named by its IP. */
export function networkPolicyResources(endpoints: readonly EndpointRedirects[]): NetworkPolicy[] {
  return endpoints
    .filter((e) => e.portPolicies.length > 0)
    .map((e) => ({
      name: e.ip,
      endpoint_id: e.endpointId,
      ingress_per_port_policies: e.portPolicies.filter((p) => p.direction === 'ingress').map(portPolicyResource),
      egress_per_port_policies: e.portPolicies.filter((p) => p.direction === 'egress').map(portPolicyResource),
    }));
}

/** original_dst + tendril.bpf_metadata: the listener filters of every redirect listener. */
function redirectListenerFilters(direction: TrafficDirection, options: RedirectResourceOptions): Listener['listener_filters'] {
  return [
    { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } },
    { name: 'tendril.bpf_metadata', typed_config: { '@type': 'type.googleapis.com/tendril.proxy.v1.BpfMetadata', is_ingress: direction === 'ingress', bpf_root: options.bpfRoot ?? '', ...(options.useNphds ? { use_nphds: true } : {}) } },
  ] as Listener['listener_filters'];
}

export function kafkaRedirectListenerName(direction: TrafficDirection): string {
  return `tendril-kafka-${direction}`;
}

/** An HTTP redirect listener: every request is checked by the tendril.l7policy filter, then routed to the ORIGINAL_DST cluster. */
function httpListener(direction: TrafficDirection, options: RedirectResourceOptions): Listener {
  return {
    name: redirectListenerName(direction),
    address: { socket_address: { address: '127.0.0.1', port_value: options.proxyPort('http', direction) } },
    transparent: true,
    traffic_direction: direction === 'ingress' ? 'INBOUND' : 'OUTBOUND',
    listener_filters: redirectListenerFilters(direction, options),
    filter_chains: [policyChain(`l7-${direction}`, direction, forwardRoute(direction))],
  } as Listener;
}

/**
 * A Kafka redirect listener: the tendril.kafkapolicy network filter checks each request frame
 * against the endpoint's NPDS Kafka rules, then tcp_proxy relays the connection to the address
 * the pod dialled (the ORIGINAL_DST cluster).
 */
function kafkaListener(direction: TrafficDirection, options: RedirectResourceOptions): Listener {
  const name = kafkaRedirectListenerName(direction);
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: options.proxyPort('kafka', direction) } },
    transparent: true,
    traffic_direction: direction === 'ingress' ? 'INBOUND' : 'OUTBOUND',
    listener_filters: redirectListenerFilters(direction, options),
    filter_chains: [
      {
        name: `kafka-${direction}`,
        filters: [
          { name: 'tendril.kafkapolicy', typed_config: { '@type': 'type.googleapis.com/tendril.policy.v1.KafkaPolicy', is_ingress: direction === 'ingress' } },
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: name, cluster: originalDestinationClusterName(direction) },
          },
        ],
      },
    ],
  } as Listener;
}

/** The transparent HTTP and Kafka listeners, ORIGINAL_DST clusters and NPDS policies for the node's L7 redirects; none when no endpoint has such a redirect. */
export function redirectResources(endpoints: readonly EndpointRedirects[], options: RedirectResourceOptions): RedirectResources {
  const listeners: Listener[] = [];
  const clusters: Cluster[] = [];
  for (const direction of ['ingress', 'egress'] as const) {
    const redirected = (parser: L7Parser) => endpoints.some((e) => e.redirects.some((r) => r.direction === direction && r.parser === parser));
    const http = redirected('http');
    const kafka = redirected('kafka');
    if (!http && !kafka) continue;
    if (http) listeners.push(httpListener(direction, options));
    if (kafka) listeners.push(kafkaListener(direction, options));
    clusters.push({
      name: originalDestinationClusterName(direction),
      type: 'ORIGINAL_DST',
      lb_policy: 'CLUSTER_PROVIDED',
      connect_timeout: '5s',
      cleanup_interval: '10s',
      // HTTP/1.1 goes on as HTTP/1.1, h2c (gRPC) as h2c: the proxy does not change the pod's protocol.
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
        },
      },
    } as Cluster);
  }
  return { listeners, clusters, networkPolicies: networkPolicyResources(endpoints) };
}
