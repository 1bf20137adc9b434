export * from './http-path';
export * from './http-rules';
export * from './dns-names';
export * from './kafka-rules';
export * from './kafka-wire';
export * from './kafka-denial';
