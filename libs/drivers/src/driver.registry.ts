import { DriverName } from '@hyperplane/domain';
import { Driver } from './driver';
import { DriverOptions } from './driver-options';
import { createHypervDriver } from './hyperv/hyperv.driver';
import { createLxcDriver } from './lxc/lxc.driver';
import { createPrlctlDriver } from './prlctl/prlctl.driver';
import { createQemuDriver } from './qemu/qemu.driver';

export type DriverFactory = (opts: DriverOptions) => Driver;

/**
 * Drivers that run on a real host, by name (cf. Incus's driver map). Adding a driver is its
 * folder plus one line here. `sim` is not listed: simulated hosts build their SimDriver with
 * options of their own.
 */
export const REAL_DRIVER_FACTORIES: Partial<Record<DriverName, DriverFactory>> = {
  lxc: createLxcDriver,
  qemu: createQemuDriver,
  prlctl: createPrlctlDriver,
  hyperv: createHypervDriver,
};
