/**
 * Validation of Kubernetes-shaped input, the way the API server would accept or reject it on create:
 * Gateway API kinds against their CRD schema (with defaulting) and CEL rules, core kinds with the
 * hand-written checks from @tendril/api-k8s.
 */
import {
  groupOf,
  invalid,
  isCoreKind,
  required,
  validateCoreObject,
  validateObjectMeta,
  type ConfigMap,
  type Deployment,
  type EndpointSlice,
  type FieldError,
  type Namespace,
  type Pod,
  type Secret,
  type Service,
} from '@tendril/api-k8s';
import type { GatewayApiResource } from './generated/types';
import { validateAgainstSchema } from './schema-validation';
import { findCrdSchema, isGatewayApiGroupKind } from './schemas';
import { runStructuralChecks } from './structural-checks';

export type CoreResource = Namespace | Service | EndpointSlice | Secret | ConfigMap | Pod | Deployment;

/**
 * The outcome of validating one object. When valid, `resource` is the object with the CRD's defaults
 * filled in (a copy: the input is never modified) and can be trusted to have its kind's type.
 */
export type ValidationResult<T> = { valid: true; errors: []; resource: T } | { valid: false; errors: FieldError[]; resource: unknown };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function result<T>(errors: FieldError[], resource: unknown): ValidationResult<T> {
  return errors.length === 0 ? { valid: true, errors: [], resource: resource as T } : { valid: false, errors, resource };
}

function notRegistered(kind: string, apiVersion: string): FieldError {
  return { path: 'kind', message: `no kind "${kind}" is registered for version "${apiVersion}"` };
}

/** Reads apiVersion and kind, or explains which one is missing. */
function typeMeta(obj: unknown): { apiVersion: string; kind: string } | FieldError[] {
  if (!isObject(obj)) return [invalid('', obj, 'must be a Kubernetes object (a mapping with apiVersion, kind and metadata)')];
  const errors: FieldError[] = [];
  if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '') errors.push(required('apiVersion'));
  if (typeof obj.kind !== 'string' || obj.kind === '') errors.push(required('kind'));
  return errors.length > 0 ? errors : { apiVersion: obj.apiVersion as string, kind: obj.kind as string };
}

/**
 * Validates a Gateway API object (any served version of any kind in the bundled CRDs): metadata,
 * the CRD's OpenAPI schema with its defaults applied, list uniqueness and the CEL rules.
 */
export function validateGatewayResource(obj: unknown): ValidationResult<GatewayApiResource> {
  const meta = typeMeta(obj);
  if (Array.isArray(meta)) return result(meta, obj);
  const crd = findCrdSchema(meta.apiVersion, meta.kind);
  if (!crd) return result([notRegistered(meta.kind, meta.apiVersion)], obj);
  let resource: Record<string, unknown>;
  try {
    resource = structuredClone(obj) as Record<string, unknown>;
  } catch {
    return result([invalid('', meta.kind, 'must be plain data (as parsed from YAML or JSON)')], obj);
  }
  const errors = [
    ...validateObjectMeta(resource.metadata, { namespaced: crd.scope === 'Namespaced' }),
    ...validateAgainstSchema(crd, resource),
  ];
  errors.push(...runStructuralChecks(crd.schema, resource));
  return result(errors, resource);
}

/** Whether validateResource treats this apiVersion/kind as a Gateway API kind. */
export function isGatewayApiKind(apiVersion: string, kind: string): boolean {
  return isGatewayApiGroupKind(groupOf(apiVersion), kind);
}

/**
 * Validates any object Tendril reads: Gateway API kinds against their CRDs, the core kinds
 * (Namespace, Service, EndpointSlice, Secret, ConfigMap, Pod, Deployment) with api-k8s's checks.
 * Anything else is rejected with the API server's "no kind ... is registered" error.
 */
export function validateResource(obj: unknown): ValidationResult<GatewayApiResource | CoreResource> {
  const meta = typeMeta(obj);
  if (Array.isArray(meta)) return result(meta, obj);
  if (isGatewayApiKind(meta.apiVersion, meta.kind)) return validateGatewayResource(obj);
  if (isCoreKind(meta.apiVersion, meta.kind)) return result(validateCoreObject(obj), obj);
  return result([notRegistered(meta.kind, meta.apiVersion)], obj);
}
