export * from './prlctl.driver';
export * from './prlctl-cli';
export * from './prlctl-parse';
export * from './prlctl-probe';
export * from './prlctl-state';
