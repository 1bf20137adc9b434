export * from './ip-prefix';
export * from './labels';
export * from './label-filter';
export * from './reserved';
export * from './workload-labels';
export * from './allocator';
export * from './ipcache';
