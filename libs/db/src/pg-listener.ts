import { Client } from 'pg';

/**
 * A dedicated connection that LISTENs on channels and calls back on each NOTIFY. It
 * reconnects after a failure and then calls every callback once, since notifications sent
 * while it was away are lost and the listener must look for what it missed.
 */
export class PgListener {
  private client: Client | null = null;
  private readonly handlers = new Map<string, Set<() => void>>();
  private closed = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly url: string) {}

  async start(): Promise<void> {
    await this.connect();
  }

  on(channel: string, handler: () => void): () => void {
    const set = this.handlers.get(channel) ?? new Set();
    set.add(handler);
    if (!this.handlers.has(channel)) {
      this.handlers.set(channel, set);
      this.client?.query(`LISTEN ${channel}`).catch(() => undefined);
    }
    return () => set.delete(handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.url, application_name: 'hyperplane-listener' });
    client.on('notification', (msg) => this.handlers.get(msg.channel)?.forEach((h) => h()));
    client.on('error', () => this.reconnect());
    client.on('end', () => this.reconnect());
    await client.connect();
    for (const channel of this.handlers.keys()) await client.query(`LISTEN ${channel}`);
    this.client = client;
    for (const set of this.handlers.values()) set.forEach((h) => h());
  }

  private reconnect(): void {
    if (this.closed || this.retry) return;
    this.client = null;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect().catch(() => this.reconnect());
    }, 1000);
  }
}
