export * from './driver';
export * from './driver.exception';
export * from './driver-options';
export * from './exec/run-command';
export * from './validate';
export * from './sim/sim.driver';
export * from './sim/sim-profile';
export * from './driver.registry';
