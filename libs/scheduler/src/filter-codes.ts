/**
 * Every filter, in the order the scheduler applies them. A rejected host is counted under the
 * FIRST filter that rejects it; when a host has several drivers that could serve, it is counted
 * under the filter that rejected its last surviving driver (the furthest any of them got).
 *
 * 1. Request-level (reject every host at once): `isolation` (an explicit container the
 *    isolation needs rule out), `template-technology`, `template-arch`.
 * 2. What a host is, which never changes between heartbeats: `pinned`, `os`, `driver`,
 *    `template-drivers`, `arch`, `guest`, `kernel`, `windows-build`, `capabilities`.
 * 3. Its state and place: `status`, `zone`, `labels`.
 * 4. Hosts the request names as failed before: `excluded` (per request, never cached).
 * 5. What changes with every placement: `anti-affinity`, `affinity`, `group-max`,
 *    `macos-guests` (Apple's licence: two macOS guests per Mac), `density`, `vcpus`, `memory`,
 *    `disk`.
 *
 * Groups 1–3 are the static filters: their outcome for a class of alike requests is cached
 * and only re-evaluated for a host that `updateHost()` changes. Groups 4 and 5 run on every decision.
 * The codes are stable: they are stored with unschedulable instances.
 */
export const FILTER_ORDER = [
  'isolation',
  'template-technology',
  'template-arch',
  'pinned',
  'os',
  'driver',
  'template-drivers',
  'arch',
  'guest',
  'kernel',
  'windows-build',
  'capabilities',
  'status',
  'zone',
  'labels',
  'excluded',
  'anti-affinity',
  'affinity',
  'group-max',
  'macos-guests',
  'density',
  'vcpus',
  'memory',
  'disk',
] as const;
export type FilterCode = (typeof FILTER_ORDER)[number];

/** Position of each filter in FILTER_ORDER; hot loops count rejections in an Int32Array by it. */
export const FILTER = Object.freeze(
  Object.fromEntries(FILTER_ORDER.map((code, i) => [code, i])) as Record<FilterCode, number>,
);

export const FILTER_COUNT = FILTER_ORDER.length;

/** Filters that depend only on facts `commit()` never changes. */
export function isStaticFilter(code: FilterCode): boolean {
  return FILTER[code] <= FILTER.labels;
}
