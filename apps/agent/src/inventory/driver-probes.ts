import { join } from 'node:path';
import { DriverName, DriverProbe, normalizeProbe } from '@hyperplane/domain';
import { Driver, DriverFactory, DriverOptions } from '@hyperplane/drivers';

/** The API keeps at most this much of a probe's error (HostInventoryDto). */
const MAX_ERROR = 2000;
const PROBE_TIMEOUT_MS = 60_000;

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e)) || 'unknown error';

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Builds and probes every driver this agent knows. A driver that cannot be built here, whose
 * probe throws, hangs or says it is unusable, is reported with the reason (as Incus keeps a
 * driver's `Info()` error), so an admin sees on the host why it offers nothing. One driver's
 * failure never stops the agent.
 */
export async function probeDrivers(
  factories: Partial<Record<DriverName, DriverFactory>>,
  base: Omit<DriverOptions, 'stateDir'> & { dataDir: string },
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<{ drivers: Map<string, Driver>; probes: DriverProbe[] }> {
  const drivers = new Map<string, Driver>();
  const probes: DriverProbe[] = [];
  for (const [name, factory] of Object.entries(factories) as [DriverName, DriverFactory][]) {
    let probe: DriverProbe;
    let driver: Driver | undefined;
    try {
      driver = factory({ stateDir: join(base.dataDir, 'drivers', name), hostOs: base.hostOs, hostArch: base.hostArch });
      probe = normalizeProbe(await withTimeout(driver.probe(), timeoutMs, `the ${name} probe`));
    } catch (e) {
      probe = { name, installed: false, error: reason(e), offers: [] };
    }
    if (!probe.installed && !probe.error) probe.error = `${name} is not usable here (its probe gave no reason)`;
    if (probe.error && probe.error.length > MAX_ERROR) probe.error = `${probe.error.slice(0, MAX_ERROR - 1)}…`;
    probes.push(probe);
    if (probe.installed && driver) drivers.set(name, driver);
  }
  return { drivers, probes };
}
