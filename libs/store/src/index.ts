export * from './kube-object';
export * from './object-ref';
export * from './resource-view';
export * from './resource-store';
export { InvalidObjectError, assertStorable } from './validate-object';
export { deterministicUid } from './uid';
export { cloneData, deepEqual, deepFreeze } from './deep';
export { matchesLabelSelector } from './label-selector';
