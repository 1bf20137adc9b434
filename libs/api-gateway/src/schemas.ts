/**
 * The generated CRD schemas (tools/generate-gateway-api.ts), looked up by apiVersion and kind.
 */
import bundleJson from './generated/schemas.json';

/** One CEL rule from a CRD's x-kubernetes-validations. */
export interface CelValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
}

/** A structural OpenAPI v3 schema as found in a CRD (descriptions removed). */
export interface CrdSchema {
  type?: string;
  properties?: Record<string, CrdSchema>;
  items?: CrdSchema;
  additionalProperties?: CrdSchema | boolean;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  'x-kubernetes-validations'?: CelValidationRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  [keyword: string]: unknown;
}

export interface CrdVersionSchema {
  group: string;
  version: string;
  kind: string;
  plural: string;
  scope: 'Namespaced' | 'Cluster';
  /** Whether this is the version the API server stores. */
  storage: boolean;
  schema: CrdSchema;
}

export interface SchemaBundle {
  /** The gateway.networking.k8s.io/bundle-version annotation of the CRDs the schemas came from. */
  bundleVersion: string;
  channel: string;
  resources: CrdVersionSchema[];
}

export const schemaBundle: SchemaBundle = bundleJson as unknown as SchemaBundle;

const byApiVersionKind = new Map(schemaBundle.resources.map((r) => [`${r.group}/${r.version}/${r.kind}`, r]));

/** The schema for an apiVersion ("gateway.networking.k8s.io/v1") and kind, if that version is served. */
export function findCrdSchema(apiVersion: string, kind: string): CrdVersionSchema | undefined {
  return byApiVersionKind.get(`${apiVersion}/${kind}`);
}

/** Whether any served version of the CRDs defines this group and kind. */
export function isGatewayApiGroupKind(group: string, kind: string): boolean {
  return schemaBundle.resources.some((r) => r.group === group && r.kind === kind);
}

/** Served versions of a group/kind, e.g. ["v1", "v1beta1"] for HTTPRoute. */
export function servedVersions(group: string, kind: string): string[] {
  return schemaBundle.resources.filter((r) => r.group === group && r.kind === kind).map((r) => r.version);
}
