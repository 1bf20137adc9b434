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

/**
 * The last decoding of one resource: its message, where each element lies in it, and what each
 * decoded to. Offsets into the one message rather than a buffer per element: ten thousand small
 * objects kept from one change to the next would each be copied by the garbage collector.
 */
interface DecodedElements {
  message: Uint8Array;
  starts: number[];
  ends: number[];
  elements: unknown[];
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

/**
 * Misses (elements found neither in place nor nearby) after which an element is looked up by content,
 * which costs a string per remembered element, built once: worth it when many elements moved, not
 * for the one element a one-route change alters (it is new, and no lookup can find it).
 */
const MISSES_BEFORE_CONTENT_LOOKUP = 16;

/**
 * Finds, in the last decoding of a resource, an element with the same bytes: at the same position
 * (shifted by the elements added or removed before it so far), then nearby, and after many misses
 * by content. Returns its position there, or -1.
 */
class ElementMatcher {
  private shift = 0;
  private misses = 0;
  private byContent: Map<string, number> | undefined;
  private readonly message: Buffer;

  constructor(readonly previous: DecodedElements) {
    this.message = Buffer.from(previous.message.buffer, previous.message.byteOffset, previous.message.byteLength);
  }

  find(index: number, bytes: Uint8Array): number {
    if (this.matches(index + this.shift, bytes)) return index + this.shift;
    for (let d = 1; d <= SHIFT_WINDOW; d++) {
      for (const shift of [this.shift + d, this.shift - d]) {
        if (!this.matches(index + shift, bytes)) continue;
        this.shift = shift;
        return index + shift;
      }
    }
    if (++this.misses <= MISSES_BEFORE_CONTENT_LOOKUP) return -1;
    const { starts, ends } = this.previous;
    if (!this.byContent) {
      this.byContent = new Map();
      for (let i = 0; i < starts.length; i++) this.byContent.set(this.message.toString('latin1', starts[i], ends[i]), i);
    }
    return this.byContent.get(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')) ?? -1;
  }

  private matches(position: number, bytes: Uint8Array): boolean {
    const { starts, ends } = this.previous;
    if (position < 0 || position >= starts.length || ends[position] - starts[position] !== bytes.byteLength) return false;
    return this.message.compare(bytes, 0, bytes.byteLength, starts[position], ends[position]) === 0;
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
 * The memory holds, per RouteConfiguration name, its last message and the virtual hosts decoded from it.
 */
export class ResourceDecoder {
  private readonly elementsByConfig = new Map<string, DecodedElements>();

  decode(any: RawAny): EnvoyResource {
    const split = ELEMENT_FIELDS.get(any.type_url);
    if (!split || any.value.length < MIN_BYTES_TO_SPLIT) return unpackAny(any) as EnvoyResource;
    // Match against the last decoding of the same configuration; with no name up front, against all.
    const name = leadingName(any.value);
    const same = name === undefined ? undefined : this.elementsByConfig.get(name);
    const matchers = (same ? [same] : [...this.elementsByConfig.values()]).map((elements) => new ElementMatcher(elements));
    const next: DecodedElements = { message: any.value, starts: [], ends: [], elements: [] };
    // Positions are remembered when elements are views into the message, as the codec hands them out.
    let viewsOfMessage = true;
    const decoded = decodeMessageByElements(split.typeName, any.value, split.field, (elementTypeName, bytes) => {
      const index = next.elements.length;
      let element: unknown;
      for (const m of matchers) {
        const at = m.find(index, bytes);
        if (at >= 0) {
          element = m.previous.elements[at];
          break;
        }
      }
      element ??= decodeMessage(elementTypeName, bytes);
      viewsOfMessage &&= bytes.buffer === any.value.buffer;
      const start = bytes.byteOffset - any.value.byteOffset;
      next.starts.push(start);
      next.ends.push(start + bytes.byteLength);
      next.elements.push(element);
      return element;
    });
    if (viewsOfMessage) this.elementsByConfig.set(String(decoded['name'] ?? ''), next);
    else this.elementsByConfig.delete(String(decoded['name'] ?? ''));
    return { '@type': any.type_url, ...decoded };
  }
}
