export * from './job-names';
export * from './job-options';
export * from './job-queue';
export * from './job-worker';
export * from './job-metrics';
export * from './heartbeat.store';
export * from './redis-connection';
export * from './multi-queue-consumer';
