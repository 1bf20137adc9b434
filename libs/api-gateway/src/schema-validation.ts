/**
 * OpenAPI validation and defaulting of Gateway API objects against their CRD schema, with ajv.
 * Errors are reworded into the API server's messages and field paths (spec.rules[0].matches[0].path.value).
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { describeValue, invalid, required, tooLong, tooMany, unsupported, type FieldError } from '@tendril/api-k8s';
import type { CrdSchema, CrdVersionSchema } from './schemas';

/** Kubernetes schema extensions that only annotate; CEL rules and list types are checked in structural-checks.ts. */
const annotationKeywords = [
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
];

function createAjv(): Ajv {
  // strictTypes is off because the Gateway address schema puts `format` in anyOf branches that inherit
  // `type: string` from their parent, which Kubernetes allows and ajv's strictTypes does not.
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, strictTypes: false });
  addFormats(ajv);
  for (const keyword of annotationKeywords) ajv.addKeyword({ keyword });
  ajv.addKeyword({
    keyword: 'x-kubernetes-int-or-string',
    schemaType: 'boolean',
    error: { message: 'must be of type int-or-string' },
    validate: (enabled: boolean, data: unknown) => !enabled || typeof data === 'string' || Number.isInteger(data),
  });
  return ajv;
}

const ajv = createAjv();
const compiled = new Map<string, ValidateFunction>();

/**
 * The schema ajv compiles: as in the CRD, except that status carries no default. The API server defaults
 * status on create ("Waiting for controller"); resources read from files should keep the status they have.
 */
function compileFor(resource: CrdVersionSchema): ValidateFunction {
  const key = `${resource.group}/${resource.version}/${resource.kind}`;
  let validate = compiled.get(key);
  if (!validate) {
    const schema: CrdSchema = structuredClone(resource.schema);
    if (schema.properties?.status) delete schema.properties.status.default;
    validate = ajv.compile(schema);
    compiled.set(key, validate);
  }
  return validate;
}

/**
 * Validates `obj` in place against its CRD schema, filling in the schema's defaults.
 * Returns the schema errors in Kubernetes wording.
 */
export function validateAgainstSchema(resource: CrdVersionSchema, obj: Record<string, unknown>): FieldError[] {
  const validate = compileFor(resource);
  if (validate(obj)) return [];
  const errors = (validate.errors ?? []).filter((e) => !isInsideAlternative(e)).map((e) => toFieldError(e, obj));
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Most failures inside one branch of a oneOf/anyOf are noise next to the oneOf/anyOf error itself. Format
 * failures are kept: they say what the value should have been ("must be of type ipv4"), as the API server does.
 */
function isInsideAlternative(error: ErrorObject): boolean {
  return error.keyword !== 'format' && /\/(oneOf|anyOf)\/\d+\//.test(error.schemaPath);
}

/** "/spec/rules/0/matches/0" → "spec.rules[0].matches[0]", using the data to tell list indexes from map keys. */
export function pointerToFieldPath(pointer: string, root: unknown): string {
  if (pointer === '') return '';
  let path = '';
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) path += path === '' ? segment : `.${segment}`;
    else path += `[${segment}]`;
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[segment] : undefined;
  }
  return path;
}

function joinPath(base: string, field: string): string {
  return base === '' ? field : `${base}.${field}`;
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function toFieldError(error: ErrorObject, root: unknown): FieldError {
  const path = pointerToFieldPath(error.instancePath, root);
  const data = error.data;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return required(joinPath(path, String(params.missingProperty)));
    case 'enum':
      return unsupported(path, data, params.allowedValues as unknown[]);
    case 'pattern':
      return invalid(path, data, `${path} in body should match '${String(params.pattern)}'`);
    case 'type':
      return invalid(path, jsonTypeOf(data), `${path} in body must be of type ${String(params.type)}: ${JSON.stringify(jsonTypeOf(data))}`);
    case 'x-kubernetes-int-or-string':
      return invalid(path, jsonTypeOf(data), `${path} in body must be of type integer or string: ${JSON.stringify(jsonTypeOf(data))}`);
    case 'format':
      return invalid(path, data, `${path} in body must be of type ${String(params.format)}: ${describeValue(data)}`);
    case 'maxLength':
      return tooLong(path, Number(params.limit));
    case 'minLength':
      return invalid(path, data, `${path} in body should be at least ${String(params.limit)} chars long`);
    case 'maxItems':
      return tooMany(path, Array.isArray(data) ? data.length : 0, Number(params.limit));
    case 'minItems':
      return invalid(path, Array.isArray(data) ? data.length : data, `${path} in body should have at least ${String(params.limit)} items`);
    case 'maxProperties':
      return tooMany(path, data && typeof data === 'object' ? Object.keys(data).length : 0, Number(params.limit));
    case 'minProperties':
      return invalid(path, data, `${path} in body should have at least ${String(params.limit)} properties`);
    case 'maximum':
      return invalid(path, data, `${path} in body should be less than or equal to ${String(params.limit)}`);
    case 'minimum':
      return invalid(path, data, `${path} in body should be greater than or equal to ${String(params.limit)}`);
    case 'oneOf':
      return invalid(path, data, `${path} in body must validate one and only one schema (oneOf)`);
    case 'anyOf':
      return invalid(path, data, `${path} in body must validate at least one schema (anyOf)`);
    default:
      return invalid(path, data, `${path} in body ${error.message ?? `fails ${error.keyword}`}`);
  }
}
