/**
 * The checks the API server makes beyond plain OpenAPI: CEL rules (x-kubernetes-validations), list
 * uniqueness (x-kubernetes-list-type map/set) and unknown fields. All walk the object alongside its schema.
 */
import { duplicate, forbidden, invalid, required, type FieldError } from '@tendril/api-k8s';
import { findCelCheck, isTransitionRule, normalizeCelRule } from './cel-rules';
import { schemaBundle, type CelValidationRule, type CrdSchema } from './schemas';

function jsonTypeOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function childPath(base: string, field: string): string {
  return base === '' ? field : `${base}.${field}`;
}

/** The API server words a failed rule by its `reason`; FieldValueInvalid is the default. */
function celError(path: string, value: unknown, rule: CelValidationRule): FieldError {
  const at = rule.fieldPath ? `${path}${rule.fieldPath.startsWith('[') ? '' : '.'}${rule.fieldPath.replace(/^\./, '')}` : path;
  const message = rule.message ?? `failed rule: ${rule.rule}`;
  switch (rule.reason) {
    case 'FieldValueRequired':
      return required(at, message);
    case 'FieldValueForbidden':
      return forbidden(at, message);
    case 'FieldValueDuplicate':
      return { path: at, message: `Duplicate value: ${message}` };
    default:
      return invalid(at, jsonTypeOf(value), message);
  }
}

function checkCelRules(schema: CrdSchema, value: unknown, path: string, errors: FieldError[]): void {
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    if (isTransitionRule(rule.rule)) continue;
    const check = findCelCheck(rule.rule);
    if (!check) continue;
    let ok: boolean;
    try {
      ok = check(value);
    } catch {
      // The API server reports a rule that cannot be evaluated (e.g. a malformed duration) as failed.
      ok = false;
    }
    if (!ok) errors.push(celError(path, value, rule));
  }
}

function checkListUniqueness(schema: CrdSchema, list: unknown[], path: string, errors: FieldError[]): void {
  const listType = schema['x-kubernetes-list-type'];
  if (listType === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'] ?? [];
    const seen = new Set<string>();
    list.forEach((item, i) => {
      if (!item || typeof item !== 'object') return;
      const keyValue = Object.fromEntries(keys.map((k) => [k, (item as Record<string, unknown>)[k]]));
      const key = JSON.stringify(keyValue);
      if (seen.has(key)) errors.push(duplicate(`${path}[${i}]`, keyValue));
      seen.add(key);
    });
  } else if (listType === 'set') {
    const seen = new Set<string>();
    list.forEach((item, i) => {
      const key = JSON.stringify(item);
      if (seen.has(key)) errors.push(duplicate(`${path}[${i}]`, item));
      seen.add(key);
    });
  }
}

/**
 * A field the schema does not declare is most likely a typo (`backendRef` for `backendRefs`). The API server
 * would prune it silently; kubectl's default strict field validation rejects it, and so does Tendril.
 */
function checkUnknownFields(schema: CrdSchema, obj: Record<string, unknown>, path: string, errors: FieldError[]): void {
  if (!schema.properties || schema.additionalProperties || schema['x-kubernetes-preserve-unknown-fields']) return;
  for (const field of Object.keys(obj)) {
    if (!(field in schema.properties)) {
      const at = childPath(path, field);
      errors.push({ path: at, message: `unknown field "${at}"` });
    }
  }
}

/** Runs CEL rules, list uniqueness and unknown-field checks over `value` (already defaulted), depth first. */
export function runStructuralChecks(schema: CrdSchema, value: unknown, path = ''): FieldError[] {
  const errors: FieldError[] = [];
  walk(schema, value, path, errors);
  return errors;
}

function walk(schema: CrdSchema, value: unknown, path: string, errors: FieldError[]): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    checkListUniqueness(schema, value, path, errors);
    if (schema.items) value.forEach((item, i) => walk(schema.items as CrdSchema, item, `${path}[${i}]`, errors));
  } else if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    checkUnknownFields(schema, obj, path, errors);
    for (const [field, sub] of Object.entries(schema.properties ?? {})) walk(sub, obj[field], childPath(path, field), errors);
    if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
      for (const [key, item] of Object.entries(obj)) walk(schema.additionalProperties, item, `${path}[${key}]`, errors);
    }
  }
  // Children first, then the node's own rules: the order the API server reports them in.
  checkCelRules(schema, value, path, errors);
}

/** CEL rule texts in the generated schemas that Tendril does not evaluate, with where they apply. */
export function unimplementedCelRules(): { kind: string; version: string; rule: string; message?: string }[] {
  const missing = new Map<string, { kind: string; version: string; rule: string; message?: string }>();
  const visit = (schema: CrdSchema, kind: string, version: string): void => {
    for (const rule of schema['x-kubernetes-validations'] ?? []) {
      const key = `${kind}/${version}/${normalizeCelRule(rule.rule)}`;
      if (!findCelCheck(rule.rule) && !missing.has(key)) missing.set(key, { kind, version, rule: rule.rule, message: rule.message });
    }
    for (const sub of Object.values(schema.properties ?? {})) visit(sub, kind, version);
    if (schema.items) visit(schema.items, kind, version);
    if (schema.additionalProperties && typeof schema.additionalProperties === 'object') visit(schema.additionalProperties, kind, version);
  };
  for (const resource of schemaBundle.resources) visit(resource.schema, resource.kind, resource.version);
  return [...missing.values()];
}
