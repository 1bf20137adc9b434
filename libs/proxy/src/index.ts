export { ProxyRuntime } from './proxy-runtime';
export type { ApplyResult, BoundListener, ProxyRuntimeOptions } from './proxy-runtime';
export { validateConfig } from './compile-config';
export { formatConfigError } from './config';
export type { ClusterLoadAssignment, Cluster, ConfigError, Listener, ProxyConfig, ResourceKind, RouteConfiguration } from './config';
export { bufferedLineSink, stdoutAccessLog } from './access-log';
export type { AccessLogEntry, AccessLogSink, FlushableAccessLogSink, ResponseFlag } from './access-log';
export type { ProxyLogger } from './logger';
