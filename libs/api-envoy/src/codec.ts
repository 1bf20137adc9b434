import * as protobuf from 'protobufjs';
import type { EnvoyMessageTypes } from './generated/envoy-types';
import { envoyProtoRoot, fullNameOf, lookupMessageType } from './proto-root';
import { formatDuration, formatTimestamp, parseDuration, parseTimestamp } from './time-json';

/**
 * Converts between Tendril's "Envoy JSON" form (see the README: snake_case fields, Any with
 * '@type', Duration strings, wrappers as plain values, enum names, int64 as numbers, bytes as
 * base64) and protobuf wire bytes, by walking the protobufjs reflection of the Envoy protos.
 *
 * Encoding is strict: an unknown field, a value of the wrong JSON type, an unknown enum name,
 * an unknown '@type' or two members of one oneof throw an EnvoyCodecError naming the field path,
 * e.g. `Listener.filter_chains[0].filters[0].typed_config: unknown type ...`.
 */

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** A google.protobuf.Any as it travels in DiscoveryResponse.resources. */
export interface AnyBytes {
  type_url: string;
  value: Uint8Array;
}

/** An Envoy JSON object naming its own type, like a typed_config. */
export interface AnyJson {
  '@type': string;
  [field: string]: unknown;
}

/** An encode/decode failure at a field path such as `RouteConfiguration.virtual_hosts[0].domains`. */
export class EnvoyCodecError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'EnvoyCodecError';
  }
}

/** 'type.googleapis.com/' + the full message name. */
export function typeUrlOf(typeName: string): string {
  return `${TYPE_URL_PREFIX}${typeName.replace(/^\./, '')}`;
}

/** The full message name in a type URL: everything after the last '/'. */
export function typeNameOfUrl(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

type JsonObject = Record<string, unknown>;

const WRAPPER_TYPES = new Set([
  '.google.protobuf.DoubleValue',
  '.google.protobuf.FloatValue',
  '.google.protobuf.Int64Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.Int32Value',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.BoolValue',
  '.google.protobuf.StringValue',
  '.google.protobuf.BytesValue',
]);

/** Types whose JSON form is not an object of fields; inside an Any they travel as `{ '@type', value }`. */
const SPECIAL_JSON_TYPES = new Set([
  ...WRAPPER_TYPES,
  '.google.protobuf.Duration',
  '.google.protobuf.Timestamp',
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
  '.google.protobuf.FieldMask',
]);

export function describeJsonValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'a byte array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return `${typeof value} ${String(value)}`;
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Resolves a type URL to a message type in the root, or throws naming the path. */
export function messageTypeForUrl(typeUrl: string, path: string, root: protobuf.Root): protobuf.Type {
  if (!typeUrl.includes('/')) {
    throw new EnvoyCodecError(path, `invalid type URL ${JSON.stringify(typeUrl)}: expected "${TYPE_URL_PREFIX}<message name>"`);
  }
  try {
    return lookupMessageType(typeNameOfUrl(typeUrl), root);
  } catch {
    throw new EnvoyCodecError(path, `unknown type ${typeUrl} (not among the loaded Envoy protos)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Envoy JSON -> protobufjs object form (what Type.fromObject accepts)

const INT32_RANGE: [number, number] = [-2_147_483_648, 2_147_483_647];
const UINT32_RANGE: [number, number] = [0, 4_294_967_295];
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*={0,2}$/;

function integerInRange(value: unknown, range: [number, number], protoType: string, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
    throw new EnvoyCodecError(path, `expected ${protoType} (an integer from ${range[0]} to ${range[1]}), got ${describeJsonValue(value)}`);
  }
  return value;
}

function int64Value(value: unknown, unsigned: boolean, protoType: string, path: string): number | string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && (!unsigned || value >= 0)) return value;
  if (typeof value === 'string' && (unsigned ? /^\d+$/ : /^-?\d+$/).test(value)) return value;
  throw new EnvoyCodecError(path, `expected ${protoType} (an integer${unsigned ? ' >= 0' : ''}), got ${describeJsonValue(value)}`);
}

function scalarToProto(protoType: string, value: unknown, path: string): unknown {
  switch (protoType) {
    case 'string':
      if (typeof value !== 'string') throw new EnvoyCodecError(path, `expected a string, got ${describeJsonValue(value)}`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw new EnvoyCodecError(path, `expected a boolean, got ${describeJsonValue(value)}`);
      return value;
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return integerInRange(value, INT32_RANGE, protoType, path);
    case 'uint32':
    case 'fixed32':
      return integerInRange(value, UINT32_RANGE, protoType, path);
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return int64Value(value, false, protoType, path);
    case 'uint64':
    case 'fixed64':
      return int64Value(value, true, protoType, path);
    case 'double':
    case 'float':
      if (typeof value === 'number') return value;
      if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return Number(value);
      throw new EnvoyCodecError(path, `expected a number, got ${describeJsonValue(value)}`);
    case 'bytes':
      if (value instanceof Uint8Array) return value;
      if (typeof value === 'string' && (BASE64_PATTERN.test(value) || BASE64URL_PATTERN.test(value))) {
        return Buffer.from(value, BASE64_PATTERN.test(value) ? 'base64' : 'base64url');
      }
      throw new EnvoyCodecError(path, `expected base64-encoded bytes, got ${describeJsonValue(value)}`);
    default:
      throw new EnvoyCodecError(path, `unsupported proto scalar type ${protoType}`);
  }
}

function enumToProto(enumType: protobuf.Enum, value: unknown, path: string): number {
  if (typeof value === 'string') {
    const number = enumType.values[value];
    if (number === undefined) {
      const known = Object.keys(enumType.values).join(', ');
      throw new EnvoyCodecError(path, `unknown ${enumType.name} value ${JSON.stringify(value)} (known: ${known})`);
    }
    return number;
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= INT32_RANGE[0] && value <= INT32_RANGE[1]) return value;
  throw new EnvoyCodecError(path, `expected a ${enumType.name} name (string), got ${describeJsonValue(value)}`);
}

function structValueToProto(value: unknown, path: string): JsonObject {
  if (value === null) return { nullValue: 0 };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: listValueToProto(value, path) };
  if (isPlainObject(value)) return { structValue: structToProto(value, path) };
  throw new EnvoyCodecError(path, `expected a JSON value, got ${describeJsonValue(value)}`);
}

function structToProto(value: unknown, path: string): JsonObject {
  if (!isPlainObject(value)) throw new EnvoyCodecError(path, `expected a JSON object (google.protobuf.Struct), got ${describeJsonValue(value)}`);
  const fields: JsonObject = {};
  for (const key of Object.keys(value).sort()) {
    const item = value[key];
    if (item !== undefined) fields[key] = structValueToProto(item, `${path}.${key}`);
  }
  return { fields };
}

function listValueToProto(value: unknown, path: string): JsonObject {
  if (!Array.isArray(value)) throw new EnvoyCodecError(path, `expected a JSON array (google.protobuf.ListValue), got ${describeJsonValue(value)}`);
  return { values: value.map((item, i) => structValueToProto(item, `${path}[${i}]`)) };
}

/** Zero parts are left out, so the bytes match what protobuf's own encoders write. */
function withoutZeros(value: { seconds: number; nanos: number }): JsonObject {
  const out: JsonObject = {};
  if (value.seconds !== 0) out['seconds'] = value.seconds;
  if (value.nanos !== 0) out['nanos'] = value.nanos;
  return out;
}

/** The JSON form of a special well-known type -> its protobufjs object form. */
function specialToProto(type: protobuf.Type, value: unknown, path: string): JsonObject {
  const name = fullNameOf(type);
  if (WRAPPER_TYPES.has(name)) return { value: scalarToProto(type.fields['value'].type, value, path) };
  switch (name) {
    case '.google.protobuf.Duration': {
      const parsed = typeof value === 'string' ? parseDuration(value) : undefined;
      if (!parsed) throw new EnvoyCodecError(path, `expected a duration string like "1.5s", got ${describeJsonValue(value)}`);
      return withoutZeros(parsed);
    }
    case '.google.protobuf.Timestamp': {
      const parsed = typeof value === 'string' ? parseTimestamp(value) : undefined;
      if (!parsed) throw new EnvoyCodecError(path, `expected an RFC 3339 timestamp, got ${describeJsonValue(value)}`);
      return withoutZeros(parsed);
    }
    case '.google.protobuf.Struct':
      return structToProto(value, path);
    case '.google.protobuf.Value':
      return structValueToProto(value, path);
    case '.google.protobuf.ListValue':
      return listValueToProto(value, path);
    case '.google.protobuf.FieldMask':
      if (typeof value !== 'string') throw new EnvoyCodecError(path, `expected a field mask string like "a,b.c", got ${describeJsonValue(value)}`);
      return { paths: value.split(',').filter((p) => p.length > 0) };
    default:
      throw new EnvoyCodecError(path, `no JSON mapping for ${name}`);
  }
}

function anyToProto(value: unknown, path: string, root: protobuf.Root): AnyBytes {
  if (!isPlainObject(value)) throw new EnvoyCodecError(path, `expected an object with '@type', got ${describeJsonValue(value)}`);
  const typeUrl = value['@type'];
  if (typeUrl === undefined) {
    if (Object.keys(value).length === 0) return { type_url: '', value: new Uint8Array(0) };
    throw new EnvoyCodecError(path, `'@type' is required in a google.protobuf.Any`);
  }
  if (typeof typeUrl !== 'string') throw new EnvoyCodecError(`${path}['@type']`, `expected a type URL string, got ${describeJsonValue(typeUrl)}`);
  const type = messageTypeForUrl(typeUrl, path, root);
  const { '@type': _typeUrl, ...fields } = value;
  let protoForm: JsonObject;
  if (SPECIAL_JSON_TYPES.has(fullNameOf(type))) {
    const extra = Object.keys(fields).filter((key) => key !== 'value');
    if (extra.length > 0) throw new EnvoyCodecError(`${path}.${extra[0]}`, `unknown field: an Any holding ${typeNameOfUrl(typeUrl)} has only '@type' and 'value'`);
    protoForm = specialToProto(type, fields['value'], `${path}.value`);
  } else {
    protoForm = messageToProto(type, fields, path, root);
  }
  return { type_url: typeUrl, value: type.encode(type.fromObject(protoForm)).finish() };
}

function singleValueToProto(field: protobuf.Field, value: unknown, path: string, root: protobuf.Root): unknown {
  const target = field.resolvedType;
  if (target instanceof protobuf.Enum) return enumToProto(target, value, path);
  if (target instanceof protobuf.Type) {
    if (fullNameOf(target) === '.google.protobuf.Any') return anyToProto(value, path, root);
    if (SPECIAL_JSON_TYPES.has(fullNameOf(target))) return specialToProto(target, value, path);
    return messageToProto(target, value, path, root);
  }
  return scalarToProto(field.type, value, path);
}

function mapKeyToProto(keyType: string, key: string, path: string): unknown {
  if (keyType === 'string') return key;
  if (keyType === 'bool') {
    if (key !== 'true' && key !== 'false') throw new EnvoyCodecError(path, `expected map key true or false, got ${JSON.stringify(key)}`);
    return key;
  }
  if (!/^-?\d+$/.test(key)) throw new EnvoyCodecError(path, `expected an integer map key, got ${JSON.stringify(key)}`);
  return key;
}

function messageToProto(type: protobuf.Type, value: unknown, path: string, root: protobuf.Root): JsonObject {
  if (!isPlainObject(value)) throw new EnvoyCodecError(path, `expected an object (${fullNameOf(type).slice(1)}), got ${describeJsonValue(value)}`);
  const out: JsonObject = {};
  let oneofsSeen: Map<protobuf.OneOf, string> | undefined;
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined || item === null) continue;
    const fieldPath = `${path}.${key}`;
    const field = type.fields[key];
    if (!field) {
      const snake = snakeCase(key);
      const hint = snake !== key && type.fields[snake] ? ` (did you mean ${snake}?)` : '';
      throw new EnvoyCodecError(fieldPath, `unknown field${hint}: ${fullNameOf(type).slice(1)} has no field ${JSON.stringify(key)}`);
    }
    const oneof = field.partOf;
    if (oneof) {
      oneofsSeen ??= new Map();
      const other = oneofsSeen.get(oneof);
      if (other !== undefined) {
        throw new EnvoyCodecError(fieldPath, `only one of ${oneof.oneof.join(', ')} may be set (${other} is set too)`);
      }
      oneofsSeen.set(oneof, key);
    }
    field.resolve();
    if (field instanceof protobuf.MapField) {
      if (!isPlainObject(item)) throw new EnvoyCodecError(fieldPath, `expected an object (map), got ${describeJsonValue(item)}`);
      // Sorted keys make the bytes depend only on the content (resource version hashes rely on it).
      const entries: JsonObject = {};
      for (const mapKey of Object.keys(item).sort()) {
        const mapValue = item[mapKey];
        const entryPath = `${fieldPath}[${JSON.stringify(mapKey)}]`;
        const protoKey = mapKeyToProto(field.keyType, mapKey, entryPath);
        entries[String(protoKey)] = singleValueToProto(field, mapValue, entryPath, root);
      }
      out[key] = entries;
    } else if (field.repeated) {
      if (!Array.isArray(item)) throw new EnvoyCodecError(fieldPath, `expected an array, got ${describeJsonValue(item)}`);
      out[key] = item.map((element, i) => singleValueToProto(field, element, `${fieldPath}[${i}]`, root));
    } else {
      out[key] = singleValueToProto(field, item, fieldPath, root);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// protobufjs object form (Type.toObject with longs: Number) -> Envoy JSON

const TO_OBJECT_OPTIONS: protobuf.IConversionOptions = { longs: Number, defaults: false };

function bytesToBase64(value: unknown): string {
  if (typeof value === 'string') return value;
  const bytes = value as Uint8Array;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function structValueFromProto(value: JsonObject): unknown {
  if ('nullValue' in value) return null;
  if ('numberValue' in value) return value['numberValue'];
  if ('stringValue' in value) return value['stringValue'];
  if ('boolValue' in value) return value['boolValue'];
  if ('structValue' in value) return structFromProto(value['structValue'] as JsonObject);
  if ('listValue' in value) return listValueFromProto(value['listValue'] as JsonObject);
  return null;
}

function structFromProto(value: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, item] of Object.entries((value['fields'] as JsonObject | undefined) ?? {})) out[key] = structValueFromProto(item as JsonObject);
  return out;
}

function listValueFromProto(value: JsonObject): unknown[] {
  return ((value['values'] as JsonObject[] | undefined) ?? []).map(structValueFromProto);
}

function wrapperDefault(name: string): unknown {
  switch (name) {
    case '.google.protobuf.BoolValue':
      return false;
    case '.google.protobuf.StringValue':
    case '.google.protobuf.BytesValue':
      return '';
    default:
      return 0;
  }
}

function specialFromProto(type: protobuf.Type, value: JsonObject): unknown {
  const name = fullNameOf(type);
  if (WRAPPER_TYPES.has(name)) {
    if (!('value' in value)) return wrapperDefault(name);
    return name === '.google.protobuf.BytesValue' ? bytesToBase64(value['value']) : value['value'];
  }
  switch (name) {
    case '.google.protobuf.Duration':
      return formatDuration(value as { seconds?: number; nanos?: number });
    case '.google.protobuf.Timestamp':
      return formatTimestamp(value as { seconds?: number; nanos?: number });
    case '.google.protobuf.Struct':
      return structFromProto(value);
    case '.google.protobuf.Value':
      return structValueFromProto(value);
    case '.google.protobuf.ListValue':
      return listValueFromProto(value);
    case '.google.protobuf.FieldMask':
      return ((value['paths'] as string[] | undefined) ?? []).join(',');
    default:
      throw new Error(`no JSON mapping for ${name}`);
  }
}

function anyFromProto(value: JsonObject, path: string, root: protobuf.Root): JsonObject {
  const typeUrl = (value['type_url'] as string | undefined) ?? '';
  if (typeUrl === '') return {};
  const type = messageTypeForUrl(typeUrl, path, root);
  const bytes = (value['value'] as Uint8Array | undefined) ?? new Uint8Array(0);
  let decoded: JsonObject;
  try {
    decoded = type.toObject(type.decode(bytes), TO_OBJECT_OPTIONS);
  } catch (err) {
    throw new EnvoyCodecError(path, `cannot decode ${typeNameOfUrl(typeUrl)}: ${(err as Error).message}`);
  }
  if (SPECIAL_JSON_TYPES.has(fullNameOf(type))) return { '@type': typeUrl, value: specialFromProto(type, decoded) };
  return { '@type': typeUrl, ...messageFromProto(type, decoded, path, root) };
}

function singleValueFromProto(field: protobuf.Field, value: unknown, path: string, root: protobuf.Root): unknown {
  const target = field.resolvedType;
  if (target instanceof protobuf.Enum) return target.valuesById[value as number] ?? value;
  if (target instanceof protobuf.Type) {
    if (fullNameOf(target) === '.google.protobuf.Any') return anyFromProto(value as JsonObject, path, root);
    if (SPECIAL_JSON_TYPES.has(fullNameOf(target))) return specialFromProto(target, value as JsonObject);
    return messageFromProto(target, value as JsonObject, path, root);
  }
  if (field.type === 'bytes') return bytesToBase64(value);
  return value;
}

function messageFromProto(type: protobuf.Type, value: JsonObject, path: string, root: protobuf.Root): JsonObject {
  const out: JsonObject = {};
  for (const field of type.fieldsArray) {
    const item = value[field.name];
    if (item === undefined || item === null) continue;
    const fieldPath = `${path}.${field.name}`;
    field.resolve();
    if (field instanceof protobuf.MapField) {
      const entries: JsonObject = {};
      for (const [mapKey, mapValue] of Object.entries(item as JsonObject)) {
        entries[mapKey] = singleValueFromProto(field, mapValue, `${fieldPath}[${JSON.stringify(mapKey)}]`, root);
      }
      out[field.name] = entries;
    } else if (field.repeated) {
      out[field.name] = (item as unknown[]).map((element, i) => singleValueFromProto(field, element, `${fieldPath}[${i}]`, root));
    } else {
      out[field.name] = singleValueFromProto(field, item, fieldPath, root);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * The protobufjs object form of an Envoy JSON message (Any as { type_url, value: bytes },
 * Duration as { seconds, nanos }, ...), ready for Type.fromObject. Throws EnvoyCodecError.
 */
export function envoyJsonToProtoObject(typeName: string, obj: unknown, root: protobuf.Root = envoyProtoRoot()): Record<string, unknown> {
  const type = lookupMessageType(typeName, root);
  if (isPlainObject(obj) && '@type' in obj) {
    const declared = obj['@type'];
    if (typeof declared !== 'string' || typeNameOfUrl(declared) !== fullNameOf(type).slice(1)) {
      throw new EnvoyCodecError(`${type.name}['@type']`, `${describeJsonValue(declared)} does not match ${typeUrlOf(fullNameOf(type))}`);
    }
    const { '@type': _typeUrl, ...fields } = obj;
    return messageToProto(type, fields, type.name, root);
  }
  return messageToProto(type, obj, type.name, root);
}

/** Envoy JSON -> protobuf wire bytes. An optional matching '@type' key is allowed. */
export function encodeMessage(typeName: string, obj: unknown, root: protobuf.Root = envoyProtoRoot()): Uint8Array {
  const type = lookupMessageType(typeName, root);
  return type.encode(type.fromObject(envoyJsonToProtoObject(typeName, obj, root))).finish();
}

/**
 * Protobuf wire bytes -> Envoy JSON (no '@type' at the top level). Typed by the message name
 * when it is one of the generated types. An enum number the protos do not define stays a number.
 */
export function decodeMessage<N extends keyof EnvoyMessageTypes>(typeName: N, bytes: Uint8Array, root?: protobuf.Root): EnvoyMessageTypes[N];
export function decodeMessage(typeName: string, bytes: Uint8Array, root?: protobuf.Root): Record<string, unknown>;
export function decodeMessage(typeName: string, bytes: Uint8Array, root: protobuf.Root = envoyProtoRoot()): Record<string, unknown> {
  const type = lookupMessageType(typeName, root);
  let decoded: JsonObject;
  try {
    decoded = type.toObject(type.decode(bytes), TO_OBJECT_OPTIONS);
  } catch (err) {
    throw new EnvoyCodecError(type.name, `cannot decode ${fullNameOf(type).slice(1)}: ${(err as Error).message}`);
  }
  return messageFromProto(type, decoded, type.name, root);
}

/** The protobufjs object form of a message (from Type.toObject with longs: Number) -> Envoy JSON. */
export function protoObjectToEnvoyJson(typeName: string, obj: Record<string, unknown>, root: protobuf.Root = envoyProtoRoot()): Record<string, unknown> {
  const type = lookupMessageType(typeName, root);
  return messageFromProto(type, obj, type.name, root);
}

/** The short message name a type URL names, e.g. "Cluster": the start of error paths. */
function shortNameOfUrl(typeUrl: string): string {
  const name = typeNameOfUrl(typeUrl);
  return name.slice(name.lastIndexOf('.') + 1) || 'Any';
}

/** Envoy JSON with '@type' (or typeUrl given separately) -> Any with encoded bytes, for DiscoveryResponse.resources. */
export function packAny(obj: object, typeUrl?: string, root: protobuf.Root = envoyProtoRoot()): AnyBytes {
  const { '@type': declared, ...fields } = obj as JsonObject;
  const url = typeUrl ?? declared;
  if (typeof url !== 'string' || url === '') {
    throw new EnvoyCodecError('Any', `'@type' is required to pack a resource (or pass its type URL)`);
  }
  const path = shortNameOfUrl(url);
  if (declared !== undefined && (typeof declared !== 'string' || typeNameOfUrl(declared) !== typeNameOfUrl(url))) {
    throw new EnvoyCodecError(`${path}['@type']`, `${describeJsonValue(declared)} does not match the type URL ${url}`);
  }
  return anyToProto({ ...fields, '@type': url }, path, root);
}

/** Any with encoded bytes -> Envoy JSON with '@type'. */
export function unpackAny(any: { type_url: string; value: Uint8Array }, root: protobuf.Root = envoyProtoRoot()): AnyJson {
  const path = shortNameOfUrl(any.type_url);
  messageTypeForUrl(any.type_url, path, root); // an empty or unknown type URL is an error here
  return anyFromProto(any as unknown as JsonObject, path, root) as AnyJson;
}

/** Encodes one element of a repeated message field (a VirtualHost of a RouteConfiguration, ...). */
export type ElementEncoder = (elementTypeName: string, element: unknown) => Uint8Array;

/**
 * Envoy JSON -> protobuf wire bytes, byte for byte what encodeMessage writes, but with the
 * elements of the repeated message field `field` encoded one by one through `encodeElement`, so
 * a caller can reuse the bytes of elements that did not change (a RouteConfiguration with ten
 * thousand virtual hosts of which one changed). protobufjs writes fields in field-number order,
 * so the message is the fields numbered below `field`, then each element as a length-delimited
 * record, then the fields numbered above it.
 *
 * Input the split cannot check as a whole (a '@type' key, two members of one oneof) and every
 * encoding error go through encodeMessage, so errors name the same field paths.
 */
export function encodeMessageByElements(
  typeName: string,
  obj: Record<string, unknown>,
  field: string,
  encodeElement: ElementEncoder,
  root: protobuf.Root = envoyProtoRoot(),
): Uint8Array {
  const type = lookupMessageType(typeName, root);
  const split = type.fields[field];
  if (!split || !split.repeated || split instanceof protobuf.MapField) throw new Error(`${fullNameOf(type).slice(1)}.${field} is not a repeated field`);
  split.resolve();
  const elementType = split.resolvedType;
  const items = obj[field];
  if (!(elementType instanceof protobuf.Type) || SPECIAL_JSON_TYPES.has(fullNameOf(elementType)) || fullNameOf(elementType) === '.google.protobuf.Any') {
    throw new Error(`${fullNameOf(type).slice(1)}.${field} is not a repeated plain message field`);
  }
  if (!isPlainObject(obj) || '@type' in obj || !Array.isArray(items) || hasOneofConflict(type, obj)) return encodeMessage(typeName, obj, root);
  const head: JsonObject = {};
  const tail: JsonObject = {};
  for (const [key, value] of Object.entries(obj)) {
    if (key === field) continue;
    const other = type.fields[key];
    // Unknown keys go to the head, whose encoding reports them.
    (other && other.id > split.id ? tail : head)[key] = value;
  }
  const elementTypeName = fullNameOf(elementType).slice(1);
  try {
    const headBytes = encodeMessage(typeName, head, root);
    const tailBytes = encodeMessage(typeName, tail, root);
    const tag = (split.id << 3) | 2;
    const elements = items.map((item) => encodeElement(elementTypeName, item));
    // One buffer, written once: a RouteConfiguration of ten thousand virtual hosts is megabytes, and
    // every fresh megabyte costs page faults (a Writer plus a concat would take two).
    let size = headBytes.length + tailBytes.length;
    for (const e of elements) size += varintLength(tag) + varintLength(e.length) + e.length;
    const out = Buffer.allocUnsafe(size);
    out.set(headBytes, 0);
    let at = headBytes.length;
    for (const e of elements) {
      at = writeVarint(out, at, tag);
      at = writeVarint(out, at, e.length);
      out.set(e, at);
      at += e.length;
    }
    out.set(tailBytes, at);
    return out;
  } catch {
    // Encoded as a whole, the error names the element's index and field.
    return encodeMessage(typeName, obj, root);
  }
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

/** Decodes one element of a repeated message field from its wire bytes. */
export type ElementDecoder = (elementTypeName: string, bytes: Uint8Array) => unknown;

/**
 * Protobuf wire bytes -> Envoy JSON, the same as decodeMessage, but with each element of the
 * repeated message field `field` decoded by `decodeElement` from its own bytes, so a caller can
 * reuse what it decoded for identical bytes before (a RouteConfiguration with ten thousand virtual
 * hosts of which one changed). The other fields are decoded together, in wire order, so repeated
 * and merged fields come out as decodeMessage gives them. Any decoding error is reported by
 * decodeMessage on the whole message.
 */
export function decodeMessageByElements(
  typeName: string,
  bytes: Uint8Array,
  field: string,
  decodeElement: ElementDecoder,
  root: protobuf.Root = envoyProtoRoot(),
): Record<string, unknown> {
  const type = lookupMessageType(typeName, root);
  const split = type.fields[field];
  if (!split || !split.repeated || split instanceof protobuf.MapField) throw new Error(`${fullNameOf(type).slice(1)}.${field} is not a repeated field`);
  split.resolve();
  const elementType = split.resolvedType;
  if (!(elementType instanceof protobuf.Type) || SPECIAL_JSON_TYPES.has(fullNameOf(elementType))) {
    throw new Error(`${fullNameOf(type).slice(1)}.${field} is not a repeated plain message field`);
  }
  const elementTypeName = fullNameOf(elementType).slice(1);
  const elements: Uint8Array[] = [];
  const rest: Uint8Array[] = [];
  try {
    const reader = protobuf.Reader.create(bytes);
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const tag = reader.uint32();
      if (tag >>> 3 === split.id && (tag & 7) === 2) {
        const length = reader.uint32();
        if (reader.pos + length > reader.len) throw new Error('element runs past the end of the message');
        elements.push(bytes.subarray(reader.pos, reader.pos + length));
        reader.pos += length;
      } else {
        reader.skipType(tag & 7);
        rest.push(bytes.subarray(start, reader.pos));
      }
    }
    const others = decodeMessage(typeName, Buffer.concat(rest), root);
    // Keys in field order, as decodeMessage writes them.
    const out: Record<string, unknown> = {};
    for (const f of type.fieldsArray) {
      if (f.name === field) {
        if (elements.length > 0) out[field] = elements.map((element) => decodeElement(elementTypeName, element));
      } else if (f.name in others) {
        out[f.name] = others[f.name];
      }
    }
    return out;
  } catch {
    return decodeMessage(typeName, bytes, root);
  }
}

/** Whether two members of one oneof are set: encoding the halves separately would not notice. */
function hasOneofConflict(type: protobuf.Type, obj: JsonObject): boolean {
  if (type.oneofsArray.length === 0) return false;
  const seen = new Set<protobuf.OneOf>();
  for (const [key, value] of Object.entries(obj)) {
    const oneof = value === undefined || value === null ? undefined : type.fields[key]?.partOf;
    if (!oneof) continue;
    if (seen.has(oneof)) return true;
    seen.add(oneof);
  }
  return false;
}
