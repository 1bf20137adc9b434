export { translate } from './translate';
export { TranslationMemo } from './translation-memo';
export { SUPPORTED_FEATURES } from './supported-features';
export type { TranslateInput, TranslateOptions, TranslateResult } from './translate';
export type { StatusUpdate } from './status';
export type * from './ir';
export type { EnvoyResources } from './envoy-types';
export { INVALID_BACKEND_CLUSTER } from './envoy-render';
export { PROXYLESS_UNAVAILABLE_CLUSTER } from './proxyless';
