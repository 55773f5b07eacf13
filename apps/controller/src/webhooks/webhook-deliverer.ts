import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Worker } from 'bullmq';
import { AppConfig } from '@hyperplane/config';
import { DeliveryAttempt, WebhookRepository } from '@hyperplane/db';
import { DestinationRefused, JobName, QUEUE_JOBS, QueueName, RetryLater, signWebhook, startWorker, WebhookDeliverPayload, WebhookDestinations } from '@hyperplane/queue';
import { postWebhook } from './webhook-http';

// Standard Webhooks' schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
const SCHEDULE_S = [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400];

export const WEBHOOK_DESTINATIONS = Symbol('WEBHOOK_DESTINATIONS');

/** What to do after an attempt, from the endpoint's answer. */
export type Verdict = { kind: 'done' } | { kind: 'disable' } | { kind: 'retry'; atLeastMs: number };

/** 2xx: delivered. 410: the endpoint is gone, stop sending to it. 429 and the rest: retry, not before Retry-After. */
export function verdictFor(status: number | null, retryAfter: string | undefined): Verdict {
  if (status !== null && status >= 200 && status < 300) return { kind: 'done' };
  if (status === 410) return { kind: 'disable' };
  let atLeastMs = 0;
  if (retryAfter !== undefined && (status === 429 || status === 503)) {
    const seconds = Number(retryAfter);
    const when = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(when)) atLeastMs = Math.min(Math.max(0, when), 24 * 3600_000);
  }
  return { kind: 'retry', atLeastMs };
}

/**
 * Sends webhook deliveries: signs (Standard Webhooks), POSTs through the destination guard,
 * logs each attempt and retries on its schedule as a delayed job (in Redis: a restart loses
 * nothing). Runs in the controller, never on an API request's path.
 */
@Injectable()
export class WebhookDeliverer implements OnApplicationShutdown {
  private readonly log = new Logger('webhooks');
  private worker: Worker | null = null;

  constructor(
    private readonly config: AppConfig & { REDIS_URL: string },
    private readonly webhooks: WebhookRepository,
    @Inject(WEBHOOK_DESTINATIONS) private readonly destinations: WebhookDestinations,
  ) {}

  start(): void {
    this.worker = startWorker(
      { url: this.config.REDIS_URL, prefix: this.config.HYPERPLANE_REDIS_PREFIX },
      QueueName.Webhooks,
      QUEUE_JOBS[QueueName.Webhooks],
      { [JobName.WebhookDeliver]: (data) => this.deliver(data) },
      { concurrency: 32, lockDuration: Math.max(this.config.HYPERPLANE_JOB_LOCK_MS, this.config.HYPERPLANE_WEBHOOK_TIMEOUT_MS * 2), name: 'controller-webhooks' },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }

  async deliver({ deliveryId, firstAttempt }: WebhookDeliverPayload): Promise<void> {
    const delivery = await this.webhooks.delivery(deliveryId);
    if (!delivery || delivery.status !== 'pending') return;
    const hook = await this.webhooks.get(delivery.webhookId);
    if (!hook || !hook.enabled) {
      await this.webhooks.finish(deliveryId, 'failed');
      return;
    }
    const body = JSON.stringify(delivery.payload);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': delivery.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(hook.secret, delivery.id, timestamp, body),
      'user-agent': 'hyperplane-webhooks/1',
    };
    const started = Date.now();
    let status: number | null = null;
    let retryAfter: string | undefined;
    let error: string | null = null;
    let refused = false;
    try {
      const answer = await postWebhook(this.destinations, new URL(hook.url), headers, body, this.config.HYPERPLANE_WEBHOOK_TIMEOUT_MS);
      status = answer.status;
      const ra: string | string[] | undefined = answer.headers['retry-after'];
      retryAfter = typeof ra === 'string' ? ra : ra?.[0];
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      refused = e instanceof DestinationRefused;
    }
    const attempt: DeliveryAttempt = { at: new Date(started).toISOString(), statusCode: status, durationMs: Date.now() - started, error };
    const made = delivery.attempts.length + 1 - firstAttempt;
    const verdict: Verdict = refused ? { kind: 'retry', atLeastMs: 0 } : verdictFor(status, retryAfter);
    switch (verdict.kind) {
      case 'done':
        await this.webhooks.recordAttempt(deliveryId, attempt, 'succeeded');
        return;
      case 'disable':
        await this.webhooks.recordAttempt(deliveryId, attempt, 'failed');
        await this.webhooks.disable(hook.id, `the endpoint answered 410 Gone at ${attempt.at}`);
        this.log.warn(`webhook ${hook.id} disabled: its endpoint answered 410`);
        return;
      case 'retry': {
        if (made >= this.config.HYPERPLANE_WEBHOOK_MAX_ATTEMPTS) {
          await this.webhooks.recordAttempt(deliveryId, attempt, 'failed');
          return;
        }
        const step = SCHEDULE_S[Math.min(made - 1, SCHEDULE_S.length - 1)]! * 1000 * this.config.HYPERPLANE_WEBHOOK_RETRY_SCALE;
        // A little jitter, so that a fleet of retries does not arrive at once.
        const delay = Math.max(verdict.atLeastMs, step * (1 + Math.random() * 0.1));
        await this.webhooks.recordAttempt(deliveryId, attempt, null, delay);
        throw new RetryLater(Math.round(delay), `attempt ${made} of delivery ${deliveryId}: ${status ?? error}`);
      }
    }
  }
}
