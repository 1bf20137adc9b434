export * from './echo-server';
