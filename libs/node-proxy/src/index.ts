export * from './node-proxy';
