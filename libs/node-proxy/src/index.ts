export * from './node-proxy';
export * from './gc-stats';
export * from './runtime-node-proxy';
