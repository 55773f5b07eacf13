export * from './hyperv.driver';
export * from './hyperv-output';
export * from './hyperv-probe';
export * from './hyperv-shell';
export * from './hyperv-state';
