import { checkUnsigned } from './maps/fields';
import { loadNative, type TendrilBpfAddon, type UdpAddress, type UdpHandle } from './native';

export type { UdpAddress } from './native';

/**
 * UDP sockets for the DNS proxy (policy-semantics.md §5.2, §6.3). Node's dgram cannot set
 * IP_TRANSPARENT or SO_MARK, nor report the destination a datagram was sent to before the datapath
 * steered it to the proxy, so these come from the addon: the socket is read on Node's own event
 * loop and each datagram arrives with its source and, on a transparent socket, its original
 * destination.
 */
export interface UdpDatagram {
  readonly payload: Buffer;
  readonly source: UdpAddress;
  /** Where the sender addressed it (IP_ORIGDSTADDR); only on transparent sockets. */
  readonly originalDestination?: UdpAddress;
}

export interface UdpSocketOptions {
  readonly address: string;
  /** 0: any free port. */
  readonly port: number;
  /** IP_TRANSPARENT + IP_RECVORIGDSTADDR: takes datagrams the datapath assigned to it (root). */
  readonly transparent?: boolean;
  /** SO_MARK on every datagram sent (root); 0 or absent: none. */
  readonly mark?: number;
}

export class NativeUdpSocket {
  private closed = false;

  private constructor(
    private readonly addon: TendrilBpfAddon,
    private readonly handle: UdpHandle,
  ) {}

  /** Opens and binds the socket; `onMessage` is called for every datagram until close(). Errors thrown by it are passed to `onError` (default: dropped). */
  static async open(options: UdpSocketOptions, onMessage: (datagram: UdpDatagram) => void, onError: (err: unknown) => void = () => undefined): Promise<NativeUdpSocket> {
    checkUnsigned(options.port, 16, 'port');
    checkUnsigned(options.mark ?? 0, 32, 'mark');
    const { addon } = await loadNative();
    const handle = addon.udpOpen(options.address, options.port, options.transparent ?? false, options.mark ?? 0, (payload, source, original) => {
      try {
        onMessage(original ? { payload, source, originalDestination: original } : { payload, source });
      } catch (err) {
        onError(err);
      }
    });
    return new NativeUdpSocket(addon, handle);
  }

  get port(): number {
    return this.addon.udpLocalPort(this.handle);
  }

  send(payload: Buffer, to: UdpAddress): void {
    this.addon.udpSend(this.handle, payload, to.address, to.port);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.udpClose(this.handle);
  }
}

/**
 * Sends one datagram whose source is `from`, an address that need not be this host's (a transparent
 * bind): how the DNS proxy answers a pod from the server the pod asked, so the pod's resolver
 * accepts the answer and the datapath sees the reply of the pod's own flow.
 */
export async function sendUdpFrom(payload: Buffer, from: UdpAddress, to: UdpAddress): Promise<void> {
  const { addon } = await loadNative();
  addon.udpSendFrom(payload, from.address, from.port, to.address, to.port);
}
