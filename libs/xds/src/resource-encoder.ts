import { createHash } from 'node:crypto';
import { TypeUrl, encodeMessage, encodeMessageByElements, packAny, xdsResourceName } from '@tendril/api-envoy';

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
  return String(xdsResourceName(typeUrl, resource) ?? '');
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
  typeUrl: string;
  json: string;
  value: Uint8Array;
  version: string;
  /** What encodeAll returns for it: the same object while the resource is unchanged. */
  encoded?: EncodedResource;
}

/**
 * Encodes Envoy JSON resources for snapshots and remembers the result, so that building the next
 * snapshot re-encodes only what changed. The translator builds fresh objects every time, so
 * "unchanged" is decided by content: JSON.stringify is several times cheaper than the protobuf
 * encode it saves. Large RouteConfigurations are cached per virtual host (see ELEMENT_FIELDS).
 *
 * A resource (or virtual host) that is the very object encoded before is not even stringified:
 * callers that keep unchanged output objects between translations (the Gateway translator with a
 * TranslationMemo) make an unchanged resource cost one lookup. Resources handed to encodeAll must
 * therefore never be mutated afterwards.
 *
 * The by-content cache holds what the last encodeAll call encoded, nothing older, so its size
 * follows the current configuration; the by-object cache is weak and follows the objects. (JSON.stringify writes NaN and ±Infinity as null; the translator emits
 * neither, and a cache miss or hit never changes what a resource encodes to, only when.)
 */
export class ResourceEncoder {
  /** type URL → resource name → last encoding. */
  private resources = new Map<string, Map<string, CachedResource>>();
  /** element message type → element JSON → its bytes. */
  private elements = new Map<string, Map<string, Uint8Array>>();
  private readonly resourcesByObject = new WeakMap<object, CachedResource>();
  private readonly elementsByObject = new WeakMap<object, { typeName: string; bytes: Uint8Array }>();

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
        let cached = this.resourcesByObject.get(resource);
        if (cached?.typeUrl !== typeUrl) {
          const json = JSON.stringify(resource);
          cached = this.resources.get(typeUrl)?.get(name);
          if (cached?.json !== json) {
            const value = packAny(resource, typeUrl).value;
            cached = { typeUrl, json, value, version: contentVersion([value]) };
          }
          this.resourcesByObject.set(resource, cached);
        }
        inner(nextResources, typeUrl).set(name, cached);
        if (cached.encoded?.name !== name) cached.encoded = { typeUrl, name, value: cached.value, version: cached.version };
        encoded.push(cached.encoded);
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
      const known = typeof element === 'object' && element !== null ? this.elementsByObject.get(element) : undefined;
      if (known?.typeName === elementTypeName) return known.bytes;
      const json = JSON.stringify(element);
      let bytes = next.get(json) ?? this.elements.get(elementTypeName)?.get(json);
      if (!bytes) bytes = encodeMessage(elementTypeName, element);
      next.set(json, bytes);
      if (typeof element === 'object' && element !== null) this.elementsByObject.set(element, { typeName: elementTypeName, bytes });
      return bytes;
    });
  }
}

function inner<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let map = outer.get(key);
  if (!map) outer.set(key, (map = new Map()));
  return map;
}
