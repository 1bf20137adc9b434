import { existsSync } from 'node:fs';
import { Datapath, DEFAULT_PIN_DIR, type DatapathOptions } from '@tendril/datapath';

/**
 * `tendril down`: detaches the datapath from every veth and from the cgroup, removes the proxy
 * routing and unpins programs and maps, which ends all enforcement. The agent must not be running
 * (it would attach again); the caller checks. Returns false when nothing was pinned.
 */
export async function removeNodeDatapath(options: DatapathOptions = {}, uid: number | undefined = process.getuid?.()): Promise<boolean> {
  if (uid !== 0) throw new Error('removing the eBPF datapath needs root (detaching programs and unpinning maps)');
  const pinDir = options.pinDir ?? DEFAULT_PIN_DIR;
  if (!existsSync(pinDir)) return false;
  // Opening re-reads the pins (it reloads the programs), which gives detachAll the ids of every version of ours.
  const datapath = await Datapath.open(options);
  await datapath.detachAll();
  return true;
}
