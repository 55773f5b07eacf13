import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { OUTBOX_CHANNEL, OutboxRepository, PgListener } from '@hyperplane/db';
import { JobName, JobQueue } from '@hyperplane/queue';
import { NOTIFY_LISTENER } from '../notify-listener';


const BATCH = 1000;

/**
 * Moves outbox rows to BullMQ. Woken by NOTIFY at commit, with a slow poll as a safety net.
 * Rows are taken with SKIP LOCKED, so any number of controllers can relay at once; a row is
 * deleted only after its job was added, and the job id makes a second add a no-op.
 */
@Injectable()
export class OutboxRelay implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('outbox');
  private running = false;
  private again = false;
  private stopped = false;
  private poll: NodeJS.Timeout | null = null;
  relayed = 0;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly queue: JobQueue,
    @Inject(NOTIFY_LISTENER) private readonly listener: PgListener,
  ) {}

  async onModuleInit(): Promise<void> {
    this.listener.on(OUTBOX_CHANNEL, () => this.kick());
    await this.listener.start();
    this.poll = setInterval(() => this.kick(), 1000);
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    await this.listener.close();
    while (this.running) await new Promise((r) => setTimeout(r, 20));
  }

  /** Relays everything committed so far (used at start, before the rebuild). */
  async flush(): Promise<void> {
    while (this.running) await new Promise((r) => setTimeout(r, 10));
    await this.drain();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.drain()
      .catch((e: unknown) => this.log.warn(`relay failed, will retry: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const n = await this.outbox.relayBatch(BATCH, (messages) =>
        this.queue.enqueueMany(messages.map((m) => ({ queue: m.queue, name: m.jobName as JobName, jobId: m.jobId, data: m.payload as never }))),
      );
      this.relayed += n;
      if (n < BATCH || this.stopped) return;
    }
  }
}
