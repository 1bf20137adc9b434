export { ProxyRuntime } from './proxy-runtime';
export type { ApplyResult, BoundListener, ProxyRuntimeOptions } from './proxy-runtime';
export { validateConfig } from './compile-config';
export { formatConfigError } from './config';
export type { ClusterLoadAssignment, Cluster, ConfigError, Listener, ProxyConfig, ResourceKind, RouteConfiguration, Secret } from './config';
export { bufferedLineSink, DEFAULT_ACCESS_LOG_FLUSH_INTERVAL_MS, formatAccessLogLine, stdoutAccessLog } from './access-log';
export type { AccessLogEntry, AccessLogSink, BufferedLineSinkOptions, FlushableAccessLogSink, ResponseFlag } from './access-log';
export type { ProxyLogger } from './logger';
