import type { QueryClient, QueryKey } from '@tanstack/react-query';
import type { StreamEvent } from './sse';
import type { Instance, Operation } from './types';

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
    // A new instance, or one whose host or explanation is now known: fetch it properly.
    if (!known || e.data.from === null) refetch(['instances']);
    refetch(['instance', id]);
    refetch(['overview']);
  } else if (e.type === 'operation.status' && id) {
    const patch = { status: e.data.status, progress: e.data.progress, step: e.data.step, error: e.data.error } as Partial<Operation>;
    for (const [key] of qc.getQueriesData<Operation[]>({ queryKey: ['operations'] })) {
      qc.setQueryData<Operation[]>(key, (rows) => rows?.map((o) => (o.id === id ? { ...o, ...strip(patch) } : o)));
    }
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

