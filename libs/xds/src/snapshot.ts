import type { RawAny } from '@tendril/api-envoy';
import { ResourceEncoder, contentVersion } from './resource-encoder';

/** One named resource of a snapshot, already encoded for the wire. */
export interface SnapshotResource {
  name: string;
  /** Content hash of the encoded resource: the per-resource version delta xDS reports. */
  version: string;
  any: RawAny;
}

const hash = contentVersion;

/**
 * An immutable, consistent set of resources for one node. Each type carries a version derived
 * from its content, so a type is re-sent only when something in it changed.
 */
export class Snapshot {
  private readonly typeVersions = new Map<string, string>();

  private constructor(
    /** The agent's label for the whole snapshot (e.g. a counter), shown by `tendril status`. */
    readonly label: string,
    private readonly byType: ReadonlyMap<string, ReadonlyMap<string, SnapshotResource>>,
  ) {
    for (const [typeUrl, resources] of byType) {
      const names = [...resources.keys()].sort();
      // One string, one hash update: the same digest as updating part by part, without tens of
      // thousands of update calls for a type with as many resources.
      this.typeVersions.set(typeUrl, hash([names.map((n) => `${n}\0${resources.get(n)?.version}\0`).join('')]));
    }
  }

  /**
   * A snapshot of already encoded resources. `version` may be given when known (it must be the
   * content hash of `value`, as ResourceEncoder computes it); otherwise it is computed.
   */
  static fromEncoded(label: string, resources: Iterable<{ typeUrl: string; name: string; value: Uint8Array; version?: string }>): Snapshot {
    const byType = new Map<string, Map<string, SnapshotResource>>();
    for (const r of resources) {
      let m = byType.get(r.typeUrl);
      if (!m) byType.set(r.typeUrl, (m = new Map()));
      if (m.has(r.name)) throw new Error(`snapshot ${label}: duplicate ${r.typeUrl} resource "${r.name}"`);
      m.set(r.name, { name: r.name, version: r.version ?? hash([r.value]), any: { type_url: r.typeUrl, value: r.value } });
    }
    return new Snapshot(label, byType);
  }

  /**
   * Encodes Envoy JSON resources (each with its type URL) into a snapshot; throws, naming the
   * resource, if one does not encode. Pass the same `encoder` for every snapshot of a stream of
   * snapshots to re-encode only the resources that changed since the previous one.
   */
  static fromResources(label: string, resources: Iterable<{ typeUrl: string; resource: Record<string, unknown> }>, encoder: ResourceEncoder = new ResourceEncoder()): Snapshot {
    return Snapshot.fromEncoded(label, encoder.encodeAll(resources));
  }

  /** Version of one type's content; the empty type has a fixed version too. */
  typeVersion(typeUrl: string): string {
    return this.typeVersions.get(typeUrl) ?? hash([]);
  }

  resources(typeUrl: string): ReadonlyMap<string, SnapshotResource> {
    return this.byType.get(typeUrl) ?? new Map();
  }

  types(): string[] {
    return [...this.byType.keys()];
  }
}
