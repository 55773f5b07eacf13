export * from './app-config';
export * from './redis-url';
