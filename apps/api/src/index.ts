export * from './api.bootstrap';
export * from './api.module';
