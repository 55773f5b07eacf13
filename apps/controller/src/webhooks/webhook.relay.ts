import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@hyperplane/config';
import { PgListener, WEBHOOKS_CHANNEL, WebhookRepository } from '@hyperplane/db';
import { JobName, JobQueue, QueueName, webhookJobId } from '@hyperplane/queue';
import { NOTIFY_LISTENER } from '../notify-listener';

const BATCH = 500;

/**
 * Moves new webhook deliveries (written with their events, in the same statement) to the
 * webhooks queue. Like the outbox relay: woken when a delivery commits, with a slow poll as a net;
 * SKIP LOCKED lets several controllers relay; the job id makes a second add a no-op.
 */
@Injectable()
export class WebhookRelay implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('webhooks');
  private running = false;
  private again = false;
  private stopped = false;
  private poll: NodeJS.Timeout | null = null;
  private rescue: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly webhooks: WebhookRepository,
    private readonly queue: JobQueue,
    @Inject(NOTIFY_LISTENER) private readonly listener: PgListener,
  ) {}

  onModuleInit(): void {
    // The outbox relay starts and closes the shared listener.
    this.listener.on(WEBHOOKS_CHANNEL, () => this.kick());
    this.poll = setInterval(() => this.kick(), 1000);
    // Two minutes (scaled like the retry schedule) past due: the job is gone, queue it again.
    const graceS = Math.max(5, 120 * this.config.HYPERPLANE_WEBHOOK_RETRY_SCALE);
    this.rescue = setInterval(() => {
      this.webhooks
        .rescueOverdue(graceS)
        .then((n) => {
          if (n === 0) return;
          this.log.warn(`${n} webhook deliveries were overdue (their jobs lost?): queued again`);
          this.kick();
        })
        .catch(() => undefined);
    }, graceS * 1000);
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    if (this.rescue) clearInterval(this.rescue);
    while (this.running) await new Promise((r) => setTimeout(r, 20));
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.drain()
      .catch((e: unknown) => this.log.warn(`webhook relay failed, will retry: ${e instanceof Error ? e.message : String(e)}`))
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
      const n = await this.webhooks.relayBatch(BATCH, (rows) =>
        this.queue.enqueueMany(
          rows.map((r) => ({ queue: QueueName.Webhooks, name: JobName.WebhookDeliver, jobId: webhookJobId(r.id, r.attempt), data: { deliveryId: r.id, firstAttempt: r.attempt } })),
        ),
      );
      if (n < BATCH || this.stopped) return;
    }
  }
}
