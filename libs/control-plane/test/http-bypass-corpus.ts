/*
 * Attempts to reach a private path through an L7 rule that only admits `path: "/public/.*"`
 * (methods GET and POST), sent as exact bytes on a raw TCP connection through the node proxy's
 * redirect. Every one must fail: each response on the connection is a 403 (denied by policy) or a
 * 400 (refused as malformed, nothing forwarded), or the connection is closed without a response;
 * and the server must never run its /private handler. A `carrier` attempt starts with one honest
 * request for /public/… which may be answered 200 — what is smuggled behind it must not be.
 *
 * Every request names HOST in its Host header (the rule does not look at it), so the bytes, and the
 * Content-Lengths computed from them, are exactly what is sent.
 */

export const HOST = 'store.default';

export interface BypassAttempt {
  readonly name: string;
  /** Why this might slip past a naive proxy. */
  readonly reason: string;
  /** The bytes sent, as a latin1 string (so \x00 and \xc0 are single bytes). */
  readonly bytes: string;
  /** The first request is an honest /public/ one (its 200 is expected); everything after it must fail. */
  readonly carrier?: true;
}

const get = (target: string, extra = ''): string => `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\n${extra}\r\n`;
const smuggled = get('/private');

export const BYPASS_CORPUS: readonly BypassAttempt[] = [
  { name: 'plain', reason: 'control: the private path as such', bytes: get('/private') },
  { name: 'dot-dot', reason: 'dot segment walks out of /public', bytes: get('/public/../private') },
  { name: 'dot-then-dot-dot', reason: 'a "." segment before the ".."', bytes: get('/public/./../private') },
  { name: 'deep-dot-dot', reason: 'several levels of ".." under /public', bytes: get('/public/a/b/../../../private') },
  { name: 'double-slash', reason: 'empty segment: //private is /private once slashes merge', bytes: get('//private') },
  { name: 'triple-slash', reason: 'more empty segments', bytes: get('///private') },
  { name: 'encoded-dots-lower', reason: '%2e%2e is ".." after decoding', bytes: get('/public/%2e%2e/private') },
  { name: 'encoded-dots-upper', reason: '%2E%2E is ".." after decoding', bytes: get('/public/%2E%2E/private') },
  { name: 'half-encoded-dots', reason: 'mixed ".%2e"', bytes: get('/public/.%2e/private') },
  { name: 'half-encoded-dots-2', reason: 'mixed "%2e."', bytes: get('/public/%2e./private') },
  { name: 'encoded-slash', reason: '%2F is a slash to servers that decode it', bytes: get('/public/..%2Fprivate') },
  { name: 'encoded-slash-lower', reason: '%2f in lower case', bytes: get('/public/..%2fprivate') },
  { name: 'encoded-slashes-only', reason: 'the whole walk encoded: /public%2F..%2Fprivate', bytes: get('/public%2F..%2Fprivate') },
  { name: 'encoded-dots-and-slash', reason: '%2E%2E%2F', bytes: get('/public/%2E%2E%2Fprivate') },
  { name: 'case-public-dot-dot', reason: '/PUBLIC/../private: the rule is case-sensitive, the walk still lands on /private', bytes: get('/PUBLIC/../private') },
  { name: 'case-public', reason: '/Public/… is not /public/… (RE2 full match is case-sensitive)', bytes: get('/Public/x') },
  { name: 'backslash', reason: 'backslash as a separator (Windows/IIS style)', bytes: get('/public/..\\private') },
  { name: 'backslashes-only', reason: 'only backslashes', bytes: get('/public\\..\\private') },
  { name: 'encoded-backslash', reason: '%5C is a backslash', bytes: get('/public/%5C..%5Cprivate') },
  { name: 'path-param-dot-dot', reason: '"..;" is ".." to Tomcat-style servers', bytes: get('/public/..;/private') },
  { name: 'path-param-dot', reason: '".;x" then ".."', bytes: get('/public/.;x/../private') },
  { name: 'path-param-prefix', reason: '/private;/public/x: the rule must see where the path starts', bytes: get('/private;/public/x') },
  { name: 'overlong-utf8-2', reason: 'overlong %c0%ae is "." to sloppy decoders', bytes: get('/public/%c0%ae%c0%ae/private') },
  { name: 'overlong-utf8-3', reason: 'three-byte overlong dot %e0%80%ae', bytes: get('/public/%e0%80%ae%e0%80%ae/private') },
  { name: 'raw-overlong-bytes', reason: 'raw non-ASCII bytes in the request line', bytes: get('/public/\xc0\xae\xc0\xae/private') },
  { name: 'encoded-nul', reason: '%00 truncates the path in C servers', bytes: get('/public/%00/../../private') },
  { name: 'raw-nul', reason: 'a raw NUL byte in the request line', bytes: get('/public/\x00/../../private') },
  { name: 'fragment', reason: '"#" starts a fragment: the rule must not see only what follows', bytes: get('/private#/public/x') },
  { name: 'query-trick', reason: 'the query is not the path: /private?/public/x', bytes: get('/private?/public/x') },
  { name: 'absolute-form', reason: 'absolute-form target (proxy requests) naming /private', bytes: get('http://store/private') },
  { name: 'absolute-form-walk', reason: 'absolute-form with a walk out of /public', bytes: get('http://store/public/../private') },
  { name: 'asterisk-form', reason: 'asterisk-form target', bytes: `OPTIONS * HTTP/1.1\r\nHost: ${HOST}\r\n\r\n` },
  { name: 'connect', reason: 'CONNECT (authority-form) would open a tunnel', bytes: `CONNECT ${HOST} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n` },
  { name: 'duplicate-host', reason: 'two Host headers: the proxy and the server could pick different ones', bytes: get('/private', 'Host: public.example\r\n') },
  { name: 'lowercase-method', reason: 'methods are case-sensitive tokens', bytes: `get /private HTTP/1.1\r\nHost: ${HOST}\r\n\r\n` },
  { name: 'double-space', reason: 'request-line whitespace: two spaces before the target', bytes: `GET  /private HTTP/1.1\r\nHost: ${HOST}\r\n\r\n` },
  { name: 'tab-separator', reason: 'request-line whitespace: a tab instead of a space', bytes: `GET\t/private HTTP/1.1\r\nHost: ${HOST}\r\n\r\n` },
  { name: 'two-targets', reason: 'a second target in the request line', bytes: `GET /public/x /private HTTP/1.1\r\nHost: ${HOST}\r\n\r\n` },
  { name: 'http-0.9', reason: 'HTTP/0.9 simple request (no version, no headers)', bytes: 'GET /private\r\n\r\n' },
  { name: 'http-1.0', reason: 'HTTP/1.0 without Host', bytes: 'GET /private HTTP/1.0\r\n\r\n' },
  { name: 'bare-lf', reason: 'bare LF line endings', bytes: `GET /private HTTP/1.1\nHost: ${HOST}\n\n` },
  { name: 'obs-fold', reason: 'obsolete header line folding', bytes: get('/private', 'X-Folded: a\r\n b\r\n') },
  { name: 'websocket-upgrade', reason: 'an Upgrade request is tunnelled, not routed, once accepted', bytes: get('/private', 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n') },
  { name: 'h2c-upgrade', reason: 'an h2c upgrade is replayed as HTTP/1.1: the replay must be checked too', bytes: get('/private', 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n') },
  {
    name: 'cl-te',
    reason: 'Content-Length and Transfer-Encoding together (CL.TE smuggling)',
    bytes: `POST /public/a HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
  },
  {
    name: 'te-cl',
    reason: 'Transfer-Encoding before Content-Length (TE.CL smuggling)',
    bytes: `POST /public/a HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\nContent-Length: ${smuggled.length + 5}\r\n\r\n0\r\n\r\n${smuggled}`,
  },
  {
    name: 'te-chunked-identity',
    reason: '"chunked, identity": chunked is not the final coding',
    bytes: `POST /public/a HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`,
  },
  {
    name: 'te-space-before-colon',
    reason: '"Transfer-Encoding : chunked" (whitespace before the colon)',
    bytes: `POST /public/a HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding : chunked\r\nContent-Length: ${smuggled.length + 5}\r\n\r\n0\r\n\r\n${smuggled}`,
  },
  {
    name: 'te-unknown',
    reason: 'an unknown transfer coding on a request',
    bytes: `POST /public/a HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${smuggled}`,
  },
  {
    name: 'te-obs-fold',
    reason: 'Transfer-Encoding hidden in a folded header line',
    bytes: `POST /public/a HTTP/1.1\r\nHost: ${HOST}\r\nX-Padding: a\r\n Transfer-Encoding: chunked\r\nContent-Length: ${smuggled.length + 5}\r\n\r\n0\r\n\r\n${smuggled}`,
  },
  {
    name: 'duplicate-content-length',
    reason: 'two different Content-Length values',
    bytes: `POST /public/a HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
  },
  { name: 'chunk-size-overflow', reason: 'a chunk size that overflows 64 bits', bytes: `POST /public/a HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000000000000001\r\n${smuggled}` },
  { name: 'pipelined', reason: 'a second request pipelined behind an allowed one', carrier: true, bytes: `${get('/public/a')}${smuggled}` },
  { name: 'in-body', reason: 'a request hidden in an allowed request’s body', carrier: true, bytes: `POST /public/a HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}${smuggled}` },
  { name: 'after-last-chunk', reason: 'a request after the last chunk of an allowed one', carrier: true, bytes: `POST /public/a HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}` },
];

/**
 * Runs inside the client pod: `node -e RAW_SENDER <host> <port> <json [{name, bytes}]>`. Sends
 * every attempt on its own connection at once and prints, per attempt, the status codes of the
 * responses read (until the connection closes or stays quiet) and whether the proxy closed it.
 */
export const RAW_SENDER = `const net = require('net');
const [host, port, json] = process.argv.slice(1);
const attempts = JSON.parse(json);
Promise.all(attempts.map((a) => new Promise((resolve) => {
  const socket = net.connect({ host, port: +port });
  const chunks = [];
  let quiet;
  let closed = false;
  const done = () => { clearTimeout(quiet); clearTimeout(limit); socket.destroy();
    const text = Buffer.concat(chunks).toString('latin1');
    resolve({ name: a.name, statuses: [...text.matchAll(/(?:^|\\r\\n)HTTP\\/1\\.[01] (\\d{3}) /g)].map((m) => +m[1]), closed, head: text.slice(0, 120) }); };
  const limit = setTimeout(done, 4000);
  socket.on('connect', () => { socket.write(Buffer.from(a.bytes, 'latin1')); quiet = setTimeout(done, 1500); });
  socket.on('data', (d) => { chunks.push(d); clearTimeout(quiet); quiet = setTimeout(done, 400); });
  socket.on('close', () => { closed = true; done(); });
  socket.on('error', () => undefined);
}))).then((r) => { console.log(JSON.stringify(r)); process.exit(0); });`;

/** The same walks over HTTP/2 (h2c prior knowledge, which the redirect listener also serves): the :path pseudo-header. */
export const H2_BYPASS_PATHS: readonly string[] = ['/private', '/public/../private', '/public/%2e%2e/private', '//private', '/public/..%2Fprivate', '/public/..;/private', '/public/%c0%ae%c0%ae/private', '/PUBLIC/../private'];

/** Runs inside the client pod: `node -e H2_SENDER <host> <port> <json [path]>` → JSON [status] (0: stream error). */
export const H2_SENDER = `const http2 = require('http2');
const [host, port, json] = process.argv.slice(1);
const session = http2.connect('http://' + host + ':' + port);
session.on('error', () => undefined);
Promise.all(JSON.parse(json).map((p) => new Promise((resolve) => {
  const stream = session.request({ ':method': 'GET', ':path': p });
  stream.on('response', (h) => { stream.resume(); stream.on('end', () => resolve(h[':status'])); });
  stream.on('error', () => resolve(0));
  stream.end();
}))).then((r) => { console.log(JSON.stringify(r)); session.close(); process.exit(0); });
setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
