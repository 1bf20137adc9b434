import * as net from 'node:net';

/** A TCP port that was free on `host` a moment ago (bind to 0, read, release). */
/**
 * Where free ports are looked for: below Linux's ephemeral range (32768–60999), above the ports
 * tendril and the suites fix (15001–15008, 18000, 21000–26999). A port from the ephemeral range
 * could be taken as the source port of any outgoing connection between this check and the
 * caller's listen (EADDRINUSE); here only another freePort caller can take it.
 */
const FREE_PORT_RANGE = { first: 27_000, last: 32_700 };

/** A port nothing listens on now, for a server a child process will start. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = FREE_PORT_RANGE.first + Math.floor(Math.random() * (FREE_PORT_RANGE.last - FREE_PORT_RANGE.first + 1));
    if (await canListen(host, port)) return port;
  }
  throw new Error(`no free port in ${FREE_PORT_RANGE.first}-${FREE_PORT_RANGE.last} on ${host} after 100 tries`);
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Retries `check` until it stops throwing or the deadline passes (then rethrows its last error). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
