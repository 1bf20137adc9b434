import type { DropCounts, EndpointEntry, TrackedConnection, IpcacheEntry, LocalEndpoint, PolicyApplyResult, ServiceBackend, ServiceEntry, ServiceFrontend } from '@tendril/datapath';
import type { PolicyMapEntry } from '@tendril/policy';

/**
 * The part of libs/datapath's `Datapath` the endpoint manager drives. The real Datapath satisfies
 * it as is; unit tests put a recording fake behind it, and the root suites the real one.
 */
export interface EndpointDatapath {
  /** Attaches to the pod's veth and writes its endpoint and ipcache entries (idempotent). */
  addEndpoint(endpoint: LocalEndpoint): Promise<void>;
  /** Detaches (if the veth still exists) and removes its endpoint, ipcache and policy entries. */
  removeEndpoint(endpoint: LocalEndpoint): Promise<void>;
  readonly ipcache: {
    set(cidr: string, identity: number): void;
    delete(cidr: string): boolean;
    list(): IpcacheEntry[];
  };
  readonly endpoints: {
    list(): EndpointEntry[];
  };
  readonly policy: {
    /** Writes only the differences against what the map holds; on a failed write clears the endpoint (fail closed) and throws. */
    apply(endpointId: number, entries: readonly PolicyMapEntry[]): PolicyApplyResult;
    entries(endpointId: number): PolicyMapEntry[];
    clear(endpointId: number): number;
  };
  readonly services: {
    /** `l7ProxyPort` (0: none): pods' connections to the frontend go to the node proxy's listener on it (mesh routes). */
    set(frontend: ServiceFrontend, backends: readonly ServiceBackend[], l7ProxyPort: number): void;
    delete(frontend: ServiceFrontend): boolean;
    list(): ServiceEntry[];
  };
  readonly drops: {
    read(): DropCounts;
  };
  /**
   * The connections the datapath's conntrack holds, for keeping expired toFQDNs addresses while a
   * pod is still connected to them (FqdnCache zombies). Absent: an expired address goes at once.
   */
  readonly conntrack?: {
    connections(): readonly TrackedConnection[];
  };
  /** Closes the map handles; pins, programs and entries stay (enforcement survives the agent). */
  close(): void;
}
