export * from './generated/types';
export { validateGatewayResource, validateResource, isGatewayApiKind } from './validate';
export type { CoreResource, ValidationResult } from './validate';
export { findCrdSchema, schemaBundle, servedVersions } from './schemas';
export type { CelValidationRule, CrdSchema, CrdVersionSchema, SchemaBundle } from './schemas';
export { unimplementedCelRules } from './structural-checks';
export { parseDuration } from './cel-rules';
export type { FieldError } from '@tendril/api-k8s';
