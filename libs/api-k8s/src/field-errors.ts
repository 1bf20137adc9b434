/**
 * Builders for FieldError messages worded like the Kubernetes API server's (k8s.io/apimachinery
 * pkg/util/validation/field), so a user sees the same text from Tendril as from `kubectl apply`.
 */
import type { FieldError } from './types';

/** Renders a value the way field.Invalid does: strings quoted, numbers and booleans bare. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'null';
  return JSON.stringify(value);
}

export function required(path: string, detail?: string): FieldError {
  return { path, message: detail ? `Required value: ${detail}` : 'Required value' };
}

export function invalid(path: string, value: unknown, detail: string): FieldError {
  return { path, message: `Invalid value: ${describeValue(value)}: ${detail}` };
}

export function unsupported(path: string, value: unknown, supported: readonly unknown[]): FieldError {
  return {
    path,
    message: `Unsupported value: ${describeValue(value)}: supported values: ${supported.map(describeValue).join(', ')}`,
  };
}

export function duplicate(path: string, value: unknown): FieldError {
  return { path, message: `Duplicate value: ${describeValue(value)}` };
}

export function forbidden(path: string, detail: string): FieldError {
  return { path, message: `Forbidden: ${detail}` };
}

export function tooLong(path: string, max: number): FieldError {
  return { path, message: `Too long: may not be more than ${max} bytes` };
}

export function tooMany(path: string, actual: number, max: number): FieldError {
  return { path, message: `Too many: ${actual}: must have at most ${max} items` };
}

/** "spec.ports" + 0 → "spec.ports[0]"; "data" + "tls.crt" → "data[tls.crt]". */
export function index(path: string, i: number | string): string {
  return `${path}[${i}]`;
}

/** `path: message`, the one-line form kubectl prints. */
export function formatFieldError(error: FieldError): string {
  return error.path ? `${error.path}: ${error.message}` : error.message;
}
