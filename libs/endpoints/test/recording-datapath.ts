import type { DropCounts, EndpointEntry, IpcacheEntry, LocalEndpoint, PolicyApplyResult, ServiceBackend, ServiceEntry, ServiceFrontend, TrackedConnection } from '@tendril/datapath';
import { policyMapKeyString, type PolicyMapEntry } from '@tendril/policy';
import type { EndpointDatapath } from '../src';

/**
 * An in-memory datapath for the manager's unit tests: it keeps the maps' contents, applies policy
 * as a diff the way libs/datapath does (counting writes per endpoint), and can be told to fail an
 * endpoint's policy writes. The real datapath is exercised by the root suites.
 */
export class RecordingDatapath implements EndpointDatapath {
  readonly attached = new Map<string, LocalEndpoint>();
  readonly endpointMap = new Map<string, EndpointEntry>();
  readonly ipcacheMap = new Map<string, number>();
  readonly policyMap = new Map<number, Map<string, PolicyMapEntry>>();
  readonly serviceMap = new Map<string, ServiceEntry>();
  /** Policy writes (updates + deletes) per endpoint id. */
  readonly policyWrites = new Map<number, number>();
  ipcacheWrites = 0;
  serviceWrites = 0;
  /** Endpoint ids whose next policy writes fail, as a full map would. */
  readonly failingEndpoints = new Set<number>();
  closed = false;

  private countPolicyWrite(endpointId: number, n = 1): void {
    this.policyWrites.set(endpointId, (this.policyWrites.get(endpointId) ?? 0) + n);
  }

  async addEndpoint(endpoint: LocalEndpoint): Promise<void> {
    this.attached.set(endpoint.ifname, endpoint);
    this.endpointMap.set(endpoint.ip, { ip: endpoint.ip, endpointId: endpoint.endpointId, identity: endpoint.identity, ifindex: 100 + endpoint.endpointId });
    this.ipcacheMap.set(`${endpoint.ip}/32`, endpoint.identity);
  }

  async removeEndpoint(endpoint: LocalEndpoint): Promise<void> {
    this.attached.delete(endpoint.ifname);
    this.endpointMap.delete(endpoint.ip);
    this.ipcacheMap.delete(`${endpoint.ip}/32`);
    this.policy.clear(endpoint.endpointId);
  }

  readonly ipcache = {
    set: (cidr: string, identity: number): void => {
      this.ipcacheMap.set(cidr, identity);
      this.ipcacheWrites++;
    },
    delete: (cidr: string): boolean => {
      this.ipcacheWrites++;
      return this.ipcacheMap.delete(cidr);
    },
    list: (): IpcacheEntry[] => [...this.ipcacheMap].map(([cidr, identity]) => ({ cidr, identity })).sort((a, b) => a.cidr.localeCompare(b.cidr)),
  };

  readonly endpoints = {
    list: (): EndpointEntry[] => [...this.endpointMap.values()],
  };

  /** The connections the conntrack holds, as a test sets them. */
  trackedConnections: TrackedConnection[] = [];
  readonly conntrack = {
    connections: (): TrackedConnection[] => this.trackedConnections,
  };

  readonly policy = {
    apply: (endpointId: number, entries: readonly PolicyMapEntry[]): PolicyApplyResult => {
      const current = this.policyMap.get(endpointId) ?? new Map<string, PolicyMapEntry>();
      const desired = new Map(entries.map((e) => [policyMapKeyString(e), e]));
      const updated = [...desired].filter(([k, e]) => current.get(k)?.deny !== e.deny || current.get(k)?.proxyPort !== e.proxyPort);
      const deleted = [...current.keys()].filter((k) => !desired.has(k));
      if (this.failingEndpoints.has(endpointId) && updated.length + deleted.length > 0) {
        this.policy.clear(endpointId);
        throw new Error(`writing the policy of endpoint ${endpointId} failed, its entries were removed (all its traffic is dropped): map full`);
      }
      for (const [k, e] of updated) current.set(k, e);
      for (const k of deleted) current.delete(k);
      this.policyMap.set(endpointId, current);
      this.countPolicyWrite(endpointId, updated.length + deleted.length);
      return { updated: updated.length, deleted: deleted.length };
    },
    entries: (endpointId: number): PolicyMapEntry[] => [...(this.policyMap.get(endpointId)?.values() ?? [])],
    clear: (endpointId: number): number => {
      const n = this.policyMap.get(endpointId)?.size ?? 0;
      this.policyMap.delete(endpointId);
      if (n > 0) this.countPolicyWrite(endpointId, n);
      return n;
    },
  };

  readonly services = {
    set: (frontend: ServiceFrontend, backends: readonly ServiceBackend[], l7ProxyPort = 0): void => {
      this.serviceMap.set(`${frontend.vip}:${frontend.port}/${frontend.protocol}`, { frontend, backends: [...backends], ...(l7ProxyPort ? { l7ProxyPort } : {}) });
      this.serviceWrites++;
    },
    delete: (frontend: ServiceFrontend): boolean => {
      this.serviceWrites++;
      return this.serviceMap.delete(`${frontend.vip}:${frontend.port}/${frontend.protocol}`);
    },
    list: (): ServiceEntry[] => [...this.serviceMap.values()],
  };

  readonly drops = {
    read: (): DropCounts => ({
      policyDenied: 0,
      policyDeniedByDenylist: 0,
      unknownSource: 0,
      unknownDestination: 0,
      unsupportedL3: 0,
      malformed: 0,
      fragment: 0,
      proxyUnavailable: 0,
      redirectUnsupported: 0,
    }),
  };

  close(): void {
    this.closed = true;
  }

  totalPolicyWrites(endpointIds: Iterable<number>): number {
    let n = 0;
    for (const id of endpointIds) n += this.policyWrites.get(id) ?? 0;
    return n;
  }
}
