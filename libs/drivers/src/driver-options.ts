import { Arch, OsFamily } from '@hyperplane/domain';

/** What every driver factory gets from the agent. */
export interface DriverOptions {
  /** A directory the driver owns on this host (created if missing); state, caches, logs. */
  stateDir: string;
  hostOs: OsFamily;
  hostArch: Arch;
}
