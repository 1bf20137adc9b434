export * from './endpointslices';
export * from './pod-names';
export * from './pod-runner';
