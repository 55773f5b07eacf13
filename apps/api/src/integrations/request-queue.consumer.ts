import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Type, ValidationPipe } from '@nestjs/common';
import type { Job, Worker } from 'bullmq';
import { AppConfig } from '@hyperplane/config';
import { INSTANCE_ACTIONS, InstanceAction, isUuid, TERMINAL_OPERATION_STATUSES } from '@hyperplane/domain';
import { OperationRepository } from '@hyperplane/db';
import { RequestJob, RequestRefused, startRequestWorker } from '@hyperplane/queue';
import { withRequestId } from '@hyperplane/observability';
import { AuditService } from '../audit/audit.service';
import { isFleetWide, Principal } from '../auth/principal';
import { TokenService } from '../auth/token.service';
import { fingerprint, IdempotencyContext } from '../common/idempotency';
import { Problem, problems } from '../common/problem';
import { createValidationPipe } from '../common/validation';
import { BatchCreateDto } from '../instances/batch-create.dto';
import { BatchDeleteDto } from '../instances/batch-delete.dto';
import { CreateInstanceDto } from '../instances/create-instance.dto';
import { CloneInstanceDto, CreateSnapshotDto, ResizeInstanceDto } from '../instances/instance-change.dto';
import { InstanceChangeService } from '../instances/instance-change.service';
import { InstanceService } from '../instances/instance.service';
import { OperationDto } from '../operations/operation.dto';
import { Submitted } from '../operations/operation-submitter.service';
import { OperationWaiters } from '../operations/operation-waiters';

export const REQUEST_ACTIONS = ['create', 'batch', 'batch-delete', ...INSTANCE_ACTIONS, 'delete', 'snapshot', 'restore', 'snapshot-delete', 'clone', 'resize'] as const;
type RequestAction = (typeof REQUEST_ACTIONS)[number];

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const SNAPSHOT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Each action is the HTTP request it stands for: its method and path (for idempotency), its body's DTO, its service call. */
interface Route {
  method: 'POST' | 'DELETE';
  path: (job: RequestJob) => string;
  dto?: Type<object>;
  needs: ('instanceId' | 'snapshot')[];
  run: (p: Principal, job: RequestJob, body: object, idem: IdempotencyContext) => Promise<Submitted>;
}

/**
 * The job-queue contract's consumer (docs/integrations/job-queue.md). It runs in the API
 * process because it is the API: the same DTOs and validation pipe, the same services (so the
 * same authorisation, quotas and idempotency), the same audit trail; only the transport differs.
 */
@Injectable()
export class RequestQueueConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('request-queue');
  private worker: Worker | null = null;
  private readonly pipe: ValidationPipe = createValidationPipe();
  private readonly routes: Record<RequestAction, Route>;

  constructor(
    private readonly config: AppConfig & { REDIS_URL: string },
    private readonly tokens: TokenService,
    private readonly instances: InstanceService,
    private readonly changes: InstanceChangeService,
    private readonly operations: OperationRepository,
    private readonly waiters: OperationWaiters,
    private readonly audit: AuditService,
  ) {
    const onInstance = (suffix: string) => (j: RequestJob) => `/v1/instances/${j.instanceId}${suffix}`;
    const action = (a: InstanceAction): Route => ({ method: 'POST', path: onInstance(`/actions/${a}`), needs: ['instanceId'], run: (p, j, _b, i) => this.instances.act(p, j.instanceId!, a, i) });
    this.routes = {
      create: { method: 'POST', path: () => '/v1/instances', dto: CreateInstanceDto, needs: [], run: (p, _j, b, i) => this.instances.create(p, b as CreateInstanceDto, i) },
      batch: { method: 'POST', path: () => '/v1/instances/batch', dto: BatchCreateDto, needs: [], run: (p, _j, b, i) => this.instances.createBatch(p, b as BatchCreateDto, i) },
      'batch-delete': { method: 'POST', path: () => '/v1/instances/batch-delete', dto: BatchDeleteDto, needs: [], run: (p, _j, b, i) => this.instances.removeBatch(p, b as BatchDeleteDto, i) },
      start: action('start'),
      stop: action('stop'),
      restart: action('restart'),
      suspend: action('suspend'),
      resume: action('resume'),
      delete: { method: 'DELETE', path: onInstance(''), needs: ['instanceId'], run: (p, j, _b, i) => this.instances.remove(p, j.instanceId!, i) },
      snapshot: { method: 'POST', path: onInstance('/snapshots'), dto: CreateSnapshotDto, needs: ['instanceId'], run: (p, j, b, i) => this.changes.snapshot(p, j.instanceId!, b as CreateSnapshotDto, i) },
      restore: { method: 'POST', path: (j) => `/v1/instances/${j.instanceId}/snapshots/${j.snapshot}/restore`, needs: ['instanceId', 'snapshot'], run: (p, j, _b, i) => this.changes.restore(p, j.instanceId!, j.snapshot!, i) },
      'snapshot-delete': { method: 'DELETE', path: (j) => `/v1/instances/${j.instanceId}/snapshots/${j.snapshot}`, needs: ['instanceId', 'snapshot'], run: (p, j, _b, i) => this.changes.deleteSnapshot(p, j.instanceId!, j.snapshot!, i) },
      clone: { method: 'POST', path: onInstance('/clone'), dto: CloneInstanceDto, needs: ['instanceId'], run: (p, j, b, i) => this.changes.clone(p, j.instanceId!, b as CloneInstanceDto, i) },
      resize: { method: 'POST', path: onInstance('/resize'), dto: ResizeInstanceDto, needs: ['instanceId'], run: (p, j, b, i) => this.changes.resize(p, j.instanceId!, b as ResizeInstanceDto, i) },
    };
  }

  onApplicationBootstrap(): void {
    if (this.config.HYPERPLANE_REQUEST_QUEUE_CONCURRENCY === 0) return;
    this.worker = startRequestWorker(
      { url: this.config.REDIS_URL, prefix: this.config.HYPERPLANE_REDIS_PREFIX },
      this.config.HYPERPLANE_REQUEST_QUEUE,
      (data, job) => withRequestId(`queue-${job.id}`, () => this.handle(data, job)),
      { concurrency: this.config.HYPERPLANE_REQUEST_QUEUE_CONCURRENCY, lockDuration: this.config.HYPERPLANE_JOB_LOCK_MS },
    );
    this.log.log(`taking requests from queue ${this.config.HYPERPLANE_REQUEST_QUEUE}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }

  /** One job: checked, authenticated, submitted like its HTTP twin, then (by default) waited for. */
  async handle(data: unknown, job: Pick<Job, 'id'>): Promise<OperationDto> {
    const requestId = `queue-${job.id}`;
    let principal: Principal | null = null;
    let target = `queue:${String((data as RequestJob | null)?.action)}`;
    try {
      const j = this.envelope(data);
      const route = this.routes[j.action as RequestAction];
      target = route.path(j);
      principal = await this.tokens.authenticate(j.token);
      if (!principal) throw problems.unauthorized('the job\'s token is unknown, expired or revoked');
      const raw = j.body ?? {};
      const body = route.dto ? ((await this.pipe.transform(raw, { type: 'body', metatype: route.dto })) as object) : raw;
      const idem: IdempotencyContext = { key: j.idempotencyKey, fingerprint: fingerprint(route.method, target, raw) };
      const submitted = await route.run(principal, j, body, idem);
      this.audit.record({ principal, action: `queue ${j.action}`, target, source: 'queue', requestId, status: 202 });
      const fleetWide = isFleetWide(principal);
      if (j.respondWhen === 'accepted') return OperationDto.from(submitted.operation, fleetWide);
      return OperationDto.from(await this.finished(submitted.operation.id), fleetWide);
    } catch (e) {
      if (!(e instanceof Problem)) throw e; // not the caller's mistake: let BullMQ retry it
      this.audit.record({ principal, action: `queue ${String((data as RequestJob | null)?.action)}`.slice(0, 128), target, source: 'queue', requestId, status: e.getStatus() });
      throw new RequestRefused(e.body(requestId));
    }
  }

  private envelope(data: unknown): RequestJob {
    const j = (data ?? {}) as Partial<RequestJob>;
    if (typeof j !== 'object' || Array.isArray(j)) throw problems.badField('job', 'the job data must be an object');
    if (typeof j.action !== 'string' || !(REQUEST_ACTIONS as readonly string[]).includes(j.action)) throw problems.badField('action', `must be one of ${REQUEST_ACTIONS.join(', ')}`);
    if (typeof j.token !== 'string' || j.token.length === 0) throw problems.unauthorized('the job carries no token');
    if (typeof j.idempotencyKey !== 'string' || !KEY_PATTERN.test(j.idempotencyKey)) throw problems.badField('idempotencyKey', 'must be 1 to 255 visible ASCII characters');
    if (j.body !== undefined && (typeof j.body !== 'object' || j.body === null || Array.isArray(j.body))) throw problems.badField('body', 'must be an object');
    if (j.respondWhen !== undefined && j.respondWhen !== 'accepted' && j.respondWhen !== 'finished') throw problems.badField('respondWhen', 'must be accepted or finished');
    const route = this.routes[j.action as RequestAction];
    // A path id that is not a UUID names nothing, as over HTTP.
    if (route.needs.includes('instanceId') && !isUuid(j.instanceId)) throw problems.notFound('instance', String(j.instanceId));
    if (route.needs.includes('snapshot') && (typeof j.snapshot !== 'string' || !SNAPSHOT_NAME.test(j.snapshot))) throw problems.badField('snapshot', 'must be a snapshot name');
    return j as RequestJob;
  }

  /** Waits until the operation ends, however long: the job holds its slot (and its lock) meanwhile. */
  private async finished(id: string): Promise<NonNullable<Awaited<ReturnType<OperationRepository['get']>>>> {
    for (;;) {
      const op = await this.operations.get(id);
      if (!op) throw new Error(`operation ${id} vanished`);
      if (TERMINAL_OPERATION_STATUSES.includes(op.status)) return op;
      await this.waiters.wait(id, 60_000);
    }
  }
}
