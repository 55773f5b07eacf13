export interface SseEvent {
  id: string;
  event: string;
  data: any;
}

/** Follows /v1/events and collects every event until stopped. */
export function followEvents(baseUrl: string, token: string, query = ''): { events: SseEvent[]; ready: Promise<void>; stop: () => void } {
  const events: SseEvent[] = [];
  const controller = new AbortController();
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  void (async () => {
    try {
      const res = await fetch(`${baseUrl}/v1/events${query}`, { headers: { Authorization: `Bearer ${token}` }, signal: controller.signal });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let idx: number;
        while ((idx = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, idx);
          buffer = buffer.slice(idx + 2);
          if (block.startsWith(': connected')) markReady();
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): (.*)$/.exec(line);
            if (m) fields[m[1]!] = m[2]!;
          }
          if (fields.data) events.push({ id: fields.id ?? '', event: fields.event ?? '', data: JSON.parse(fields.data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { events, ready, stop: () => controller.abort() };
}
