export * from './api-client';
export * from './stack';
export * from './sse';
export * from './processes';
export * from './fake-debootstrap';
export * from './topologies';
export * from './pipeline';
