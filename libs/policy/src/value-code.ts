/**
 * A policy-map value as one comparable string, so the encoder can tell runs of equal values apart
 * with ===.
 */
import type { PolicyMapValue } from './policy-map';

export type ValueCode = string;

export function encodeValue(value: PolicyMapValue): ValueCode {
  return value.deny ? 'deny' : `allow:${value.proxyPort}`;
}

export function decodeValue(code: ValueCode): PolicyMapValue {
  if (code === 'deny') return { deny: true, proxyPort: 0 };
  return { deny: false, proxyPort: Number(code.slice('allow:'.length)) };
}
