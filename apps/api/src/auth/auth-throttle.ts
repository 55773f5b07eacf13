const WINDOW_MS = 60_000;
/** Sources remembered at once; past this the oldest windows are forgotten first. */
const MAX_SOURCES = 100_000;

/**
 * Counts failed authentications per source in fixed one-minute windows. A source over the
 * limit is refused before anything it sends is looked at, so guessing tokens costs the
 * server a map lookup, not a database query. Per process: with N API replicas a source gets
 * N times the limit, which still bounds guessing.
 */
export class AuthThrottle {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly limitPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the source may try again, or 0 when it may try now. */
  retryAfterS(source: string): number {
    if (this.limitPerMinute === 0) return 0;
    const w = this.windows.get(source);
    if (!w) return 0;
    const elapsed = this.now() - w.start;
    if (elapsed >= WINDOW_MS) {
      this.windows.delete(source);
      return 0;
    }
    return w.failures >= this.limitPerMinute ? Math.ceil((WINDOW_MS - elapsed) / 1000) : 0;
  }

  fail(source: string): void {
    if (this.limitPerMinute === 0) return;
    const now = this.now();
    const w = this.windows.get(source);
    if (w && now - w.start < WINDOW_MS) {
      w.failures++;
      return;
    }
    // Re-inserted at the end: the map's order is the windows' age, oldest first.
    this.windows.delete(source);
    if (this.windows.size >= MAX_SOURCES) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(source, { start: now, failures: 1 });
  }
}
