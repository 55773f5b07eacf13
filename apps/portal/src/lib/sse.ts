/** One server-sent event as the API frames it. */
export interface StreamEvent {
  id: string;
  type: string;
  data: Record<string, unknown> & { subjectType?: string; subjectId?: string };
}

/**
 * Splits a text/event-stream into events. Feed it chunks; it returns the complete events and
 * keeps the rest for the next chunk. (EventSource cannot send an Authorization header, so the
 * portal reads the stream with fetch and parses it here.)
 */
export class SseParser {
  private buffer = '';

  push(chunk: string): StreamEvent[] {
    this.buffer += chunk.replace(/\r\n/g, '\n');
    const out: StreamEvent[] = [];
    let at: number;
    while ((at = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 2);
      let id = '';
      let type = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') type = value;
        else if (field === 'data') data.push(value);
      }
      if (!data.length) continue;
      try {
        out.push({ id, type, data: JSON.parse(data.join('\n')) as StreamEvent['data'] });
      } catch {
        // not JSON: not one of ours
      }
    }
    return out;
  }
}
