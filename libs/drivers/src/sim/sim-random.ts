/** A small seeded PRNG (mulberry32): the same seed gives the same durations and faults. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function hashSeed(...parts: (string | number)[]): number {
  let h = 2166136261;
  for (const ch of parts.join('|')) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** A duration distribution given by its median and 99th percentile (log-normal). */
export interface Distribution {
  medianMs: number;
  p99Ms: number;
}

const Z99 = 2.326;

export function sampleLogNormal(dist: Distribution, random: () => number): number {
  const mu = Math.log(Math.max(dist.medianMs, 0.001));
  const sigma = Math.max(0, (Math.log(Math.max(dist.p99Ms, dist.medianMs, 0.001)) - mu) / Z99);
  // Box–Muller; 1 - u keeps log() away from zero.
  const u = 1 - random();
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.exp(mu + sigma * z);
}
