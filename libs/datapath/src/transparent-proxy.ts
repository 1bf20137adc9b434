import { Socket } from 'node:net';
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
