import { proxyDatapathAccess, type ProxyDatapathAccess } from '@tendril/datapath';
import { runtimeNodeProxy, type NodeProxy } from '@tendril/node-proxy';
import { ProxyRuntime, type AccessLogEntry, type ProxyConfig, type ProxyLogger, type TransparentNetwork } from '@tendril/proxy';
import { silentLogger } from '@tendril/xds';

export interface NodeProxyHarnessOptions {
  logger?: ProxyLogger;
  /**
   * The datapath's sockets but an ipcache reader that knows nobody, so that the proxy must learn
   * every peer identity from NPHDS (the agent started with proxyUsesNphds).
   */
  identitiesFromNphdsOnly?: boolean;
}

/**
 * The node proxy as apps/proxy runs it, in the test process: ProxyRuntime with the datapath's
 * transparent network over the suite's pins, fed by a NodeProxy (delta ADS) from the agent's xDS
 * port. Keeps the access log, every NACK and the last configuration served for the suite to check.
 */
export class NodeProxyHarness {
  readonly accessLog: AccessLogEntry[] = [];
  readonly nacks: string[] = [];
  /** The last configuration the proxy accepted from the agent. */
  lastConfig: ProxyConfig | undefined;
  private readonly datapath: ProxyDatapathAccess;
  private readonly network: TransparentNetwork;
  private readonly logger: ProxyLogger;
  private proxy: NodeProxy | undefined;
  private serving: ProxyRuntime | undefined;

  constructor(pinDir: string, options: NodeProxyHarnessOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.datapath = proxyDatapathAccess(pinDir);
    const datapath = this.datapath;
    this.network = options.identitiesFromNphdsOnly
      ? {
          bpfRoot: datapath.bpfRoot,
          listenerFd: (host, port) => datapath.listenerFd(host, port),
          markedSocket: (direction, identity) => datapath.markedSocket(direction, identity),
          egressVerdict: (source, destination, port) => datapath.egressVerdict(source, destination, port),
          identityOf: () => undefined,
        }
      : datapath;
  }

  /** The running proxy engine, e.g. to apply a configuration the agent would not send. */
  get runtime(): ProxyRuntime {
    if (!this.serving) throw new Error('the node proxy is not started');
    return this.serving;
  }

  async start(xdsPort: number): Promise<void> {
    this.serving = new ProxyRuntime({ logger: this.logger, accessLog: (entry) => this.accessLog.push(entry), drainTimeoutMs: 1_000, transparentNetwork: this.network });
    this.proxy = runtimeNodeProxy({
      xdsAddress: `127.0.0.1:${xdsPort}`,
      runtime: this.serving,
      logger: silentLogger,
      onApplied: (config) => (this.lastConfig = config),
      onRejected: (errors) => this.nacks.push(...errors),
    });
    await this.proxy.start();
  }

  async stop(): Promise<void> {
    await this.proxy?.stop();
    this.datapath.close();
  }
}
