export { Datapath, DEFAULT_PIN_DIR, MARK_TO_PROXY, PROXY_ROUTING_TABLE, ifindexOf, type DatapathOptions, type LocalEndpoint } from './datapath';
export { IpcacheMap, type IpcacheEntry } from './maps/ipcache';
export { EndpointMap, type EndpointEntry, type EndpointInfo } from './maps/endpoints';
export { PolicyMap, type PolicyApplyResult } from './maps/policy';
export { ServiceMap, type ServiceBackend, type ServiceEntry, type ServiceFrontend, type ServiceProtocol } from './maps/services';
export { ConntrackMap, CONNTRACK_LIFETIMES_MS, type TrackedConnection } from './maps/conntrack';
export { DropCounters, DropReason, type DropCounts, type DropReasonName } from './maps/drop-counters';
export {
  MARK_FROM_EGRESS_PROXY,
  MARK_FROM_INGRESS_PROXY,
  connectFromProxy,
  createTransparentListenerFd,
  identityFromMark,
  proxyDatapathAccess,
  proxyMark,
  type ProxyDatapathAccess,
  type ProxyDirection,
  type ProxyUpstreamOptions,
} from './transparent-proxy';
export { hairpinDevicesFor, removeHairpin, type HairpinDevices } from './hairpin';
export { NativeUdpSocket, sendUdpFrom, type UdpAddress, type UdpDatagram, type UdpSocketOptions } from './udp-socket';
