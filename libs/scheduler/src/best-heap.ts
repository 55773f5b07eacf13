import { Scored } from './dynamic-filters';

/** Whether `a` ranks before `b`: higher score first, equal scores by host id (as keepBest). */
function before(a: Scored, b: Scored): boolean {
  return a.score > b.score || (a.score === b.score && a.host.id < b.host.id);
}

/**
 * The fitting hosts of one class of requests, best first, as a binary heap: what lets
 * `Scheduler.placeMany` re-rank one host after a placement instead of walking the fleet again.
 */
export class BestHeap {
  private readonly items: Scored[];

  constructor(items: Scored[]) {
    this.items = items;
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  get size(): number {
    return this.items.length;
  }

  /** The best `k` hosts, best first (the heap is left as it was). */
  top(k: number): Scored[] {
    const out: Scored[] = [];
    while (out.length < k && this.items.length > 0) out.push(this.pop()!);
    for (const s of out) this.push(s);
    return out;
  }

  push(s: Scored): void {
    this.items.push(s);
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(this.items[i]!, this.items[parent]!)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): Scored | undefined {
    const first = this.items[0];
    const last = this.items.pop();
    if (this.items.length > 0 && last) {
      this.items[0] = last;
      this.down(0);
    }
    return first;
  }

  /** Replaces the best host's entry (its score changed) and restores the order. */
  replaceTop(s: Scored): void {
    this.items[0] = s;
    this.down(0);
  }

  private down(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && before(this.items[l]!, this.items[best]!)) best = l;
      if (r < n && before(this.items[r]!, this.items[best]!)) best = r;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }

  private swap(a: number, b: number): void {
    const t = this.items[a]!;
    this.items[a] = this.items[b]!;
    this.items[b] = t;
  }
}
