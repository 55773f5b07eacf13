export * from './app-logger';
export * from './health-server';
export * from './label-cache';
export * from './metrics';
export * from './request-context';
export * from './scrape-gauges';
