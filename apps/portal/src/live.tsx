import { useEffect, useState } from 'react';
import { useQueryClient, type QueryClient, type QueryKey } from '@tanstack/react-query';
import { SseParser, type StreamEvent } from './lib/sse';
import type { Instance, Operation } from './lib/types';

/** Refetches a query key at most every `ms`, however many events ask. */
function debouncer(qc: QueryClient, ms: number): (key: QueryKey) => void {
  const pending = new Map<string, QueryKey>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  return (key) => {
    pending.set(JSON.stringify(key), key);
    timer ??= setTimeout(() => {
      timer = null;
      const keys = [...pending.values()];
      pending.clear();
      for (const k of keys) void qc.invalidateQueries({ queryKey: k });
    }, ms);
  };
}

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
  } else if (e.type.startsWith('host.')) {
    refetch(['hosts']);
    if (id) refetch(['host', id]);
    refetch(['overview']);
  }
}

function strip<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type LiveStatus = 'connecting' | 'live' | 'offline';

/**
 * Follows /v1/events with the session's token in the Authorization header (fetch, not
 * EventSource, which cannot send one) and resumes with Last-Event-ID after a break.
 */
export function useLiveEvents(token: string | null): LiveStatus {
  const qc = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>('connecting');
  useEffect(() => {
    if (!token) return;
    const abort = new AbortController();
    const refetch = debouncer(qc, 250);
    let lastId: string | null = null;
    let retryMs = 1000;
    let connectedBefore = false;
    const run = async (): Promise<void> => {
      while (!abort.signal.aborted) {
        try {
          setStatus('connecting');
          const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' };
          if (lastId) headers['Last-Event-ID'] = lastId;
          const res = await fetch('/v1/events', { headers, signal: abort.signal });
          if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
          setStatus('live');
          retryMs = 1000;
          // What happened while we were away and is not replayed: refetch what is shown.
          if (connectedBefore && lastId === null) void qc.invalidateQueries();
          connectedBefore = true;
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          const parser = new SseParser();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            for (const e of parser.push(value)) {
              if (e.id) lastId = e.id;
              applyEvent(qc, e, refetch);
            }
          }
        } catch {
          if (abort.signal.aborted) return;
        }
        setStatus('offline');
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(retryMs * 2, 15_000);
      }
    };
    void run();
    return () => abort.abort();
  }, [token, qc]);
  return status;
}
