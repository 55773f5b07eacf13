export * from './job-names';
export * from './job-options';
export * from './job-queue';
export * from './job-worker';
export * from './heartbeat.store';
export * from './redis-connection';
export * from './multi-queue-consumer';
export * from './agent-acl';
