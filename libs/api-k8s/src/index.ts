export * from './types';
export { groupOf, versionOf, resourceKey } from './meta';
export type { ObjectIdentity } from './meta';
export { describeValue, duplicate, forbidden, formatFieldError, invalid, required, tooLong, tooMany, unsupported } from './field-errors';
export {
  configMapKeyErrors,
  dns1035LabelErrors,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  labelValueErrors,
  portNameErrors,
  qualifiedNameErrors,
} from './names';
export { isCoreKind, validateCoreObject, validateObjectMeta } from './validation';
export type { ObjectMetaRules } from './validation';
