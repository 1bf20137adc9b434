import { unpackAny } from '@tendril/api-envoy';
import { proxyDatapathAccess, type ProxyDatapathAccess } from '@tendril/datapath';
import { NodeProxy } from '@tendril/node-proxy';
import { ProxyRuntime, formatConfigError, type AccessLogEntry, type ProxyConfig, type ProxyLogger } from '@tendril/proxy';
import { silentLogger } from '@tendril/xds';

/**
 * The node proxy as apps/proxy runs it, in the test process: ProxyRuntime with the datapath's
 * transparent network over the suite's pins, fed by a NodeProxy (delta ADS) from the agent's xDS
 * port. Keeps the access log and every NACK for the suite to check.
 */
export class NodeProxyHarness {
  readonly accessLog: AccessLogEntry[] = [];
  readonly nacks: string[] = [];
  private readonly network: ProxyDatapathAccess;
  private proxy: NodeProxy | undefined;

  constructor(pinDir: string, private readonly logger: ProxyLogger = silentLogger) {
    this.network = proxyDatapathAccess(pinDir);
  }

  async start(xdsPort: number): Promise<void> {
    const runtime = new ProxyRuntime({ logger: this.logger, accessLog: (entry) => this.accessLog.push(entry), drainTimeoutMs: 1_000, transparentNetwork: this.network });
    this.proxy = new NodeProxy({
      target: `127.0.0.1:${xdsPort}`,
      node: { id: 'tendril-node', cluster: 'tendril', user_agent_name: 'tendril-proxy' },
      protocol: 'delta',
      decodeAny: (any) => unpackAny(any),
      logger: silentLogger,
      dataPlane: {
        apply: async (config) => {
          const result = await runtime.apply(config as unknown as ProxyConfig);
          if (!result.accepted) {
            this.nacks.push(...result.errors.map(formatConfigError));
            throw new Error(result.errors.map(formatConfigError).join('; '));
          }
        },
        close: () => runtime.close(),
      },
    });
    await this.proxy.start();
  }

  async stop(): Promise<void> {
    await this.proxy?.stop();
    this.network.close();
  }
}
