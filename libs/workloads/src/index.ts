export * from './cni-invoker';
export * from './endpointslices';
export * from './netns';
export * from './netns-pod-network';
export * from './pod-names';
export * from './pod-network';
export * from './pod-network-settings';
export * from './pod-runner';
