import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ReservedIdentity } from '@tendril/identity';
import { connectFromProxy, createTransparentListenerFd, type Datapath, type ProxyDirection } from '../../src';

/**
 * Stands in for the node proxy on ports whose rules carry L7: a truth-table cell on such a port
 * counts as reachable at L3/L4 once the connection reaches the proxy, so this one allows every
 * request and forwards the bytes to the original destination, marked as the real proxy would mark
 * them (so the datapath neither redirects them again nor, for ingress, re-applies the policy).
 */
export class PassthroughProxy {
  /** Connections the datapath steered here. */
  accepted = 0;
  private readonly server: Server;

  private constructor(
    readonly direction: ProxyDirection,
    private readonly datapath: Datapath,
  ) {
    this.server = createServer((client) => this.forward(client));
  }

  /** Listens on a free port of 127.0.0.1 (IP_TRANSPARENT); `port` says which. */
  static async start(datapath: Datapath, direction: ProxyDirection): Promise<PassthroughProxy> {
    const proxy = new PassthroughProxy(direction, datapath);
    const fd = await createTransparentListenerFd(0);
    await new Promise<void>((resolve) => proxy.server.listen({ fd }, resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private forward(client: Socket): void {
    this.accepted++;
    client.on('error', () => client.destroy());
    client.pause();
    // The accepted socket's local address is the destination the client dialled.
    const original = { host: client.localAddress!, port: client.localPort! };
    const sourceIdentity = this.datapath.ipcache.identityOf(client.remoteAddress!) ?? ReservedIdentity.WORLD;
    connectFromProxy({ ...original, direction: this.direction, sourceIdentity, timeoutMs: 2000 }).then(
      (upstream) => {
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      },
      () => client.destroy(),
    );
  }
}
