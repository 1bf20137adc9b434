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

/** FNV-1a over a string's UTF-16 code units, from a seed: a cheap, well-spread 32-bit digest. */
function fnv1a(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A resource's 64-bit digest (two 32-bit lanes) of its name and content version, kept with it. */
const digests = new WeakMap<SnapshotResource, readonly [number, number]>();

function digestOf(r: SnapshotResource): readonly [number, number] {
  let d = digests.get(r);
  if (!d) {
    const text = `${r.name}\0${r.version}`;
    d = [fnv1a(text, 0x811c9dc5), fnv1a(text, 0x050c5d1f)];
    digests.set(r, d);
  }
  return d;
}

/** SnapshotResources by the encoded resource they were made from: an unchanged resource is the same object in every snapshot. */
const snapshotResources = new WeakMap<object, SnapshotResource>();

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
      // An order-independent sum of per-resource digests (cached with each resource), so a type of
      // ten thousand resources gets its version without sorting or hashing them all again.
      let high = 0;
      let low = 0;
      for (const r of resources.values()) {
        const [a, b] = digestOf(r);
        high = (high + a) >>> 0;
        low = (low + b) >>> 0;
      }
      this.typeVersions.set(typeUrl, hash([`${resources.size}:${high}:${low}`]));
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
      let resource = snapshotResources.get(r);
      if (!resource || resource.name !== r.name || resource.any.value !== r.value) {
        resource = { name: r.name, version: r.version ?? hash([r.value]), any: { type_url: r.typeUrl, value: r.value } };
        snapshotResources.set(r, resource);
      }
      m.set(r.name, resource);
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
