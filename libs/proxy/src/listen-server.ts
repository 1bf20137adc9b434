import type * as net from 'node:net';

/**
 * Binds a listener's server socket exclusively: rejects with the bind error (EADDRINUSE,
 * EADDRNOTAVAIL, EACCES), and once bound hands later socket errors to `onSocketError` instead of
 * letting them crash the process. Resolves with the port actually bound.
 */
export function listenServer(server: net.Server, host: string, port: number, onSocketError: (err: Error) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      server.on('error', onSocketError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Serves on an already bound listening socket (an IP_TRANSPARENT one from the datapath); resolves with its port. */
export function listenOnFd(server: net.Server, fd: number, onSocketError: (err: Error) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ fd }, () => {
      server.off('error', onError);
      server.on('error', onSocketError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
