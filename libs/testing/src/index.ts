export * from './echo-server';
export * from './ports';
