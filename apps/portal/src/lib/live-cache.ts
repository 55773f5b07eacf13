import type { QueryClient, QueryKey } from '@tanstack/react-query';
import type { StreamEvent } from './sse';
import type { Instance, Operation, Page } from './types';

/** Applies one event to the query cache: states change in place; new rows come with a refetch. */
export function applyEvent(qc: QueryClient, e: StreamEvent, refetch: (key: QueryKey) => void): void {
  const id = e.data.subjectId;
  if (e.type === 'instance.state' && id) {
    const state = String(e.data.state);
    let known = false;
    qc.setQueryData<Instance[]>(['instances'], (rows) => {
      if (!rows) return rows;
      const at = rows.findIndex((r) => r.id === id);
      if (at < 0) return rows;
      known = true;
      const next = rows.slice();
      next[at] = { ...rows[at]!, state, stateReason: (e.data.reason as string | null) ?? null };
      return next;
    });
    qc.setQueryData<Instance>(['instance', id], (i) => (i ? { ...i, state } : i));
    // A new instance, or one whose host or explanation is now known (or changed, after a
    // migration): fetch it properly, and the hosts' allocations with it.
    const moved = e.data.from === 'migrating';
    if (!known || e.data.from === null || moved) refetch(['instances']);
    if (moved) {
      refetch(['hosts']);
      refetch(['host']);
    }
    // A host page's own list (its instances' states, and which are still there).
    refetch(['instances', 'host']);
    refetch(['instance', id]);
    refetch(['overview']);
  } else if (e.type === 'operation.status' && id) {
    const patch = { status: e.data.status, progress: e.data.progress, step: e.data.step, error: e.data.error } as Partial<Operation>;
    // Lists under ['operations'] are arrays or pages ({ items }); other shapes are left to the refetch.
    const patchRow = (o: Operation): Operation => (o.id === id ? { ...o, ...strip(patch) } : o);
    for (const [key, data] of qc.getQueriesData<unknown>({ queryKey: ['operations'] })) {
      if (Array.isArray(data)) qc.setQueryData<Operation[]>(key, (rows) => rows?.map(patchRow));
      else if (isPage(data)) qc.setQueryData<Page<Operation>>(key, (page) => (page ? { ...page, items: page.items.map(patchRow) } : page));
    }
    qc.setQueryData<Operation>(['operation', id], (o) => (o ? patchRow(o) : o));
    refetch(['operations']);
    refetch(['operation', id]);
    refetch(['overview']);
    // Snapshots, clones and resizes change what the instance's page shows.
    const instanceId = e.data.instanceId;
    if (typeof instanceId === 'string') {
      refetch(['snapshots', instanceId]);
      refetch(['instance', instanceId]);
    }
  } else if (e.type.startsWith('host.')) {
    refetch(['hosts']);
    if (id) refetch(['host', id]);
    refetch(['overview']);
  }
}

function strip<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function isPage(v: unknown): v is Page<Operation> {
  return !!v && typeof v === 'object' && Array.isArray((v as { items?: unknown }).items);
}
