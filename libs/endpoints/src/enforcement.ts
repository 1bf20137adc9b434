import { Datapath, type DatapathOptions } from '@tendril/datapath';
import type { PodNetworkMode } from '@tendril/workloads';
import { EndpointManager, type EndpointManagerOptions } from './endpoint-manager';
import { nodeIpv4Addresses } from './node-addresses';

/** Policy enforcement on this node: running, or off with the reason a user is shown. */
export type NodeEnforcement = { readonly enabled: true; readonly manager: EndpointManager } | { readonly enabled: false; readonly notice: string };

export interface StartEnforcementOptions extends Omit<EndpointManagerOptions, 'datapath' | 'nodeAddresses'> {
  /** How the node's pods are networked: only pods with their own namespace and veth can be enforced on. */
  readonly podNetwork: PodNetworkMode | undefined;
  readonly datapath?: DatapathOptions;
  readonly uid?: number;
  readonly nodeAddresses?: () => readonly string[];
}

/**
 * Opens the eBPF datapath (reusing pinned maps, so a restart keeps enforcing) and starts the
 * endpoint manager — when the node's pods run in network namespaces and the process is root.
 * Otherwise enforcement is off and the notice says why.
 */
export async function startNodeEnforcement(opts: StartEnforcementOptions): Promise<NodeEnforcement> {
  if (opts.podNetwork !== 'netns') {
    return { enabled: false, notice: 'network policy is not enforced: pods share the host network namespace (loopback pods); as root, `tendril up` gives each pod a namespace and enforces policy in eBPF' };
  }
  const uid = opts.uid ?? process.getuid?.();
  if (uid !== 0) return { enabled: false, notice: 'network policy is not enforced: loading eBPF programs needs root' };
  const datapath = await Datapath.open(opts.datapath);
  const manager = new EndpointManager({ ...opts, datapath, nodeAddresses: opts.nodeAddresses ?? nodeIpv4Addresses });
  try {
    await manager.start();
  } catch (err) {
    datapath.close();
    throw err;
  }
  return { enabled: true, manager };
}
