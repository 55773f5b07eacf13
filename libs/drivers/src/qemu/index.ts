export * from './qemu.driver';
export * from './qemu-args';
export * from './qemu-console';
export * from './qemu-images';
export * from './qemu-templates';
export * from './qmp.client';
export * from './qemu-probe';
