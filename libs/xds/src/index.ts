export * from './ads-client';
export * from './ads-server';
export * from './logger';
export * from './node-status';
export * from './resource-encoder';
export * from './snapshot';
export * from './snapshot-cache';
export * from './type-urls';
