import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AuditRepository, InstanceRepository, NewAuditEntry, OperationRepository, WebhookRepository } from '@hyperplane/db';
import { isUuid } from '@hyperplane/domain';
import { Principal } from '../auth/principal';
import { ProjectScope } from '../projects/project-scope.service';

const MAX_PENDING = 10_000;

/** One mutating request as the audit trail keeps it (the project is worked out here). */
export interface AuditRecord {
  principal: Principal | null;
  action: string;
  target: string;
  source: string;
  requestId: string | null;
  status: number;
  /** The project named by the request (body or path), when it named one. */
  projectName?: string;
  /** Known already (the queue consumer knows it). */
  projectId?: string | null;
}

const SYSTEM_OF_RECORD = /^\/v1\/(instances|operations|webhooks)\/([0-9a-f-]{36})(\/|$)/;

/**
 * Appends audit entries off the request's path: records are gathered for one tick and written
 * in one INSERT, so a burst of requests costs one statement, not one each.
 */
@Injectable()
export class AuditService implements OnApplicationShutdown {
  private readonly log = new Logger('audit');
  private pending: Promise<NewAuditEntry>[] = [];
  private dropped = 0;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly audit: AuditRepository,
    private readonly scope: ProjectScope,
    private readonly instances: InstanceRepository,
    private readonly operations: OperationRepository,
    private readonly webhooks: WebhookRepository,
  ) {}

  record(r: AuditRecord): void {
    // Bounded: while the database is unreachable entries wait here, but never without limit.
    if (this.pending.length >= MAX_PENDING) {
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 1000 === 0) this.log.error(`audit entries dropped while the database lags: ${this.dropped}`);
      return;
    }
    this.pending.push(this.entry(r));
    if (!this.flushing) this.flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  /** Writes what was recorded so far (tests and shutdown wait on it). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.drain();
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      await this.audit.append(await Promise.all(batch));
    } catch (e) {
      this.log.error(`lost ${batch.length} audit entries: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.flushing = this.pending.length > 0 ? this.flush() : null;
    }
  }

  private async entry(r: AuditRecord): Promise<NewAuditEntry> {
    const p = r.principal;
    return {
      tokenId: p?.tokenId ?? null,
      tokenName: p?.name.slice(0, 128) ?? null,
      role: p?.role ?? null,
      projectId: r.projectId !== undefined ? r.projectId : await this.projectOf(r).catch(() => null),
      action: r.action.slice(0, 128),
      target: r.target.slice(0, 2000),
      source: r.source.slice(0, 64),
      requestId: r.requestId,
      status: r.status,
    };
  }

  /** The project the change was about: the token's own, the one named, or the target's. */
  private async projectOf(r: AuditRecord): Promise<string | null> {
    if (r.principal?.projectIds?.length === 1) return r.principal.projectIds[0]!;
    const named = /^\/v1\/projects\/([^/]+)/.exec(r.target)?.[1] ?? r.projectName;
    if (named && r.principal) return (await this.scope.resolve(r.principal, decodeURIComponent(named))).id;
    const [, kind, id] = SYSTEM_OF_RECORD.exec(r.target) ?? [];
    if (!id || !isUuid(id)) return null;
    if (kind === 'instances') return (await this.instances.get(id))?.projectId ?? null;
    if (kind === 'operations') return (await this.operations.get(id))?.projectId ?? null;
    return (await this.webhooks.get(id))?.projectId ?? null;
  }
}
