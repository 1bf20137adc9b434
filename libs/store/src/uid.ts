import { createHash } from 'node:crypto';
import type { ResourceKey } from './object-ref';

/** Fixed namespace for name-based UUIDs of tendril objects (random, chosen once). */
const TENDRIL_UID_NAMESPACE = Buffer.from('6f1d2c3e8a4b4f0e9b7d5c1a2e3f4a5b', 'hex');

/**
 * A UUID (RFC 4122 version 5, name-based) derived from the resource key. Objects read from files
 * have no uid; deriving it from the key means the same object gets the same uid across restarts,
 * so anything that references it by uid (owner references, status) stays stable.
 */
export function deterministicUid(key: ResourceKey): string {
  const hash = createHash('sha1').update(TENDRIL_UID_NAMESPACE).update(key, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
