export * from './api.bootstrap';
export * from './api.module';
export * from './auth/token.service';
export * from './integrations/request-queue.consumer';
