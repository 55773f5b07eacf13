export * from './wincontainer.driver';
export * from './docker-cli';
export * from './wincontainer-parse';
export * from './wincontainer-probe';
