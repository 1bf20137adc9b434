import { createHash } from 'node:crypto';

/** Linux interface names are at most 15 bytes (IFNAMSIZ 16 minus the NUL). */
export const MAX_IFNAME_LENGTH = 15;

function digest(containerId: string, ifname: string): string {
  return createHash('sha256').update(`${containerId}/${ifname}`).digest('hex');
}

/**
 * Host-side veth name: "tdr" + 12 hex chars of sha256(containerId/ifname) = 15 chars. Deterministic so
 * DEL and CHECK find the link from the same env vars ADD got, without any state of their own.
 */
export function hostVethName(containerId: string, ifname: string): string {
  return `tdr${digest(containerId, ifname).slice(0, MAX_IFNAME_LENGTH - 3)}`;
}

/** Temporary name of the pod end while it still sits in the host namespace (before rename to CNI_IFNAME). */
export function podVethTempName(containerId: string, ifname: string): string {
  return `tdp${digest(containerId, ifname).slice(0, MAX_IFNAME_LENGTH - 3)}`;
}
