import { createHash } from 'node:crypto';
import { TypeUrl, packAny, type RawAny } from '@tendril/api-envoy';

/** One named resource of a snapshot, already encoded for the wire. */
export interface SnapshotResource {
  name: string;
  /** Content hash of the encoded resource: the per-resource version delta xDS reports. */
  version: string;
  any: RawAny;
}

function hash(parts: Iterable<string | Uint8Array>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 16);
}

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
      this.typeVersions.set(typeUrl, hash(names.flatMap((n) => [n, '\0', resources.get(n)!.version, '\0'])));
    }
  }

  static fromEncoded(label: string, resources: Iterable<{ typeUrl: string; name: string; value: Uint8Array }>): Snapshot {
    const byType = new Map<string, Map<string, SnapshotResource>>();
    for (const r of resources) {
      let m = byType.get(r.typeUrl);
      if (!m) byType.set(r.typeUrl, (m = new Map()));
      if (m.has(r.name)) throw new Error(`snapshot ${label}: duplicate ${r.typeUrl} resource "${r.name}"`);
      m.set(r.name, { name: r.name, version: hash([r.value]), any: { type_url: r.typeUrl, value: r.value } });
    }
    return new Snapshot(label, byType);
  }

  /**
   * Encodes Envoy JSON resources (each with its type URL) into a snapshot; throws, naming the
   * resource, if one does not encode.
   */
  static fromResources(label: string, resources: Iterable<{ typeUrl: string; resource: Record<string, unknown> }>): Snapshot {
    const encoded = [];
    for (const { typeUrl, resource } of resources) {
      const name = String((typeUrl === TypeUrl.ClusterLoadAssignment ? resource['cluster_name'] : resource['name']) ?? '');
      try {
        encoded.push({ typeUrl, name, value: packAny(resource, typeUrl).value });
      } catch (err) {
        throw new Error(`cannot encode ${typeUrl.slice(typeUrl.lastIndexOf('.') + 1)} "${name}": ${(err as Error).message}`);
      }
    }
    return Snapshot.fromEncoded(label, encoded);
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
