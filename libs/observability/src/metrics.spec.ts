import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { childCache } from './label-cache';
import { metricsRegistry } from './metrics';
import { requestIdFrom } from './request-context';
import { addScrapeSource, outboxPending } from './scrape-gauges';

describe('metrics', () => {
  it('has every series the Grafana dashboard queries', async () => {
    const dashboard = readFileSync(join(__dirname, '../../../docs/grafana-dashboard.json'), 'utf8');
    const used = new Set([...dashboard.matchAll(/hyperplane_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')));
    const known = new Set((await metricsRegistry.getMetricsAsJSON()).map((m) => m.name));
    expect([...used].filter((n) => !known.has(n))).toEqual([]);
    expect(used.size).toBeGreaterThan(15);
  });

  it('answers a scrape whose source hangs, within its bound', async () => {
    outboxPending.set(7);
    const remove = addScrapeSource(() => new Promise(() => undefined));
    try {
      // Unbounded, this would hang until Jest's timeout.
      const text = await metricsRegistry.metrics();
      expect(text).toContain('hyperplane_outbox_pending 7');
    } finally {
      remove();
    }
  });

  it('runs each scrape source once a scrape, for all its gauges', async () => {
    let runs = 0;
    const remove = addScrapeSource(async () => void runs++);
    try {
      await metricsRegistry.metrics();
      expect(runs).toBe(1);
      await metricsRegistry.metrics();
      expect(runs).toBe(2);
    } finally {
      remove();
    }
  });

  it('finds a child series once made, whatever the number of calls', () => {
    let made = 0;
    const get = childCache((a, b) => ({ a, b, n: ++made }));
    const first = get('sim', 'create');
    for (let i = 0; i < 10_000; i++) expect(get('sim', 'create')).toBe(first);
    expect(get('sim', 'start')).not.toBe(first);
    expect(made).toBe(2);
  });

  it('takes a sensible X-Request-Id and replaces anything else', () => {
    expect(requestIdFrom('abc-123_x.y:z')).toBe('abc-123_x.y:z');
    for (const bad of ['has space', 'x'.repeat(129), '', 'new\nline', undefined]) expect(requestIdFrom(bad)).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdFrom(['first', 'second'])).toBe('first');
  });
});
