import type * as net from 'node:net';
import type { buildConnector } from 'undici';

/** A connect timeout, with the code undici gives its own (the router reports it as a connection failure). */
export function connectTimeoutError(target: string, timeoutMs: number): Error {
  return Object.assign(new Error(`connect timeout to ${target} after ${timeoutMs} ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' });
}

/**
 * Connects a socket made by `createSocket` (a marked one, for the datapath) to host:port; calls
 * back once connected, or with the error (or a timeout), never both.
 */
export function connectSocket(createSocket: () => net.Socket, host: string, port: number, timeoutMs: number, callback: (err: Error | null, socket: net.Socket | null) => void): net.Socket | undefined {
  let socket: net.Socket;
  try {
    socket = createSocket();
  } catch (err) {
    callback(err as Error, null);
    return undefined;
  }
  let done = false;
  const finish = (err: Error | null): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off('error', finish);
    if (err) {
      socket.destroy();
      callback(err, null);
    } else {
      callback(null, socket);
    }
  };
  const timer = setTimeout(() => finish(connectTimeoutError(`${host}:${port}`, timeoutMs)), timeoutMs);
  socket.once('error', finish);
  socket.setNoDelay(true);
  socket.connect({ host, port }, () => finish(null));
  return socket;
}

/** An undici connector opening its connections with `createSocket` instead of net.connect. */
export function socketConnector(createSocket: () => net.Socket, timeoutMs: number): buildConnector.connector {
  return (options, callback) => {
    connectSocket(createSocket, options.hostname, Number(options.port), timeoutMs, (err, socket) => {
      if (err || !socket) callback(err ?? new Error('no socket'), null);
      else callback(null, socket);
    });
  };
}
