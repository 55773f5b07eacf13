export * from './driver';
export * from './driver.exception';
export * from './driver-options';
export * from './exec/run-command';
export * from './validate';
export * from './sim/sim.driver';
export * from './sim/sim-profile';
export * from './driver.registry';
export * from './lxc/lxc.driver';
export { BUILD_SPAN, LxcTemplateCache } from './lxc/lxc-template-cache';
export type { TemplateRecipe } from './lxc/lxc-template-cache';
export * from './lxc/debootstrap-progress';
export * from './qemu';
export * from './prlctl';
export * from './hyperv';

export * from './wincontainer';
export * from './migration';
export * from './transfer/archive-transfer';
