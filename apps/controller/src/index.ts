export * from './controller.bootstrap';
export * from './controller.module';
export * from './operations/operation.runner';
export * from './placement/placement.service';
export * from './hosts/heartbeat.watcher';
export * from './reconcile/reconciler';
export * from './observability/controller-listener';
export * from './observability/controller-metrics';
