import * as dnsPacket from 'dns-packet';

/**
 * What the DNS proxy reads of a message before deciding on it, and the error answers it writes
 * itself, for both transports (UDP datagrams and TCP's length-prefixed messages, RFC 1035 §4.2).
 */

export const DNS_HEADER_BYTES = 12;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_REFUSED = 5;

/** A message with a DNS header: its id and flags, and the decoded query when it is one with exactly one question. */
export interface ParsedQuery {
  readonly id: number;
  readonly flags: number;
  /** The question, or undefined when the message is no query with one question (the proxy answers FORMERR). */
  readonly question?: dnsPacket.Question;
  readonly questions: dnsPacket.Question[];
}

/** Undefined when the message is too short to carry a header: there is nothing to answer then. */
export function parseQuery(payload: Buffer): ParsedQuery | undefined {
  if (payload.length < DNS_HEADER_BYTES) return undefined;
  const id = payload.readUInt16BE(0);
  const flags = payload.readUInt16BE(2);
  let decoded: dnsPacket.DecodedPacket | undefined;
  try {
    decoded = dnsPacket.decode(payload);
  } catch {
    decoded = undefined;
  }
  const questions = decoded?.questions ?? [];
  const question = decoded?.type === 'query' && questions.length === 1 ? questions[0] : undefined;
  return { id, flags, questions, ...(question ? { question } : {}) };
}

/** An answer carrying only the header and `questions` (none for a malformed query), with `rcode`. */
export function errorResponse(id: number, queryFlags: number, questions: dnsPacket.Question[], rcode: number): Buffer {
  const rd = queryFlags & dnsPacket.RECURSION_DESIRED;
  return dnsPacket.encode({ type: 'response', id, flags: rd | dnsPacket.RECURSION_AVAILABLE | rcode, questions });
}
