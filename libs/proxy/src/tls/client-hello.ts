/**
 * Reads the server name (SNI) from the first bytes of a TLS connection without terminating it, as
 * Envoy's tls_inspector listener filter does for TLS passthrough. The ClientHello may span several
 * TLS records; nothing is consumed, the caller forwards the same bytes upstream.
 */

const RECORD_HEADER_LENGTH = 5;
const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const SERVER_NAME_HOST_NAME = 0;
/** A ClientHello larger than this is not one a client sends; the connection is refused rather than buffered without end. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

export type ClientHelloResult =
  /** More bytes are needed. */
  | { kind: 'incomplete' }
  /** A ClientHello; serverName is undefined when the client sent no SNI. */
  | { kind: 'tls'; serverName: string | undefined }
  /** Not a TLS ClientHello (or a malformed one). */
  | { kind: 'not-tls'; reason: string };

export function readClientHello(data: Buffer): ClientHelloResult {
  // Reassemble the handshake message from the records that carry it.
  const fragments: Buffer[] = [];
  let handshakeBytes = 0;
  let offset = 0;
  for (;;) {
    if (data.length < offset + RECORD_HEADER_LENGTH) return data.length > MAX_CLIENT_HELLO_BYTES ? notTls('ClientHello too large') : { kind: 'incomplete' };
    if (data[offset] !== CONTENT_TYPE_HANDSHAKE) return notTls('the first record is not a TLS handshake');
    if (data[offset + 1] !== 3) return notTls('unknown TLS record version');
    const recordLength = data.readUInt16BE(offset + 3);
    const end = offset + RECORD_HEADER_LENGTH + recordLength;
    if (data.length < end) return end > MAX_CLIENT_HELLO_BYTES ? notTls('ClientHello too large') : { kind: 'incomplete' };
    fragments.push(data.subarray(offset + RECORD_HEADER_LENGTH, end));
    handshakeBytes += recordLength;
    offset = end;
    if (handshakeBytes >= 4) {
      const handshake = fragments.length === 1 ? fragments[0] : Buffer.concat(fragments);
      if (handshake[0] !== HANDSHAKE_CLIENT_HELLO) return notTls('the first handshake message is not a ClientHello');
      const length = handshake.readUIntBE(1, 3);
      if (length > MAX_CLIENT_HELLO_BYTES) return notTls('ClientHello too large');
      if (handshake.length >= 4 + length) return parseClientHello(handshake.subarray(4, 4 + length));
    }
  }
}

function notTls(reason: string): ClientHelloResult {
  return { kind: 'not-tls', reason };
}

/** The ClientHello body (RFC 8446 4.1.2): version, random, session id, cipher suites, compression, extensions. */
function parseClientHello(body: Buffer): ClientHelloResult {
  let at = 2 + 32; // legacy_version, random
  const skip = (lengthBytes: 1 | 2): boolean => {
    if (body.length < at + lengthBytes) return false;
    const length = lengthBytes === 1 ? body[at] : body.readUInt16BE(at);
    at += lengthBytes + length;
    return at <= body.length;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return notTls('truncated ClientHello');
  if (at === body.length) return { kind: 'tls', serverName: undefined }; // no extensions at all
  if (body.length < at + 2) return notTls('truncated ClientHello extensions');
  const extensionsEnd = at + 2 + body.readUInt16BE(at);
  if (extensionsEnd > body.length) return notTls('truncated ClientHello extensions');
  at += 2;
  while (at + 4 <= extensionsEnd) {
    const type = body.readUInt16BE(at);
    const length = body.readUInt16BE(at + 2);
    const start = at + 4;
    if (start + length > extensionsEnd) return notTls('truncated ClientHello extension');
    if (type === EXTENSION_SERVER_NAME) return { kind: 'tls', serverName: hostName(body.subarray(start, start + length)) };
    at = start + length;
  }
  return { kind: 'tls', serverName: undefined };
}

/** The host_name entry of a server_name extension (RFC 6066 3). */
function hostName(extension: Buffer): string | undefined {
  if (extension.length < 2) return undefined;
  const end = Math.min(extension.length, 2 + extension.readUInt16BE(0));
  let at = 2;
  while (at + 3 <= end) {
    const type = extension[at];
    const length = extension.readUInt16BE(at + 1);
    if (at + 3 + length > end) return undefined;
    if (type === SERVER_NAME_HOST_NAME) return extension.subarray(at + 3, at + 3 + length).toString('ascii').toLowerCase();
    at += 3 + length;
  }
  return undefined;
}
