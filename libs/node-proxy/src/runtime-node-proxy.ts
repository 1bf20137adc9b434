import { formatConfigError, type ProxyConfig, type ProxyRuntime } from '@tendril/proxy';
import type { RawAny } from '@tendril/api-envoy';
import { ResourceDecoder, type EnvoyResource, type Logger } from '@tendril/xds';
import { NodeProxy } from './node-proxy';

export interface RuntimeNodeProxyOptions {
  /** host:port of the agent's xDS server. */
  xdsAddress: string;
  /** The proxy engine that serves what the agent sends. */
  runtime: ProxyRuntime;
  logger: Logger;
  /** xDS node id; the agent keys snapshots and status by it. */
  nodeId?: string;
  /** Default delta: tendril-proxy's own default. */
  protocol?: 'sotw' | 'delta';
  /** host:port of the admin endpoint (/ready, /config_dump, /stats); omit for none. */
  adminAddress?: string;
  /**
   * Decodes each resource; the default re-decodes only the virtual hosts that changed when a large
   * RouteConfiguration is re-sent (ResourceDecoder).
   */
  decodeAny?: (any: RawAny) => EnvoyResource;
  /** Sees each configuration after the runtime accepted and serves it. */
  onApplied?: (config: ProxyConfig) => void;
  /** Sees the errors of each configuration the runtime refused; the agent gets them as a NACK. */
  onRejected?: (errors: string[]) => void;
  /** Runs after the runtime closed, e.g. to release the datapath's maps. */
  afterClose?: () => void | Promise<void>;
}

/**
 * tendril-proxy's wiring of a ProxyRuntime to the agent: a NodeProxy whose every candidate
 * configuration goes to the runtime, a refused one becoming a NACK with the runtime's errors.
 * apps/proxy, the conformance runner, the root e2e suites and the benches all serve xDS this way.
 */
export function runtimeNodeProxy(options: RuntimeNodeProxyOptions): NodeProxy {
  const { runtime } = options;
  const resourceDecoder = new ResourceDecoder();
  const decoder = options.decodeAny ?? ((any: RawAny) => resourceDecoder.decode(any));
  return new NodeProxy({
    target: options.xdsAddress,
    node: { id: options.nodeId ?? 'tendril-node', cluster: 'tendril', user_agent_name: 'tendril-proxy' },
    protocol: options.protocol ?? 'delta',
    decodeAny: decoder,
    adminAddress: options.adminAddress,
    logger: options.logger,
    dataPlane: {
      apply: async (config) => {
        const proxyConfig = config as unknown as ProxyConfig;
        const result = await runtime.apply(proxyConfig);
        if (!result.accepted) {
          const errors = result.errors.map(formatConfigError);
          options.onRejected?.(errors);
          throw new Error(errors.join('; '));
        }
        options.onApplied?.(proxyConfig);
      },
      close: async () => {
        await runtime.close();
        await options.afterClose?.();
      },
    },
  });
}
