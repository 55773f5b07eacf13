import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Worker } from 'bullmq';
import { AppConfig } from '@hyperplane/config';
import { JobName, QUEUE_JOBS, QueueName, RedisSettings, startWorker } from '@hyperplane/queue';
import { DriftService } from './hosts/drift.service';
import { OperationRunner } from './operations/operation.runner';
import { ResultApplier } from './results/result.applier';
import { ResultBatcher } from './results/result.batcher';

const RESULT_SLOTS = 256;

/** The controller's consumers: the control queue (operations) and agents' results. */
@Injectable()
export class ControllerWorkers implements OnApplicationShutdown {
  private readonly log = new Logger('controller');
  private workers: Worker[] = [];

  constructor(
    private readonly config: AppConfig & { REDIS_URL: string },
    private readonly runner: OperationRunner,
    private readonly results: ResultApplier,
    private readonly batcher: ResultBatcher,
    private readonly drift: DriftService,
  ) {}

  start(): void {
    const redis: RedisSettings = { url: this.config.REDIS_URL, prefix: this.config.HYPERPLANE_REDIS_PREFIX };
    const lockDuration = this.config.HYPERPLANE_JOB_LOCK_MS;
    this.workers = [
      startWorker(
        redis,
        QueueName.Control,
        QUEUE_JOBS[QueueName.Control],
        { [JobName.RunOperation]: (data) => this.runner.run(data.operationId) },
        { concurrency: this.config.HYPERPLANE_CONTROLLER_CONCURRENCY, lockDuration, name: 'controller-control' },
      ),
      startWorker(
        redis,
        QueueName.AgentResults,
        QUEUE_JOBS[QueueName.AgentResults],
        {
          [JobName.AgentResult]: (data) => this.batcher.submit(data),
          [JobName.AgentResultBatch]: async (data) => void (await Promise.all(data.results.map((r) => this.batcher.submit(r)))),
          [JobName.AgentProgress]: (data) => this.results.progress(data),
          [JobName.AgentSync]: async (data) => void (await this.drift.apply(data)),
        },
        // Many at once: results waiting in the batcher hold a slot each until their batch commits.
        { concurrency: Math.max(RESULT_SLOTS, this.config.HYPERPLANE_CONTROLLER_CONCURRENCY), lockDuration, name: 'controller-results' },
      ),
    ];
    for (const w of this.workers) {
      w.on('failed', (job, err) => {
        if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) this.log.error(`job ${job.name} ${job.id} gave up: ${err.message}`);
      });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
