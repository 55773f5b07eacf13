import { ARCHES, DRIVER_NAMES, OS_FAMILIES, OsFamily, TECHNOLOGIES, Technology } from '@hyperplane/domain';
import { HostState } from './host-state';
import { ClassSpec, skipVerdict } from './static-filters';

const PAIRS = DRIVER_NAMES.length * ARCHES.length;

type Shelf = `${OsFamily}|${Technology}`;

/**
 * Hosts by (os, technology, guest arch, driver), so that building a class only touches hosts
 * that could possibly serve it. The hosts it skips are still counted, under the filter that
 * rejects them first (os, driver, template-drivers or arch), from per-(os, technology) tallies
 * of the hosts' driver/arch masks — the same masks `evaluateStatic` starts with.
 */
export class HostIndex {
  /** (os, technology) → one bucket per (driver, arch) pair bit. */
  private readonly buckets = new Map<Shelf, Set<HostState>[]>();
  /** (os, technology) → mask → how many hosts have it. */
  private readonly maskCounts = new Map<Shelf, Map<number, number>>();

  constructor() {
    for (const os of OS_FAMILIES) {
      for (const technology of TECHNOLOGIES) {
        this.buckets.set(`${os}|${technology}`, Array.from({ length: PAIRS }, () => new Set<HostState>()));
        this.maskCounts.set(`${os}|${technology}`, new Map());
      }
    }
  }

  add(host: HostState): void {
    this.update(host, +1);
  }

  remove(host: HostState): void {
    this.update(host, -1);
  }

  /** Adds to `counts` the hosts that `candidates` will not visit, each under its first failing filter. */
  countSkipped(spec: ClassSpec, counts: Int32Array): void {
    for (const os of OS_FAMILIES) {
      for (const [mask, count] of this.maskCounts.get(`${os}|${spec.technology}`) ?? []) {
        const code = skipVerdict(spec, os, mask);
        if (code >= 0) counts[code]! += count;
      }
    }
  }

  /** Every host of an allowed OS with an allowed driver for a wanted arch; once per bucket it is in. */
  candidates(spec: ClassSpec, visit: (host: HostState) => void): void {
    const pairs = spec.allowedPairs & spec.archPairs;
    for (const os of spec.allowedOs) {
      const shelf = this.buckets.get(`${os}|${spec.technology}`);
      if (!shelf) continue;
      for (let bit = 0; bit < PAIRS; bit++) {
        if ((pairs & (1 << bit)) === 0) continue;
        for (const host of shelf[bit] ?? []) visit(host);
      }
    }
  }

  private update(host: HostState, delta: 1 | -1): void {
    const os = host.snapshot.os;
    for (const technology of TECHNOLOGIES) {
      const shelf: Shelf = `${os}|${technology}`;
      const mask = host.masks[technology];
      const tally = this.maskCounts.get(shelf);
      if (tally) {
        const next = (tally.get(mask) ?? 0) + delta;
        if (next === 0) tally.delete(mask);
        else tally.set(mask, next);
      }
      const buckets = this.buckets.get(shelf);
      for (let bit = 0; bit < PAIRS; bit++) {
        if ((mask & (1 << bit)) === 0) continue;
        if (delta > 0) buckets?.[bit]?.add(host);
        else buckets?.[bit]?.delete(host);
      }
    }
  }
}
