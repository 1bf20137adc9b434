import { LoopbackPodNetwork, type PodNetwork, type PodNetworkMode } from './pod-network';
import { NetnsPodNetwork, type NetnsPodNetworkOptions } from './netns-pod-network';

/** How the runner should network pods, as a user or `tendril up` states it. */
export type PodNetworkSettings =
  | { mode: 'loopback'; firstPodIp?: string }
  | ({ mode: 'netns'; cniPlugin?: string } & Omit<NetnsPodNetworkOptions, 'cniPlugin' | 'write'>);

/** Environment variables `tendril up` sets for the agent process it starts. */
export const POD_NETWORK_ENV = 'TENDRIL_POD_NETWORK';
export const POD_CIDR_ENV = 'TENDRIL_POD_CIDR';

/**
 * Reads TENDRIL_POD_NETWORK (loopback | netns) and TENDRIL_POD_CIDR; undefined when the mode is not
 * set, so callers keep their own default. A wrong value is an error, not a silent fallback.
 */
export function podNetworkFromEnvironment(env: NodeJS.ProcessEnv): PodNetworkSettings | undefined {
  const mode = env[POD_NETWORK_ENV];
  const cidr = env[POD_CIDR_ENV];
  if (mode === undefined || mode === '') {
    if (cidr) throw new Error(`${POD_CIDR_ENV} is set but ${POD_NETWORK_ENV} is not; set ${POD_NETWORK_ENV}=netns to use it`);
    return undefined;
  }
  if (mode !== 'loopback' && mode !== 'netns') {
    throw new Error(`${POD_NETWORK_ENV} must be "loopback" or "netns", got "${mode}"`);
  }
  if (mode === 'loopback') {
    if (cidr) throw new Error(`${POD_CIDR_ENV} applies to netns pods only, but ${POD_NETWORK_ENV}=loopback`);
    return { mode };
  }
  return cidr ? { mode, podCidr: cidr } : { mode };
}

/** The mode `tendril up` picks: namespaces when it can create them (root), loopback otherwise. */
export function defaultPodNetworkMode(uid: number | undefined = process.getuid?.()): PodNetworkMode {
  return uid === 0 ? 'netns' : 'loopback';
}

/** Builds the PodNetwork for settings; the CNI plugin path comes from the caller when the settings do not name one. */
export function createPodNetwork(settings: PodNetworkSettings, defaults: { cniPlugin: string; firstPodIp?: string; write?: (line: string) => void }): PodNetwork {
  if (settings.mode === 'loopback') return new LoopbackPodNetwork(settings.firstPodIp ?? defaults.firstPodIp);
  return new NetnsPodNetwork({ ...settings, cniPlugin: settings.cniPlugin ?? defaults.cniPlugin, write: defaults.write });
}
