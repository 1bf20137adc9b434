import type { KubeObject } from './kube-object';

/** A write the store refuses: the object lacks what every Kubernetes object must have. */
export class InvalidObjectError extends Error {
  constructor(
    /** Dotted path of the offending field, e.g. "metadata.name". */
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'InvalidObjectError';
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkSegment(value: unknown, path: string, what: string): void {
  if (typeof value !== 'string' || value === '') throw new InvalidObjectError(path, `${what} is required and must be a non-empty string`);
  if (value.includes('/')) throw new InvalidObjectError(path, `${what} must not contain "/"`);
}

function checkStringMap(value: unknown, path: string): void {
  if (value === undefined) return;
  if (!isRecord(value)) throw new InvalidObjectError(path, 'must be a map of string to string');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new InvalidObjectError(`${path}.${k}`, `must be a string (got ${v === null ? 'null' : typeof v})`);
  }
}

/**
 * Checks the fields the store keys and indexes by. Everything else is the business of the
 * source's validator or the translator.
 */
export function assertStorable(obj: unknown): asserts obj is KubeObject {
  if (!isRecord(obj)) throw new InvalidObjectError('', 'object must be a mapping');
  if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '') {
    throw new InvalidObjectError('apiVersion', 'apiVersion is required and must be a non-empty string');
  }
  checkSegment(obj.kind, 'kind', 'kind');
  if ((obj.kind as string).includes('.')) throw new InvalidObjectError('kind', 'kind must not contain "."');
  if (!isRecord(obj.metadata)) throw new InvalidObjectError('metadata', 'metadata is required and must be a mapping');
  checkSegment(obj.metadata.name, 'metadata.name', 'name');
  if (obj.metadata.namespace !== undefined) checkSegment(obj.metadata.namespace, 'metadata.namespace', 'namespace');
  checkStringMap(obj.metadata.labels, 'metadata.labels');
  checkStringMap(obj.metadata.annotations, 'metadata.annotations');
  if (obj.metadata.generation !== undefined && !(Number.isInteger(obj.metadata.generation) && (obj.metadata.generation as number) >= 1)) {
    throw new InvalidObjectError('metadata.generation', 'must be a positive integer');
  }
}
