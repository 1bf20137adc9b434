import type * as net from 'node:net';
import type { PolicyVerdict } from '@tendril/policy';

/**
 * Transparent (datapath-redirected) listeners, as Cilium's proxy serves them: the eBPF datapath
 * steers a pod's connection to the node proxy's listener without rewriting it, so the accepted
 * socket's local address is the destination the pod dialled. The proxy learns the client's
 * security identity from the ipcache, and opens its upstream connection to that original
 * destination with a socket mark that tells the datapath "from the proxy, on behalf of identity N"
 * (so it is neither redirected again nor checked against the policy the proxy already applied).
 */

export type RedirectDirection = 'ingress' | 'egress';

/** What the host offers the proxy for transparent listeners; libs/datapath implements it (root only). */
export interface TransparentNetwork {
  /** The directory of the pinned BPF maps it reads (a listener's bpf_root must name the same one). */
  readonly bpfRoot: string;
  /** A listening TCP socket with IP_TRANSPARENT, bound to host:port, for `server.listen({ fd })`. */
  listenerFd(host: string, port: number): Promise<number>;
  /** The security identity of a client address, from the ipcache; undefined when it has none. */
  identityOf(address: string): number | undefined;
  /** A new, unconnected TCP socket whose mark carries the direction and the client's identity. */
  markedSocket(direction: RedirectDirection, sourceIdentity: number): net.Socket;
  /**
   * The datapath's verdict for a TCP connection from a local endpoint (by address) to
   * destination:port under the endpoint's egress policy: what the L7 load balancer checks for the
   * backend it picked. A deny when the source is no local endpoint. Absent (a network that cannot
   * read the policy map): the L7 load balancer refuses every request rather than allow unchecked.
   */
  egressVerdict?(source: string, destination: string, port: number): PolicyVerdict;
}

/** The datapath's view of a redirected connection, fixed when the proxy accepts it. */
export interface RedirectedConnection {
  /** Where the client was connecting: the accepted socket's local address. */
  readonly originalDestination: { readonly host: string; readonly port: number };
  /** The client's identity (reserved "world", 2, when the ipcache has no entry for it). */
  readonly sourceIdentity: number;
  /** The original destination's identity (what egress L7 rules are written against), world when unknown. */
  readonly destinationIdentity: number;
  readonly direction: RedirectDirection;
  /**
   * Accepted by an L7 load balancer listener (bpf_metadata is_l7lb, the mesh listener): the client
   * dialled a Service frontend and the proxy picks the backend, so the client's egress policy is
   * checked against that backend and the upstream connection carries the client's identity.
   */
  readonly l7LoadBalancer: boolean;
}

/** Cilium's reserved identity for addresses outside the cluster: what an unknown source is treated as. */
export const WORLD_IDENTITY = 2;

/** Where a transparent listener keeps a connection's redirect facts on its socket. */
const REDIRECTED = Symbol('tendril.redirected');

type RedirectedSocket = net.Socket & { [REDIRECTED]?: RedirectedConnection };

export function markRedirected(socket: net.Socket, connection: RedirectedConnection): void {
  (socket as RedirectedSocket)[REDIRECTED] = connection;
}

/**
 * The redirect facts of the downstream connection a request arrived on, or undefined for a
 * connection a transparent listener did not accept. Works on HTTP/2's session socket proxy too,
 * which passes property reads through to the socket.
 */
export function redirectedConnectionOf(socket: net.Socket | undefined): RedirectedConnection | undefined {
  return socket === undefined ? undefined : (socket as RedirectedSocket)[REDIRECTED];
}

/** Where a redirect listener looks identities up: the pinned ipcache (network.identityOf) or NPHDS. */
export type IdentityLookup = (address: string) => number | undefined;

/** The facts of a connection a transparent listener with the tendril.bpf_metadata filter accepted. */
export function describeRedirectedConnection(socket: net.Socket, identityOf: IdentityLookup, direction: RedirectDirection, l7LoadBalancer = false): RedirectedConnection | undefined {
  const host = socket.localAddress;
  const port = socket.localPort;
  const remote = socket.remoteAddress;
  if (host === undefined || port === undefined || remote === undefined) return undefined;
  const destination = stripMappedPrefix(host);
  return {
    originalDestination: { host: destination, port },
    sourceIdentity: identityOf(stripMappedPrefix(remote)) ?? WORLD_IDENTITY,
    destinationIdentity: identityOf(destination) ?? WORLD_IDENTITY,
    direction,
    l7LoadBalancer,
  };
}

/** An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d. */
function stripMappedPrefix(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
