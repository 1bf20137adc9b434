export * from './node-proxy';
export * from './runtime-node-proxy';
