import { isIP } from 'node:net';
import * as protobuf from 'protobufjs';
import { EnvoyCodecError, envoyJsonToProtoObject, messageTypeForUrl } from './codec';
import { envoyProtoRoot, fullNameOf, lookupMessageType } from './proto-root';
import { durationNanos, formatDuration, parseDuration, parseTimestamp } from './time-json';

/**
 * protoc-gen-validate (PGV) checks on Envoy JSON, driven by the `(validate.rules)` field options
 * and `(validate.required)` oneof options as protobufjs parsed them — the same constraints Envoy
 * enforces when it NACKs a config. Semantics follow PGV: a proto3 scalar that is absent is
 * checked as its default value ("" for min_len), a message-typed field is only checked when
 * present (unless required), members of a oneof only when set, and embedded messages and Any
 * payloads are validated recursively.
 */

export interface ValidationError {
  /** Field path from the top message, e.g. `RouteConfiguration.virtual_hosts[0].domains`. */
  path: string;
  /** The PGV rule that failed, e.g. `string.min_len`, `message.required`, `oneof.required`. */
  rule: string;
  message: string;
}

type Rules = Record<string, unknown>;
type JsonObject = Record<string, unknown>;

const NUMERIC_KINDS = ['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'float', 'double'];

const WRAPPER_KINDS: Record<string, string> = {
  '.google.protobuf.DoubleValue': 'double',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32',
  '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
};

/** Messages with a JSON form that is not an object of fields: nothing to recurse into. */
const OPAQUE_TYPES = new Set([
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
  '.google.protobuf.FieldMask',
  '.google.protobuf.Empty',
]);

/** PGV's well_known_regex patterns (validate.proto KnownRegex), strict and loose variants. */
const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
// These patterns exist to reject control characters, so they must name them.
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
// eslint-disable-next-line no-control-regex
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(target: Rules, source: Rules): Rules {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    target[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge({ ...existing }, value) : value;
  }
  return target;
}

/** Shared by every field without (validate.rules), so "no rules" is an identity check. */
const NO_RULES: Rules = Object.freeze({});
const fieldRulesCache = new WeakMap<protobuf.FieldBase, Rules>();

/** The field's (validate.rules), merged when the proto spreads them over several option statements. */
function rulesOf(field: protobuf.FieldBase): Rules {
  let rules = fieldRulesCache.get(field);
  if (!rules) {
    rules = {};
    for (const option of (field.parsedOptions ?? []) as Rules[]) {
      const value = option['(validate.rules)'];
      if (isPlainObject(value)) deepMerge(rules, value);
    }
    if (Object.keys(rules).length === 0) rules = NO_RULES;
    fieldRulesCache.set(field, rules);
  }
  return rules;
}

const regexCache = new Map<string, RegExp | null>();

/** RE2 patterns compiled as JS RegExps; one JS cannot express is skipped rather than misjudged. */
function compilePattern(pattern: string): RegExp | null {
  if (!regexCache.has(pattern)) {
    let compiled: RegExp | null;
    try {
      compiled = new RegExp(pattern, 'u');
    } catch {
      compiled = null;
    }
    regexCache.set(pattern, compiled);
  }
  return regexCache.get(pattern) ?? null;
}

interface FieldPlan {
  field: protobuf.FieldBase;
  rules: Rules;
  /** Whether the rules can fail on an absent value (an unset oneof member or unconstrained field cannot). */
  checkWhenAbsent: boolean;
}

interface MessagePlan {
  disabled: boolean;
  requiredOneofs: protobuf.OneOf[];
  fields: FieldPlan[];
}

const messagePlans = new WeakMap<protobuf.Type, MessagePlan>();

/** What to check on a message type, worked out once from its options. */
function planOf(type: protobuf.Type): MessagePlan {
  let plan = messagePlans.get(type);
  if (!plan) {
    plan = {
      disabled: type.options?.['(validate.disabled)'] === true || type.options?.['(validate.ignored)'] === true,
      requiredOneofs: type.oneofsArray.filter((oneof) => oneof.options?.['(validate.required)'] === true),
      fields: type.fieldsArray.map((field) => {
        field.resolve();
        const rules = rulesOf(field);
        return { field, rules, checkWhenAbsent: !field.partOf && rules !== NO_RULES };
      }),
    };
    messagePlans.set(type, plan);
  }
  return plan;
}

class Validator {
  readonly errors: ValidationError[] = [];

  constructor(private readonly root: protobuf.Root) {}

  fail(path: string, rule: string, message: string): void {
    this.errors.push({ path, rule, message });
  }

  message(type: protobuf.Type, value: JsonObject, path: string): void {
    const plan = planOf(type);
    if (plan.disabled) return;
    for (const oneof of plan.requiredOneofs) {
      if (!oneof.oneof.some((name) => value[name] !== undefined && value[name] !== null)) {
        this.fail(`${path}.${oneof.name}`, 'oneof.required', `exactly one of ${oneof.oneof.join(', ')} must be set`);
      }
    }
    for (const { field, rules, checkWhenAbsent } of plan.fields) {
      const item = value[field.name];
      const present = item !== undefined && item !== null;
      if (!present && !checkWhenAbsent) continue;
      const fieldPath = `${path}.${field.name}`;
      if (field instanceof protobuf.MapField) this.map(field, rules, present ? (item as JsonObject) : {}, fieldPath);
      else if (field.repeated) this.repeated(field, rules, present ? (item as unknown[]) : [], fieldPath);
      else this.single(field, rules, item, present, fieldPath);
    }
  }

  repeated(field: protobuf.FieldBase, rules: Rules, items: unknown[], path: string): void {
    const repeatedRules = (rules['repeated'] ?? {}) as Rules;
    if (repeatedRules['ignore_empty'] === true && items.length === 0) return;
    const minItems = repeatedRules['min_items'];
    if (typeof minItems === 'number' && items.length < minItems) {
      this.fail(path, 'repeated.min_items', `value must contain at least ${minItems} item(s)`);
    }
    const maxItems = repeatedRules['max_items'];
    if (typeof maxItems === 'number' && items.length > maxItems) {
      this.fail(path, 'repeated.max_items', `value must contain no more than ${maxItems} item(s)`);
    }
    if (repeatedRules['unique'] === true) {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        const key = JSON.stringify(item);
        if (seen.has(key)) this.fail(`${path}[${i}]`, 'repeated.unique', 'repeated value must contain unique items');
        seen.add(key);
      });
    }
    const itemRules = (repeatedRules['items'] ?? {}) as Rules;
    items.forEach((item, i) => this.single(field, itemRules, item, item !== undefined && item !== null, `${path}[${i}]`));
  }

  map(field: protobuf.MapField, rules: Rules, entries: JsonObject, path: string): void {
    const mapRules = (rules['map'] ?? {}) as Rules;
    const count = Object.keys(entries).length;
    if (mapRules['ignore_empty'] === true && count === 0) return;
    const minPairs = mapRules['min_pairs'];
    if (typeof minPairs === 'number' && count < minPairs) this.fail(path, 'map.min_pairs', `value must contain at least ${minPairs} pair(s)`);
    const maxPairs = mapRules['max_pairs'];
    if (typeof maxPairs === 'number' && count > maxPairs) this.fail(path, 'map.max_pairs', `value must contain no more than ${maxPairs} pair(s)`);
    const keyRules = (mapRules['keys'] ?? {}) as Rules;
    const valueRules = (mapRules['values'] ?? {}) as Rules;
    for (const [key, item] of Object.entries(entries)) {
      const entryPath = `${path}[${JSON.stringify(key)}]`;
      this.scalar(field.keyType, keyRules, field.keyType === 'string' ? key : key === 'true' ? true : key === 'false' ? false : Number(key), entryPath);
      this.single(field, valueRules, item, item !== undefined && item !== null, entryPath);
    }
  }

  /** One value of a field (a singular field, a repeated item or a map value). */
  single(field: protobuf.FieldBase, rules: Rules, value: unknown, present: boolean, path: string): void {
    const target = field.resolvedType;
    if (target instanceof protobuf.Type) {
      this.embedded(target, rules, value, present, path);
    } else if (target instanceof protobuf.Enum) {
      this.enumValue(target, (rules['enum'] ?? {}) as Rules, present ? value : 0, path);
    } else {
      this.scalar(field.type, rules, present ? value : defaultScalar(field.type), path);
    }
  }

  embedded(type: protobuf.Type, rules: Rules, value: unknown, present: boolean, path: string): void {
    const name = fullNameOf(type);
    if (!present) {
      for (const kind of ['message', 'duration', 'timestamp', 'any']) {
        if ((rules[kind] as Rules | undefined)?.['required'] === true) {
          this.fail(path, `${kind}.required`, 'value is required');
          return;
        }
      }
      return;
    }
    if ((rules['message'] as Rules | undefined)?.['skip'] === true) return;
    const wrapperKind = WRAPPER_KINDS[name];
    if (wrapperKind) {
      this.scalar(wrapperKind, rules, value, path);
    } else if (name === '.google.protobuf.Duration') {
      this.duration((rules['duration'] ?? {}) as Rules, value as string, path);
    } else if (name === '.google.protobuf.Timestamp') {
      this.timestamp((rules['timestamp'] ?? {}) as Rules, value as string, path);
    } else if (name === '.google.protobuf.Any') {
      this.any((rules['any'] ?? {}) as Rules, value as JsonObject, path);
    } else if (!OPAQUE_TYPES.has(name)) {
      this.message(type, value as JsonObject, path);
    }
  }

  any(rules: Rules, value: JsonObject, path: string): void {
    const typeUrl = value['@type'];
    if (typeof typeUrl !== 'string') return; // an empty Any
    const allowed = asList(rules['in'])?.map(String);
    if (allowed && !allowed.includes(typeUrl)) this.fail(path, 'any.in', `type URL must be in list [${allowed.join(', ')}]`);
    const denied = asList(rules['not_in'])?.map(String);
    if (denied && denied.includes(typeUrl)) this.fail(path, 'any.not_in', `type URL must not be in list [${denied.join(', ')}]`);
    const type = messageTypeForUrl(typeUrl, path, this.root);
    if (fullNameOf(type).startsWith('.google.protobuf.')) return; // well-known types carry no PGV rules
    const { '@type': _typeUrl, ...fields } = value;
    this.message(type, fields, path);
  }

  enumValue(type: protobuf.Enum, rules: Rules, value: unknown, path: string): void {
    const number = typeof value === 'string' ? type.values[value] : (value as number);
    if (rules['defined_only'] === true && (number === undefined || type.valuesById[number] === undefined)) {
      this.fail(path, 'enum.defined_only', `value must be one of the defined enum values (${Object.keys(type.values).join(', ')})`);
    }
    if (rules['const'] !== undefined && number !== rules['const']) this.fail(path, 'enum.const', `value must equal ${String(rules['const'])}`);
    const list = (key: string): number[] | undefined => asList(rules[key])?.map(Number);
    const allowed = list('in');
    if (allowed && !allowed.includes(number)) this.fail(path, 'enum.in', `value must be in list [${allowed.map((n) => type.valuesById[n] ?? n).join(', ')}]`);
    const denied = list('not_in');
    if (denied && denied.includes(number)) this.fail(path, 'enum.not_in', `value must not be in list [${denied.map((n) => type.valuesById[n] ?? n).join(', ')}]`);
  }

  scalar(protoType: string, rules: Rules, value: unknown, path: string): void {
    if (protoType === 'string' && isPlainObject(rules['string'])) this.string(rules['string'], value as string, path);
    else if (protoType === 'bytes' && isPlainObject(rules['bytes'])) this.bytes(rules['bytes'], value as string, path);
    else if (protoType === 'bool' && isPlainObject(rules['bool'])) {
      const expected = rules['bool']['const'];
      if (expected !== undefined && value !== expected) this.fail(path, 'bool.const', `value must equal ${String(expected)}`);
    } else if (NUMERIC_KINDS.includes(protoType)) {
      const kind = NUMERIC_KINDS.find((k) => isPlainObject(rules[k]));
      if (kind) this.number(kind, rules[kind] as Rules, Number(value), path);
    }
  }

  number(kind: string, rules: Rules, value: number, path: string): void {
    if (rules['ignore_empty'] === true && value === 0) return;
    const bound = (key: string): number | undefined => (rules[key] === undefined ? undefined : Number(rules[key]));
    this.ordered(kind, value, { lt: bound('lt'), lte: bound('lte'), gt: bound('gt'), gte: bound('gte'), const: bound('const') }, String, path);
    const list = (key: string): number[] | undefined => asList(rules[key])?.map(Number);
    const allowed = list('in');
    if (allowed && !allowed.includes(value)) this.fail(path, `${kind}.in`, `value must be in list [${allowed.join(', ')}]`);
    const denied = list('not_in');
    if (denied && denied.includes(value)) this.fail(path, `${kind}.not_in`, `value must not be in list [${denied.join(', ')}]`);
  }

  /**
   * const / lt / lte / gt / gte with PGV's range semantics: when both a lower and an upper
   * bound are given and upper < lower, the value must lie OUTSIDE [upper, lower].
   */
  ordered<T extends number | bigint>(
    kind: string,
    value: T,
    bounds: { lt?: T; lte?: T; gt?: T; gte?: T; const?: T },
    show: (v: T) => string,
    path: string,
  ): void {
    if (bounds.const !== undefined && value !== bounds.const) this.fail(path, `${kind}.const`, `value must equal ${show(bounds.const)}`);
    const lowerKey = bounds.gt !== undefined ? 'gt' : bounds.gte !== undefined ? 'gte' : undefined;
    const upperKey = bounds.lt !== undefined ? 'lt' : bounds.lte !== undefined ? 'lte' : undefined;
    const lower = lowerKey ? (bounds[lowerKey] as T) : undefined;
    const upper = upperKey ? (bounds[upperKey] as T) : undefined;
    const aboveLower = lower === undefined || (lowerKey === 'gt' ? value > lower : value >= lower);
    const belowUpper = upper === undefined || (upperKey === 'lt' ? value < upper : value <= upper);
    if (lower !== undefined && upper !== undefined && upper < lower) {
      if (!aboveLower && !belowUpper) {
        const rule = `${kind}.${upperKey}_${lowerKey}`;
        this.fail(path, rule, `value must be ${upperKey === 'lt' ? 'less than' : 'less than or equal to'} ${show(upper)} or ${lowerKey === 'gt' ? 'greater than' : 'greater than or equal to'} ${show(lower)}`);
      }
      return;
    }
    if (!aboveLower) this.fail(path, `${kind}.${lowerKey}`, `value must be ${lowerKey === 'gt' ? 'greater than' : 'greater than or equal to'} ${show(lower as T)}`);
    if (!belowUpper) this.fail(path, `${kind}.${upperKey}`, `value must be ${upperKey === 'lt' ? 'less than' : 'less than or equal to'} ${show(upper as T)}`);
  }

  duration(rules: Rules, value: string, path: string): void {
    const parsed = parseDuration(value);
    if (!parsed) return; // the codec check already reported it
    const bound = (key: string): bigint | undefined => (isPlainObject(rules[key]) ? durationNanos(rules[key]) : undefined);
    const show = (nanos: bigint): string => formatDuration({ seconds: Number(nanos / 1_000_000_000n), nanos: Number(nanos % 1_000_000_000n) });
    const nanos = durationNanos(parsed);
    this.ordered('duration', nanos, { lt: bound('lt'), lte: bound('lte'), gt: bound('gt'), gte: bound('gte'), const: bound('const') }, show, path);
    const list = (key: string): bigint[] | undefined => asList(rules[key])?.map((d) => durationNanos(d as JsonObject));
    const allowed = list('in');
    if (allowed && !allowed.includes(nanos)) this.fail(path, 'duration.in', `value must be in list [${allowed.map(show).join(', ')}]`);
    const denied = list('not_in');
    if (denied && denied.includes(nanos)) this.fail(path, 'duration.not_in', `value must not be in list [${denied.map(show).join(', ')}]`);
  }

  timestamp(rules: Rules, value: string, path: string): void {
    const parsed = parseTimestamp(value);
    if (!parsed) return;
    const bound = (key: string): bigint | undefined => (isPlainObject(rules[key]) ? durationNanos(rules[key]) : undefined);
    this.ordered('timestamp', durationNanos(parsed), { lt: bound('lt'), lte: bound('lte'), gt: bound('gt'), gte: bound('gte'), const: bound('const') }, (n) => `${n}ns since the epoch`, path);
    const nowNanos = BigInt(Date.now()) * 1_000_000n;
    if (rules['lt_now'] === true && durationNanos(parsed) >= nowNanos) this.fail(path, 'timestamp.lt_now', 'value must be less than now');
    if (rules['gt_now'] === true && durationNanos(parsed) <= nowNanos) this.fail(path, 'timestamp.gt_now', 'value must be greater than now');
  }

  string(rules: Rules, value: string, path: string): void {
    if (rules['ignore_empty'] === true && value === '') return;
    const chars = [...value].length;
    const bytes = Buffer.byteLength(value, 'utf8');
    const num = (key: string): number | undefined => (rules[key] === undefined ? undefined : Number(rules[key]));
    const check = (rule: string, ok: boolean, message: string): void => {
      if (!ok) this.fail(path, `string.${rule}`, message);
    };
    const constValue = rules['const'];
    if (typeof constValue === 'string') check('const', value === constValue, `value must equal ${JSON.stringify(constValue)}`);
    const len = num('len');
    if (len !== undefined) check('len', chars === len, `value length must be ${len} characters`);
    const minLen = num('min_len');
    if (minLen !== undefined) check('min_len', chars >= minLen, `value length must be at least ${minLen} characters`);
    const maxLen = num('max_len');
    if (maxLen !== undefined) check('max_len', chars <= maxLen, `value length must be at most ${maxLen} characters`);
    const lenBytes = num('len_bytes');
    if (lenBytes !== undefined) check('len_bytes', bytes === lenBytes, `value length must be ${lenBytes} bytes`);
    const minBytes = num('min_bytes');
    if (minBytes !== undefined) check('min_bytes', bytes >= minBytes, `value length must be at least ${minBytes} bytes`);
    const maxBytes = num('max_bytes');
    if (maxBytes !== undefined) check('max_bytes', bytes <= maxBytes, `value length must be at most ${maxBytes} bytes`);
    const pattern = rules['pattern'];
    if (typeof pattern === 'string') {
      const regex = compilePattern(pattern);
      if (regex) check('pattern', regex.test(value), `value does not match regex pattern ${JSON.stringify(pattern)}`);
    }
    for (const [rule, test, what] of [
      ['prefix', (p: string) => value.startsWith(p), 'have prefix'],
      ['suffix', (p: string) => value.endsWith(p), 'have suffix'],
      ['contains', (p: string) => value.includes(p), 'contain substring'],
      ['not_contains', (p: string) => !value.includes(p), 'not contain substring'],
    ] as const) {
      const operand = rules[rule];
      if (typeof operand === 'string') check(rule, test(operand), `value must ${what} ${JSON.stringify(operand)}`);
    }
    const list = (key: string): string[] | undefined => asList(rules[key])?.map(String);
    const allowed = list('in');
    if (allowed) check('in', allowed.includes(value), `value must be in list [${allowed.join(', ')}]`);
    const denied = list('not_in');
    if (denied) check('not_in', !denied.includes(value), `value must not be in list [${denied.join(', ')}]`);
    const wellKnown = rules['well_known_regex'];
    if (wellKnown === 'HTTP_HEADER_NAME' || wellKnown === 'HTTP_HEADER_VALUE') {
      const strict = rules['strict'] !== false;
      const regex = !strict ? HEADER_LOOSE : wellKnown === 'HTTP_HEADER_NAME' ? HEADER_NAME_STRICT : HEADER_VALUE_STRICT;
      const what = wellKnown === 'HTTP_HEADER_NAME' ? 'a valid HTTP header name' : 'a valid HTTP header value';
      check('well_known_regex', regex.test(value), `value must be ${what}`);
    }
    if (rules['ip'] === true) check('ip', isIP(value) !== 0, 'value must be a valid IP address');
    if (rules['ipv4'] === true) check('ipv4', isIP(value) === 4, 'value must be a valid IPv4 address');
    if (rules['ipv6'] === true) check('ipv6', isIP(value) === 6, 'value must be a valid IPv6 address');
    if (rules['hostname'] === true) check('hostname', isHostname(value), 'value must be a valid hostname');
    if (rules['address'] === true) check('address', isIP(value) !== 0 || isHostname(value), 'value must be a valid hostname or IP address');
    if (rules['uuid'] === true) {
      check('uuid', /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(value), 'value must be a valid UUID');
    }
  }

  bytes(rules: Rules, value: string, path: string): void {
    const length = Buffer.from(value, 'base64').length;
    if (rules['ignore_empty'] === true && length === 0) return;
    const num = (key: string): number | undefined => (rules[key] === undefined ? undefined : Number(rules[key]));
    const len = num('len');
    if (len !== undefined && length !== len) this.fail(path, 'bytes.len', `value length must be ${len} bytes`);
    const minLen = num('min_len');
    if (minLen !== undefined && length < minLen) this.fail(path, 'bytes.min_len', `value length must be at least ${minLen} bytes`);
    const maxLen = num('max_len');
    if (maxLen !== undefined && length > maxLen) this.fail(path, 'bytes.max_len', `value length must be at most ${maxLen} bytes`);
  }
}

/** protobufjs gives a repeated option with one entry as a scalar, with several as an array. */
function asList(raw: unknown): unknown[] | undefined {
  return raw === undefined ? undefined : Array.isArray(raw) ? raw : [raw];
}

function isHostname(value: string): boolean {
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label));
}

function defaultScalar(protoType: string): unknown {
  if (protoType === 'string' || protoType === 'bytes') return '';
  if (protoType === 'bool') return false;
  return 0;
}

/**
 * Validates an Envoy JSON message against the PGV rules in its protos. Returns [] when valid.
 * A message that cannot be encoded at all (unknown field, wrong JSON type, unknown '@type')
 * yields a single error with rule 'codec'.
 */
export function validateMessage(typeName: string, obj: unknown, root: protobuf.Root = envoyProtoRoot()): ValidationError[] {
  const type = lookupMessageType(typeName, root);
  try {
    envoyJsonToProtoObject(typeName, obj, root);
  } catch (err) {
    if (err instanceof EnvoyCodecError) return [{ path: err.path, rule: 'codec', message: err.reason }];
    throw err;
  }
  const validator = new Validator(root);
  const { '@type': _typeUrl, ...fields } = obj as JsonObject;
  validator.message(type, fields, type.name);
  return validator.errors;
}

/** validateMessage for a resource named by its type URL (or its own '@type'). */
export function validateResource(resource: object, typeUrl?: string, root: protobuf.Root = envoyProtoRoot()): ValidationError[] {
  const url = typeUrl ?? (resource as JsonObject)['@type'];
  if (typeof url !== 'string') return [{ path: '', rule: 'codec', message: "the resource has no '@type' and no type URL was given" }];
  let typeName: string;
  try {
    typeName = fullNameOf(messageTypeForUrl(url, '', root)).slice(1);
  } catch (err) {
    return [{ path: '', rule: 'codec', message: (err as EnvoyCodecError).reason }];
  }
  return validateMessage(typeName, resource, root);
}
