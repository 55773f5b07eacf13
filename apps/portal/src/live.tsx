import { useEffect, useState } from 'react';
import { useQueryClient, type QueryClient, type QueryKey } from '@tanstack/react-query';
import { applyEvent } from './lib/live-cache';
import { SseParser } from './lib/sse';

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
