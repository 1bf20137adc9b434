import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { run } from './commands';
import { DEFAULT_PIN_DIR } from './pin-dir';

/**
 * The hairpin: a veth pair in the host namespace, as Cilium's cilium_host/cilium_net. bpf_sk_assign
 * works only on tc ingress, but an L7 ingress redirect for traffic from the host (or from outside
 * the node) is found on the pod veth's tc egress; to_container sends such a packet out of the
 * host end, it arrives on the peer's tc ingress, and from_hairpin assigns it to the proxy.
 */
export interface HairpinDevices {
  /** Where to_container redirects to (bpf_redirect egress). */
  readonly hostEnd: string;
  /** Where from_hairpin is attached (tc ingress). */
  readonly netEnd: string;
}

/** The default datapath's pair is tendril_host/tendril_net; other pin directories (tests, benches) get their own. */
export function hairpinDevicesFor(pinDir: string): HairpinDevices {
  if (pinDir === DEFAULT_PIN_DIR) return { hostEnd: 'tendril_host', netEnd: 'tendril_net' };
  const tag = createHash('sha256').update(pinDir).digest('hex').slice(0, 8);
  return { hostEnd: `tdh${tag}`, netEnd: `tdn${tag}` };
}

async function sysctl(path: string, value: string): Promise<void> {
  await writeFile(path, value);
}

/**
 * Creates the pair if missing and brings it up (idempotent). The peer accepts packets whose source
 * is a local address (host → pod traffic) and does no reverse-path check; neither end speaks IPv6,
 * so no router solicitation ever shows up as a drop.
 */
export async function ensureHairpin(devices: HairpinDevices): Promise<void> {
  if (!existsSync(`/sys/class/net/${devices.hostEnd}`)) {
    await run('ip', ['link', 'add', devices.hostEnd, 'type', 'veth', 'peer', 'name', devices.netEnd]);
  }
  for (const dev of [devices.hostEnd, devices.netEnd]) {
    await sysctl(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, '1').catch(() => undefined);
  }
  await sysctl(`/proc/sys/net/ipv4/conf/${devices.netEnd}/accept_local`, '1');
  await sysctl(`/proc/sys/net/ipv4/conf/${devices.netEnd}/rp_filter`, '0');
  for (const dev of [devices.hostEnd, devices.netEnd]) await run('ip', ['link', 'set', dev, 'up']);
}

/** Deleting one end removes both. */
export async function removeHairpin(devices: HairpinDevices): Promise<void> {
  if (existsSync(`/sys/class/net/${devices.hostEnd}`)) await run('ip', ['link', 'del', devices.hostEnd]);
}
