import { TypeUrl, decodeMessage, decodeMessageByElements, unpackAny, type RawAny } from '@tendril/api-envoy';
import type { EnvoyResource } from './ads-client';

/** Resource types decoded element by element, and the repeated field that is split (see ResourceEncoder). */
const ELEMENT_FIELDS: ReadonlyMap<string, { typeName: string; field: string }> = new Map([
  [TypeUrl.RouteConfiguration, { typeName: 'envoy.config.route.v3.RouteConfiguration', field: 'virtual_hosts' }],
]);

/** Below this size a resource is decoded as a whole: splitting costs more than it saves. */
const MIN_BYTES_TO_SPLIT = 16 * 1024;

/**
 * Decodes resources received over xDS into Envoy JSON (what unpackAny gives), remembering the
 * virtual hosts of large RouteConfigurations by their bytes: when one route of ten thousand
 * changes, the agent re-sends the whole RouteConfiguration, and only the virtual host whose bytes
 * differ is decoded again. Unchanged virtual hosts come back as the same objects, so the proxy's
 * compile cache recognises them by identity. Decoded objects are shared between results and must
 * not be mutated.
 *
 * The memory holds, per RouteConfiguration name, the virtual hosts of its last decoding.
 */
export class ResourceDecoder {
  private readonly elementsByConfig = new Map<string, Map<string, unknown>>();

  decode(any: RawAny): EnvoyResource {
    const split = ELEMENT_FIELDS.get(any.type_url);
    if (!split || any.value.length < MIN_BYTES_TO_SPLIT) return unpackAny(any) as EnvoyResource;
    const next = new Map<string, unknown>();
    const decoded = decodeMessageByElements(split.typeName, any.value, split.field, (elementTypeName, bytes) => {
      const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
      let element = next.get(key) ?? this.remembered(key);
      if (element === undefined) element = decodeMessage(elementTypeName, bytes);
      next.set(key, element);
      return element;
    });
    this.elementsByConfig.set(String(decoded['name'] ?? ''), next);
    return { '@type': any.type_url, ...decoded };
  }

  private remembered(key: string): unknown {
    for (const elements of this.elementsByConfig.values()) {
      const element = elements.get(key);
      if (element !== undefined) return element;
    }
    return undefined;
  }
}
