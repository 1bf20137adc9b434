import { TypeUrl, decodeMessage, decodeMessageByElements, unpackAny, type RawAny } from '@tendril/api-envoy';
import type { EnvoyResource } from './ads-client';

/** Resource types decoded element by element, and the repeated field that is split (see ResourceEncoder). */
const ELEMENT_FIELDS: ReadonlyMap<string, { typeName: string; field: string }> = new Map([
  [TypeUrl.RouteConfiguration, { typeName: 'envoy.config.route.v3.RouteConfiguration', field: 'virtual_hosts' }],
]);

/** Below this size a resource is decoded as a whole: splitting costs more than it saves. */
const MIN_BYTES_TO_SPLIT = 16 * 1024;

/** How far from its old position an unchanged element is looked for (an added or removed element shifts the rest). */
const SHIFT_WINDOW = 4;

/** One element of a decoded resource: its bytes and what they decoded to. */
interface DecodedElement {
  bytes: Buffer;
  element: unknown;
}

/**
 * A message's name when it is its leading field (field 1, a string), as encoders write fields in
 * number order; undefined otherwise.
 */
function leadingName(bytes: Uint8Array): string | undefined {
  if (bytes[0] !== 0x0a) return undefined;
  let length = 0;
  let i = 1;
  for (let shift = 0; ; shift += 7, i++) {
    if (i >= bytes.length || shift > 28) return undefined;
    length |= (bytes[i] & 0x7f) << shift;
    if (bytes[i] < 0x80) break;
  }
  const start = i + 1;
  if (start + length > bytes.length) return undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('utf8');
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Misses (elements found neither in place nor nearby) after which an element is looked up by content,
 * which costs a string per remembered element, built once: worth it when many elements moved, not
 * for the one element a one-route change alters (it is new, and no lookup can find it).
 */
const MISSES_BEFORE_CONTENT_LOOKUP = 16;

/**
 * The elements of the last decoding of one resource, for finding an element with the same bytes:
 * at the same position (shifted by the elements added or removed before it so far), then nearby,
 * and after many misses by content.
 */
class ElementMatcher {
  private shift = 0;
  private misses = 0;
  private byContent: Map<string, DecodedElement> | undefined;

  constructor(private readonly previous: readonly DecodedElement[]) {}

  find(index: number, bytes: Buffer): DecodedElement | undefined {
    if (this.matches(index + this.shift, bytes)) return this.previous[index + this.shift];
    for (let d = 1; d <= SHIFT_WINDOW; d++) {
      for (const shift of [this.shift + d, this.shift - d]) {
        if (!this.matches(index + shift, bytes)) continue;
        this.shift = shift;
        return this.previous[index + shift];
      }
    }
    if (++this.misses <= MISSES_BEFORE_CONTENT_LOOKUP) return undefined;
    if (!this.byContent) {
      this.byContent = new Map();
      for (const e of this.previous) this.byContent.set(e.bytes.toString('latin1'), e);
    }
    return this.byContent.get(bytes.toString('latin1'));
  }

  private matches(position: number, bytes: Buffer): boolean {
    const candidate = this.previous[position];
    return candidate !== undefined && candidate.bytes.equals(bytes);
  }
}

/**
 * Decodes resources received over xDS into Envoy JSON (what unpackAny gives), remembering the
 * virtual hosts of large RouteConfigurations with their bytes: when one route of ten thousand
 * changes, the agent re-sends the whole RouteConfiguration, and only the virtual host whose bytes
 * differ is decoded again. Unchanged virtual hosts come back as the same objects, so the proxy's
 * compile cache recognises them by identity. Finding them compares bytes position by position
 * (memcmp), which is far cheaper than keying ten thousand elements by content.
 * Decoded objects are shared between results and must not be mutated.
 *
 * The memory holds, per RouteConfiguration name, the virtual hosts of its last decoding.
 */
export class ResourceDecoder {
  private readonly elementsByConfig = new Map<string, DecodedElement[]>();

  decode(any: RawAny): EnvoyResource {
    const split = ELEMENT_FIELDS.get(any.type_url);
    if (!split || any.value.length < MIN_BYTES_TO_SPLIT) return unpackAny(any) as EnvoyResource;
    // Match against the last decoding of the same configuration; with no name up front, against all.
    const name = leadingName(any.value);
    const same = name === undefined ? undefined : this.elementsByConfig.get(name);
    const matchers = (same ? [same] : [...this.elementsByConfig.values()]).map((elements) => new ElementMatcher(elements));
    const next: DecodedElement[] = [];
    const decoded = decodeMessageByElements(split.typeName, any.value, split.field, (elementTypeName, raw) => {
      const bytes = asBuffer(raw);
      const index = next.length;
      let known: DecodedElement | undefined;
      for (const m of matchers) if ((known = m.find(index, bytes))) break;
      const element = known?.element ?? decodeMessage(elementTypeName, bytes);
      next.push({ bytes, element });
      return element;
    });
    this.elementsByConfig.set(String(decoded['name'] ?? ''), next);
    return { '@type': any.type_url, ...decoded };
  }
}
