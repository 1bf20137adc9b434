import { describeValue, groupOf, invalid, required, type FieldError, type KubeObject } from '@tendril/api-k8s';
import { assertStorable, describeRef, InvalidObjectError, keyOf, type ObjectRef, type ResourceKey } from '@tendril/store';
import { isClusterScoped } from './cluster-scope';

/**
 * What a validator returns: the problems found, or an outcome that also carries the object as the
 * validator normalized it (e.g. with CRD defaults applied, as validateResource does). A valid
 * outcome's `resource` replaces the object, so a validator that defaults runs once per object
 * instead of once to check and once more to default.
 */
export type ValidatorOutcome = FieldError[] | { errors: FieldError[]; resource?: unknown };

/** Extra rules for objects read from files, beyond the structure every Kubernetes object has. */
export type ObjectValidator = (obj: KubeObject) => ValidatorOutcome;

export interface ObjectCheckOptions {
  validate?: ObjectValidator;
  /** Extra cluster-scoped kinds as "group/Kind", on top of CLUSTER_SCOPED_KINDS. */
  clusterScopedKinds?: ReadonlySet<string>;
}

/** The identity a document claims, known as soon as apiVersion, kind and metadata.name are readable. */
export interface ClaimedIdentity {
  key: ResourceKey;
  ref: ObjectRef;
  /** "HTTPRoute default/foo" */
  description: string;
}

export type CheckedObject =
  | { ok: true; object: KubeObject; identity: ClaimedIdentity }
  | { ok: false; errors: FieldError[]; identity?: ClaimedIdentity };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

function checkStringMap(value: unknown, path: string, errors: FieldError[]): void {
  if (value === undefined || value === null) return;
  if (!isRecord(value)) {
    errors.push(invalid(path, value, 'must be a map of string keys to string values'));
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    // A common slip: `version: 1` is a number in YAML; Kubernetes wants "1".
    if (typeof v !== 'string') errors.push(invalid(`${path}.${k}`, v, `must be a string (quote it: "${describeValue(v).replace(/"/g, '')}")`));
  }
}

/** Where the object lives once defaulted: no namespace for cluster-scoped kinds, "default" when unset. */
function defaultedNamespace(apiVersion: string, kind: string, given: unknown, options: ObjectCheckOptions): string | undefined {
  if (isClusterScoped(apiVersion, kind, options.clusterScopedKinds)) return undefined;
  return nonEmptyString(given) ? given : 'default';
}

/**
 * Checks one object read from a file and applies the API server's namespace defaulting:
 * namespaced kinds without metadata.namespace get "default", cluster-scoped kinds lose any
 * namespace they were given (the API server ignores it too). Then runs the injected validator.
 * Never throws: every problem is a FieldError.
 */
export function checkObject(raw: unknown, options: ObjectCheckOptions = {}): CheckedObject {
  if (!isRecord(raw)) {
    return { ok: false, errors: [invalid('', raw, `a document must be a mapping with apiVersion, kind and metadata, not ${typeName(raw)}`)] };
  }
  const errors: FieldError[] = [];
  const { apiVersion, kind, metadata } = raw;
  if (!nonEmptyString(apiVersion)) errors.push(apiVersion === undefined ? required('apiVersion') : invalid('apiVersion', apiVersion, 'must be a non-empty string'));
  if (!nonEmptyString(kind)) errors.push(kind === undefined ? required('kind') : invalid('kind', kind, 'must be a non-empty string'));
  let name: unknown;
  let namespace: unknown;
  if (metadata === undefined || metadata === null) {
    errors.push(required('metadata'));
  } else if (!isRecord(metadata)) {
    errors.push(invalid('metadata', metadata, `must be a mapping, not ${typeName(metadata)}`));
  } else {
    ({ name, namespace } = metadata);
    if (!nonEmptyString(name)) errors.push(name === undefined ? required('metadata.name') : invalid('metadata.name', name, 'must be a non-empty string'));
    if (namespace !== undefined && namespace !== null && !nonEmptyString(namespace)) {
      errors.push(invalid('metadata.namespace', namespace, 'must be a non-empty string'));
    }
    checkStringMap(metadata.labels, 'metadata.labels', errors);
    checkStringMap(metadata.annotations, 'metadata.annotations', errors);
  }

  let identity: ClaimedIdentity | undefined;
  if (nonEmptyString(apiVersion) && nonEmptyString(kind) && nonEmptyString(name)) {
    const ns = defaultedNamespace(apiVersion, kind, namespace, options);
    const ref: ObjectRef = ns ? { group: groupOf(apiVersion), kind, namespace: ns, name } : { group: groupOf(apiVersion), kind, name };
    identity = { key: keyOf(ref), ref, description: describeRef(ref) };
  }
  if (errors.length > 0 || !identity || !isRecord(metadata)) return { ok: false, errors, identity };

  const { namespace: _given, ...otherMetadata } = metadata;
  const checked = {
    ...raw,
    metadata: identity.ref.namespace ? { ...otherMetadata, namespace: identity.ref.namespace } : otherMetadata,
  } as unknown as KubeObject;

  const validation = runValidator(checked, options.validate);
  if (validation.errors.length > 0) return { ok: false, errors: validation.errors, identity };
  const object = validation.object;
  try {
    assertStorable(object);
  } catch (err) {
    if (err instanceof InvalidObjectError) return { ok: false, errors: [{ path: err.path, message: err.reason }], identity };
    throw err;
  }
  return { ok: true, object, identity };
}

/** The validator's errors, and the object to keep: the validator's normalized one when it gave one. */
function runValidator(object: KubeObject, validate: ObjectValidator | undefined): { errors: FieldError[]; object: KubeObject } {
  if (!validate) return { errors: [], object };
  let result: ValidatorOutcome;
  try {
    result = validate(object);
  } catch (err) {
    return { errors: [{ path: '', message: `validator failed: ${err instanceof Error ? err.message : String(err)}` }], object };
  }
  if (Array.isArray(result)) return { errors: result, object };
  if (isRecord(result) && Array.isArray(result.errors)) {
    if (result.errors.length > 0) return { errors: result.errors, object };
    if (result.resource === undefined) return { errors: [], object };
    if (isRecord(result.resource)) return { errors: [], object: result.resource as unknown as KubeObject };
    return { errors: [{ path: '', message: 'validator returned a resource that is not an object' }], object };
  }
  return { errors: [{ path: '', message: 'validator did not return a list of errors' }], object };
}
