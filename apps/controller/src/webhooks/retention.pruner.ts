import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@hyperplane/config';
import { AuditRepository, EventRepository, WebhookRepository } from '@hyperplane/db';

const EVERY_MS = 3600_000;

/**
 * Keeps the append-only logs bounded: events, finished webhook deliveries and audit entries
 * older than their retention are deleted hourly (BRIN indexes on created_at make it cheap).
 * Several controllers may prune at once; the deletes do not conflict.
 */
@Injectable()
export class RetentionPruner implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('retention');
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly events: EventRepository,
    private readonly webhooks: WebhookRepository,
    private readonly audit: AuditRepository,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.prune().catch((e: unknown) => this.log.warn(`pruning failed: ${e instanceof Error ? e.message : String(e)}`)), EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async prune(): Promise<{ events: number; deliveries: number; audit: number }> {
    const days = this.config.HYPERPLANE_EVENTS_RETENTION_DAYS;
    const pruned = {
      events: await this.events.prune(days),
      deliveries: await this.webhooks.prune(days),
      audit: await this.audit.prune(this.config.HYPERPLANE_AUDIT_RETENTION_DAYS),
    };
    if (pruned.events + pruned.deliveries + pruned.audit > 0) this.log.log(`pruned ${pruned.events} events, ${pruned.deliveries} deliveries, ${pruned.audit} audit entries`);
    return pruned;
  }
}
