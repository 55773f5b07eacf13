/**
 * The child series of a metric for some label values, made once and then found through
 * nested maps: a hot path (a job, a driver call) pays a few Map lookups, not prom-client's
 * label hashing, and the label sets stay the few the code names.
 */
export function childCache<T>(make: (...values: string[]) => T): (...values: string[]) => T {
  const root = new Map<string, unknown>();
  return (...values: string[]): T => {
    let level = root;
    for (let i = 0; i < values.length - 1; i++) {
      let next = level.get(values[i]!) as Map<string, unknown> | undefined;
      if (!next) level.set(values[i]!, (next = new Map()));
      level = next;
    }
    const last = values[values.length - 1] ?? '';
    let child = level.get(last) as T | undefined;
    if (child === undefined) level.set(last, (child = make(...values)));
    return child;
  };
}
