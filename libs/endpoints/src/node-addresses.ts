import { networkInterfaces } from 'node:os';

/**
 * The node's own IPv4 addresses: the ipcache maps each to the host identity (1), so traffic
 * between pods and the node (kubelet-style probes, the node proxy) is seen as `reserved:host`
 * rather than the world. Pod addresses live in the pods' namespaces and never show here.
 */
export function nodeIpv4Addresses(): string[] {
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4') addresses.add(a.address);
  }
  return [...addresses].sort();
}
