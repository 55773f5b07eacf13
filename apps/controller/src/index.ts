export * from './controller.bootstrap';
export * from './controller.module';
