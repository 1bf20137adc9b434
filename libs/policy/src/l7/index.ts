export * from './http-path';
export * from './http-rules';
