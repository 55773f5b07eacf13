import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Worker } from 'bullmq';
import { AppConfig } from '@hyperplane/config';
import { JobName, QUEUE_JOBS, QueueName, RedisSettings, startWorker } from '@hyperplane/queue';
import { OperationRunner } from './operations/operation.runner';
import { OperationInterrupts } from './operations/operation-interrupts';
import { AgentResultsConsumer } from './results/agent-results.consumer';

/** The controller's consumers: the control queue (operations) and every agent's results queue. */
@Injectable()
export class ControllerWorkers implements OnApplicationShutdown {
  private readonly log = new Logger('controller');
  private workers: Worker[] = [];

  constructor(
    private readonly config: AppConfig & { REDIS_URL: string },
    private readonly redis: RedisSettings,
    private readonly runner: OperationRunner,
    private readonly interrupts: OperationInterrupts,
    private readonly results: AgentResultsConsumer,
  ) {}

  async start(): Promise<void> {
    const lockDuration = this.config.HYPERPLANE_JOB_LOCK_MS;
    this.workers = [
      startWorker(
        this.redis,
        QueueName.Control,
        QUEUE_JOBS[QueueName.Control],
        {
          [JobName.RunOperation]: (data) => this.runner.run(data.operationId),
          [JobName.CancelOperation]: async (data) => void (await this.interrupts.cancel(data.operationId, data.by)),
        },
        { concurrency: this.config.HYPERPLANE_CONTROLLER_CONCURRENCY, lockDuration, name: 'controller-control' },
      ),
    ];
    for (const w of this.workers) {
      w.on('failed', (job, err) => {
        if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) this.log.error(`job ${job.name} ${job.id} gave up: ${err.message}`);
      });
    }
    await this.results.start(this.redis);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
