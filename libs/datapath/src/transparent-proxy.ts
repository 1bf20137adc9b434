import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { BpfMap } from './bpf-map';
import { Protocol, type PolicyVerdict } from '@tendril/policy';
import { EndpointMap } from './maps/endpoints';
import { IpcacheMap } from './maps/ipcache';
import { PolicyMap } from './maps/policy';
import { checkUnsigned } from './maps/fields';
import { loadNative } from './native';

/**
 * What the node proxy needs from the datapath (policy-semantics.md §6.3–6.5): a listener that
 * accepts connections the tc program steered to it (IP_TRANSPARENT, so the accepted socket's local
 * address is the destination the pod dialled), and upstream sockets whose SO_MARK says "from the
 * proxy" plus the original source identity, so the datapath neither redirects them again nor
 * re-applies the policy the proxy already enforced.
 */

export type ProxyDirection = 'ingress' | 'egress';

/** Cilium's reserved identity for addresses the ipcache does not know, as the tc programs treat them. */
const WORLD_IDENTITY = 2;

/** Upstream traffic of the ingress proxy: the destination's ingress policy was already applied. */
export const MARK_FROM_INGRESS_PROXY = 0x0a00;
/** Upstream traffic of the egress proxy: the destination's ingress policy still applies, to the identity in the mark. */
export const MARK_FROM_EGRESS_PROXY = 0x0b00;

/** Cilium's encoding: magic nibble, identity bits 0–15 in the mark's top half, bits 16–23 in its low byte. */
export function proxyMark(direction: ProxyDirection, sourceIdentity: number): number {
  checkUnsigned(sourceIdentity, 24, 'sourceIdentity');
  const magic = direction === 'ingress' ? MARK_FROM_INGRESS_PROXY : MARK_FROM_EGRESS_PROXY;
  return (magic | ((sourceIdentity & 0xffff) << 16) | ((sourceIdentity >> 16) & 0xff)) >>> 0;
}

/** The source identity a proxy mark carries (the tc program's decoding, for tests and inspection). */
export function identityFromMark(mark: number): number {
  return (((mark & 0xff) << 16) | (mark >>> 16)) >>> 0;
}

/**
 * A listening socket fd with IP_TRANSPARENT, bound to address:port, for `server.listen({ fd })`.
 * Needs CAP_NET_ADMIN. The datapath steers to a listener on 127.0.0.1 (or one bound to 0.0.0.0).
 */
export async function createTransparentListenerFd(port: number, address = '127.0.0.1', backlog = 511): Promise<number> {
  checkUnsigned(port, 16, 'port');
  const { addon } = await loadNative();
  return addon.createTransparentListener(address, port, backlog);
}

export interface ProxyUpstreamOptions {
  readonly host: string;
  readonly port: number;
  readonly direction: ProxyDirection;
  /** Identity of the client whose connection the proxy is forwarding. */
  readonly sourceIdentity: number;
  /** Give up (and reject) when not connected within this time; default: the kernel's SYN retries. */
  readonly timeoutMs?: number;
}

/**
 * Connects from the proxy to the upstream with the proxy mark already on the socket, so the very
 * first SYN carries it. Resolves once connected.
 */
export async function connectFromProxy(options: ProxyUpstreamOptions): Promise<Socket> {
  const mark = proxyMark(options.direction, options.sourceIdentity);
  const { addon } = await loadNative();
  const socket = new Socket({ fd: addon.createMarkedSocket(mark) });
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => {
      socket.destroy();
      reject(new Error(`proxy upstream connection to ${options.host}:${options.port} failed: ${err.message}`));
    };
    const timeout = (): void => fail(new Error(`not connected within ${options.timeoutMs} ms`));
    socket.once('error', fail);
    if (options.timeoutMs !== undefined) socket.setTimeout(options.timeoutMs, timeout);
    socket.connect(options.port, options.host, () => {
      socket.off('error', fail);
      socket.setTimeout(0);
      socket.off('timeout', timeout);
      resolve(socket);
    });
  });
}

/**
 * What the node proxy needs from the datapath, in one handle: IP_TRANSPARENT listeners, the
 * client identity from the pinned ipcache (as Cilium's bpf_metadata listener filter reads it), and
 * upstream sockets carrying the proxy mark. Matches libs/proxy's TransparentNetwork.
 */
export interface ProxyDatapathAccess {
  readonly bpfRoot: string;
  listenerFd(host: string, port: number): Promise<number>;
  identityOf(address: string): number | undefined;
  markedSocket(direction: ProxyDirection, sourceIdentity: number): Socket;
  /**
   * The datapath's verdict for a TCP connection from a local endpoint to destination:port under
   * the endpoint's egress policy (the destination's identity from the ipcache); a deny when the
   * source is no local endpoint, so a caller fails closed.
   */
  egressVerdict(source: string, destination: string, port: number): PolicyVerdict;
  close(): void;
}

/**
 * The proxy's handle on the datapath the agent keeps pinned under `pinDir` (default
 * /sys/fs/bpf/tendril). The pinned ipcache is opened when the first transparent listener is bound,
 * so the proxy may start before the agent has loaded the datapath; binding fails with a clear
 * error while it is not loaded.
 */
export function proxyDatapathAccess(pinDir: string): ProxyDatapathAccess {
  let opened: { ipcache: IpcacheMap; endpoints: EndpointMap; policy: PolicyMap; addon: Awaited<ReturnType<typeof loadNative>>['addon'] } | undefined;
  const open = async () => {
    if (opened) return opened;
    const pinPath = join(pinDir, 'maps', IpcacheMap.pinName);
    if (!existsSync(pinPath)) throw new Error(`the eBPF datapath is not loaded: ${pinPath} does not exist (the agent loads it when run as root)`);
    const { addon } = await loadNative();
    const openMap = (name: string, keySize: number, valueSize: number): BpfMap => new BpfMap(addon, join(pinDir, 'maps', name), keySize, valueSize);
    opened = { ipcache: IpcacheMap.open(openMap), endpoints: EndpointMap.open(openMap), policy: PolicyMap.open(openMap), addon };
    return opened;
  };
  return {
    bpfRoot: pinDir,
    listenerFd: async (host, port) => {
      await open();
      return createTransparentListenerFd(port, host);
    },
    identityOf: (address) => {
      try {
        return opened?.ipcache.identityOf(address);
      } catch {
        return undefined; // not an IPv4 address: the datapath has no identity for it either
      }
    },
    markedSocket: (direction, sourceIdentity) => {
      if (!opened) throw new Error('the eBPF datapath is not open: no transparent listener has been bound');
      return new Socket({ fd: opened.addon.createMarkedSocket(proxyMark(direction, sourceIdentity)) });
    },
    egressVerdict: (source, destination, port) => {
      const notLocal: PolicyVerdict = { kind: 'deny', reason: 'no-match' };
      if (!opened) return notLocal;
      let endpoint;
      let identity;
      try {
        endpoint = opened.endpoints.get(source);
        identity = opened.ipcache.identityOf(destination) ?? WORLD_IDENTITY;
      } catch {
        return notLocal; // not IPv4 addresses: the datapath has no endpoint for them either
      }
      if (!endpoint) return notLocal;
      return opened.policy.verdict(endpoint.endpointId, { identity, direction: 'egress', protocol: Protocol.TCP, port });
    },
    close: () => {
      opened?.ipcache.close();
      opened?.endpoints.close();
      opened?.policy.close();
      opened = undefined;
    },
  };
}
