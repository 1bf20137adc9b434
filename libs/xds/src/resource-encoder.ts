import { createHash } from 'node:crypto';
import { TypeUrl, encodeMessage, encodeMessageByElements, packAny } from '@tendril/api-envoy';

/** A resource encoded for the wire, with its content version (delta xDS's per-resource version). */
export interface EncodedResource {
  typeUrl: string;
  name: string;
  value: Uint8Array;
  version: string;
}

/** The per-resource version: a content hash of the encoded bytes. */
export function contentVersion(parts: Iterable<string | Uint8Array>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 16);
}

/** The resource name xDS identifies a resource by. */
export function resourceNameOf(typeUrl: string, resource: Record<string, unknown>): string {
  return String((typeUrl === TypeUrl.ClusterLoadAssignment ? resource['cluster_name'] : resource['name']) ?? '');
}

/**
 * Resource types with one repeated field that can grow to thousands of elements, encoded element
 * by element: one RouteConfiguration carries a virtual host per hostname of every route attached
 * to the listener, and a one-route change alters one of them.
 */
const ELEMENT_FIELDS: ReadonlyMap<string, string> = new Map([[TypeUrl.RouteConfiguration, 'virtual_hosts']]);

/** Below this many elements the whole resource is cached as one; splitting costs more than it saves. */
const MIN_ELEMENTS_TO_SPLIT = 32;

interface CachedResource {
  json: string;
  value: Uint8Array;
  version: string;
}

/**
 * Encodes Envoy JSON resources for snapshots and remembers the result, so that building the next
 * snapshot re-encodes only what changed. The translator builds fresh objects every time, so
 * "unchanged" is decided by content: JSON.stringify is several times cheaper than the protobuf
 * encode it saves. Large RouteConfigurations are cached per virtual host (see ELEMENT_FIELDS).
 *
 * The cache holds what the last encodeAll call encoded, nothing older, so its size follows the
 * current configuration. (JSON.stringify writes NaN and ±Infinity as null; the translator emits
 * neither, and a cache miss or hit never changes what a resource encodes to, only when.)
 */
export class ResourceEncoder {
  /** type URL → resource name → last encoding. */
  private resources = new Map<string, Map<string, CachedResource>>();
  /** element message type → element JSON → its bytes. */
  private elements = new Map<string, Map<string, Uint8Array>>();

  /** Encodes every resource; throws, naming the resource, if one does not encode. */
  encodeAll(resources: Iterable<{ typeUrl: string; resource: Record<string, unknown> }>): EncodedResource[] {
    const nextResources = new Map<string, Map<string, CachedResource>>();
    const nextElements = new Map<string, Map<string, Uint8Array>>();
    const encoded: EncodedResource[] = [];
    for (const { typeUrl, resource } of resources) {
      const name = resourceNameOf(typeUrl, resource);
      try {
        const elementField = ELEMENT_FIELDS.get(typeUrl);
        const elements = elementField ? resource[elementField] : undefined;
        if (elementField && Array.isArray(elements) && elements.length >= MIN_ELEMENTS_TO_SPLIT && !('@type' in resource)) {
          const value = this.encodeByElements(typeUrl, resource, elementField, nextElements);
          encoded.push({ typeUrl, name, value, version: contentVersion([value]) });
          continue;
        }
        const json = JSON.stringify(resource);
        let cached = this.resources.get(typeUrl)?.get(name);
        if (cached?.json !== json) {
          const value = packAny(resource, typeUrl).value;
          cached = { json, value, version: contentVersion([value]) };
        }
        inner(nextResources, typeUrl).set(name, cached);
        encoded.push({ typeUrl, name, value: cached.value, version: cached.version });
      } catch (err) {
        throw new Error(`cannot encode ${typeUrl.slice(typeUrl.lastIndexOf('.') + 1)} "${name}": ${(err as Error).message}`);
      }
    }
    this.resources = nextResources;
    this.elements = nextElements;
    return encoded;
  }

  private encodeByElements(typeUrl: string, resource: Record<string, unknown>, field: string, nextElements: Map<string, Map<string, Uint8Array>>): Uint8Array {
    const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    return encodeMessageByElements(typeName, resource, field, (elementTypeName, element) => {
      const next = inner(nextElements, elementTypeName);
      const json = JSON.stringify(element);
      let bytes = next.get(json) ?? this.elements.get(elementTypeName)?.get(json);
      if (!bytes) bytes = encodeMessage(elementTypeName, element);
      next.set(json, bytes);
      return bytes;
    });
  }
}

function inner<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let map = outer.get(key);
  if (!map) outer.set(key, (map = new Map()));
  return map;
}
