/**
 * The Kubernetes and Gateway API object types the translator reads, from the generated API libraries.
 * Translation still treats every field defensively (objects may skip defaulting): a missing field
 * gives a clear status or the spec's default, never a crash.
 */
export type { Condition, ConfigMap, EndpointSlice, KubeObject, Namespace, Secret, Service, ServicePort } from '@tendril/api-k8s';
export type {
  BackendObjectReference,
  BackendTLSPolicy,
  Gateway,
  GatewayClass,
  GRPCBackendRef,
  GRPCHeaderMatch,
  GRPCMethodMatch,
  GRPCRoute,
  GRPCRouteFilter,
  GRPCRouteRule,
  HTTPBackendRef,
  HTTPHeaderFilter,
  HTTPHeaderMatch,
  HTTPPathModifier,
  HTTPQueryParamMatch,
  HTTPRequestMirrorFilter,
  HTTPRoute,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HTTPRouteRule,
  LabelSelector,
  Listener,
  ListenerSet,
  ParentReference,
  ReferenceGrant,
  RouteParentStatus,
  SecretObjectReference,
  TCPRoute,
  TLSRoute,
  UDPRoute,
} from '@tendril/api-gateway';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
