export * from './controller.bootstrap';
export * from './controller.module';
export * from './operations/operation.runner';
export * from './placement/placement.service';
export * from './results/result.applier';
