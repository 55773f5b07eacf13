import { Injectable } from '@nestjs/common';
import { currentRequestId } from '@hyperplane/observability';
import { randomUUID } from 'node:crypto';
import {
  ACTION_RULES,
  DELETABLE_STATES,
  HaPolicy,
  InstanceAction,
  InstanceState,
  vcpusProblem,
} from '@hyperplane/domain';
import {
  HostRepository,
  InstanceEntity,
  InstanceRepository,
  OperationRepository,
  PlacementGroupEntity,
  PlacementGroupRepository,
  ProjectEntity,
  TemplateEntity,
  TemplateRepository,
} from '@hyperplane/db';
import { canChange, canSeeProject, isFleetWide, Principal } from '../auth/principal';
import { IdempotencyContext } from '../common/idempotency';
import { decodeCursor, Page, toPage } from '../common/pagination';
import { problems } from '../common/problem';
import { OperationSubmitter, Submitted } from '../operations/operation-submitter.service';
import { ProjectScope } from '../projects/project-scope.service';
import { BatchCreateDto } from './batch-create.dto';
import { BatchDeleteDto } from './batch-delete.dto';
import { CreateInstanceDto, InstanceSpecDto } from './create-instance.dto';
import { InstanceDto } from './instance.dto';
import { ListInstancesQuery } from './list-instances.query';

const DESIRED_AFTER: Record<InstanceAction, InstanceState> = {
  start: 'running',
  stop: 'stopped',
  restart: 'running',
  suspend: 'suspended',
  resume: 'running',
};

/** The instance's own HA request, else its project's default (kept on the instance as it was at creation). */
function haInEffect(dto: InstanceSpecDto, project: ProjectEntity): HaPolicy | null {
  const given = dto.ha ?? (project.policy?.ha as { restart?: unknown; priority?: unknown } | undefined);
  if (!given || typeof given.restart !== 'boolean') return null;
  return { restart: given.restart, priority: typeof given.priority === 'number' ? given.priority : 0 };
}

@Injectable()
export class InstanceService {
  private readonly templateCache = new Map<string, { template: TemplateEntity | null; until: number }>();

  constructor(
    private readonly instances: InstanceRepository,
    private readonly templates: TemplateRepository,
    private readonly hosts: HostRepository,
    private readonly operations: OperationRepository,
    private readonly groups: PlacementGroupRepository,
    private readonly scope: ProjectScope,
    private readonly submitter: OperationSubmitter,
  ) {}

  async create(principal: Principal, dto: CreateInstanceDto, idem: IdempotencyContext): Promise<Submitted> {
    const replayed = await this.submitter.replay(principal, idem);
    if (replayed) return replayed;
    const project = await this.scope.forChange(principal, dto.project);
    const { group } = await this.checkSpec(principal, dto, project.id);
    const id = randomUUID();
    return this.submitter.submit(principal, idem, {
      projectId: project.id,
      instanceId: id,
      newInstance: true,
      kind: 'create',
      request: { ...dto },
      before: async (em) => {
        await this.instances.insert(em, [{ ...this.newInstance(id, project.id, dto.name, dto, principal, group), ha: haInEffect(dto, project) }]);
      },
    });
  }

  /**
   * N instances named <prefix>-<n>: one parent operation (queued on the control queue) and a
   * queued child per instance, which the controller places in bulk. All or nothing: a name
   * that is taken refuses the whole batch.
   */
  async createBatch(principal: Principal, dto: BatchCreateDto, idem: IdempotencyContext): Promise<Submitted> {
    const replayed = await this.submitter.replay(principal, idem);
    if (replayed) return replayed;
    const project = await this.scope.forChange(principal, dto.spec.project);
    const { group } = await this.checkSpec(principal, dto.spec, project.id);
    const width = String(dto.count).length;
    const names = Array.from({ length: dto.count }, (_, i) => `${dto.namePrefix}-${String(i + 1).padStart(width, '0')}`);
    const instances = names.map((name) => ({ ...this.newInstance(randomUUID(), project.id, name, dto.spec, principal, group), ha: haInEffect(dto.spec, project) }));
    return this.submitter.submit(principal, idem, {
      projectId: project.id,
      instanceId: null,
      kind: 'batch',
      request: { count: dto.count, namePrefix: dto.namePrefix, spec: { ...dto.spec } },
      before: (em) => this.instances.insert(em, instances),
      after: (em, parentId) =>
        this.operations.insert(
          em,
          instances.map((i) => ({
            id: randomUUID(),
            projectId: project.id,
            instanceId: i.id!,
            parentId,
            kind: 'create' as const,
            status: 'queued' as const,
            progress: 0,
            step: 'queued',
            request: { batch: parentId, name: i.name },
            requestedBy: principal.tokenId,
            requestId: currentRequestId() ?? null,
          })),
          // Children go as planned without operation.status events (their instances' state events say it).
          { events: false },
        ),
    });
  }

  /** Everything about a spec that can be refused before anything is created. */
  async checkSpec(principal: Principal, dto: InstanceSpecDto, projectId: string): Promise<{ template: TemplateEntity; group: PlacementGroupEntity | null }> {
    const template = await this.template(dto.template);
    if (!template) throw problems.badField('template', `no template named ${dto.template}; GET /v1/templates lists them`);
    if (dto.technology !== 'auto' && !template.technologies.includes(dto.technology)) {
      throw problems.badField('technology', `template ${template.name} can be a ${template.technologies.join(' or a ')}, not a ${dto.technology}`);
    }
    const vcpus = vcpusProblem(dto.resources.vcpus, dto.technology);
    if (vcpus) throw problems.badField('resources.vcpus', `vcpus ${vcpus}`);
    if (!Number.isInteger(dto.resources.vcpus) && !template.technologies.includes('container')) {
      throw problems.badField('resources.vcpus', `${template.name} is offered only as a VM, which has whole vCPUs; ${dto.resources.vcpus} vCPU is a container size`);
    }
    if (dto.arch && !template.archs.includes(dto.arch)) {
      throw problems.badField('arch', `template ${template.name} exists for ${template.archs.join(', ')}, not ${dto.arch}`);
    }
    if (dto.placement?.hostId) {
      if (!isFleetWide(principal)) throw problems.forbidden('only fleet-wide tokens may pin an instance to a host');
      if (!(await this.hosts.get(dto.placement.hostId))) throw problems.badField('placement.hostId', `no host ${dto.placement.hostId}`);
    }
    let group: PlacementGroupEntity | null = null;
    if (dto.placement?.group) {
      group = await this.groups.findByName(projectId, dto.placement.group);
      if (!group) throw problems.badField('placement.group', `no placement group named ${dto.placement.group} in this project; POST /v1/placement-groups makes one`);
    }
    return { template, group };
  }

  newInstance(id: string, projectId: string, name: string, dto: InstanceSpecDto, principal: Principal, group: PlacementGroupEntity | null): Partial<InstanceEntity> {
    return {
      id,
      projectId,
      name,
      template: dto.template,
      requestedTechnology: dto.technology,
      technology: dto.technology === 'auto' ? null : (dto.technology),
      arch: dto.arch ?? null,
      state: 'pending',
      desiredState: dto.start === false ? 'stopped' : 'running',
      vcpus: dto.resources.vcpus,
      memoryMib: dto.resources.memoryMiB,
      diskGib: dto.resources.diskGiB,
      limits: dto.limits ? { ...dto.limits } : null,
      isolation: dto.isolation ? { ...dto.isolation } : null,
      placement: { ...(dto.placement ?? {}), ...(dto.capabilities ? { capabilities: dto.capabilities } : {}) },
      placementGroupId: group?.id ?? null,
      createdBy: principal.tokenId,
    };
  }

  async act(principal: Principal, id: string, action: InstanceAction, idem: IdempotencyContext, options: { force?: boolean; timeoutS?: number } = {}): Promise<Submitted> {
    const replayed = await this.submitter.replay(principal, idem);
    if (replayed) return replayed;
    const instance = await this.visible(principal, id);
    if (!canChange(principal, instance.projectId)) throw problems.forbidden(`the token (${principal.role}) may not change instances`);
    const rule = ACTION_RULES[action];
    return this.submitter.submit(principal, idem, {
      projectId: instance.projectId,
      instanceId: id,
      kind: action,
      // A stop's force/timeoutS travel with the operation to the host command.
      request: { action, ...options },
      before: async (em) => {
        // Checked inside the transaction (locked and changed in one statement; a refusal rolls
        // the change back); a racing operation is caught by the unique index.
        const current = await this.instances.patchLocked(em, id, { desiredState: DESIRED_AFTER[action] });
        if (!current || !rule.from.includes(current.state)) {
          await this.refuse(id, current?.state ?? 'deleted', `${action} needs the instance to be ${rule.from.join(' or ')}`);
        }
        if (rule.capability) await this.requireCapability(current!, rule.capability, action);
      },
    });
  }

  async remove(principal: Principal, id: string, idem: IdempotencyContext, force = false): Promise<Submitted> {
    // A retried delete answers as before, even once the instance is gone.
    const replayed = await this.submitter.replay(principal, idem);
    if (replayed) return replayed;
    const instance = await this.visible(principal, id);
    if (!canChange(principal, instance.projectId)) throw problems.forbidden(`the token (${principal.role}) may not delete instances`);
    if (force && instance.hostId && principal.role !== 'admin' && (await this.hosts.get(instance.hostId))?.status === 'down') {
      // Deleted without its host (the claim released at once; apps/controller/src/operations/lost-host-delete.ts): an admin's call.
      throw problems.forbidden('only an admin may force-delete an instance whose host is down');
    }
    return this.submitter.submit(principal, idem, {
      projectId: instance.projectId,
      instanceId: id,
      kind: 'delete',
      request: force ? { action: 'delete', force: true } : { action: 'delete' },
      before: async (em) => {
        const current = await this.instances.patchLocked(em, id, { desiredState: 'deleted' });
        if (!current || !DELETABLE_STATES.includes(current.state)) {
          await this.refuse(id, current?.state ?? 'deleted', 'it is already being deleted or gone');
        }
      },
    });
  }

  /**
   * Many instances of one project deleted as one parent operation (kind `batch-delete`) with a
   * queued `delete` child per instance, whose destroys the controller sends to their hosts in
   * bulk (BatchDeleter). All or nothing: an id the token cannot see is a 404, an instance that has an
   * active operation or cannot be deleted in its state refuses the whole batch (409).
   */
  async removeBatch(principal: Principal, dto: BatchDeleteDto, idem: IdempotencyContext): Promise<Submitted> {
    const replayed = await this.submitter.replay(principal, idem);
    if (replayed) return replayed;
    const found = new Map((await this.instances.brief(dto.ids)).map((i) => [i.id, i]));
    const missing = dto.ids.find((id) => {
      const i = found.get(id);
      return !i || i.state === 'deleted' || !canSeeProject(principal, i.projectId);
    });
    if (missing) throw problems.notFound('instance', missing);
    const projects = new Set([...found.values()].map((i) => i.projectId));
    if (projects.size > 1) throw problems.badField('ids', `the instances belong to ${projects.size} projects; a batch delete is within one project`);
    const projectId = [...projects][0]!;
    if (!canChange(principal, projectId)) throw problems.forbidden(`the token (${principal.role}) may not delete instances`);
    const force = dto.force === true;
    if (force && principal.role !== 'admin') {
      const hostIds = [...new Set([...found.values()].map((i) => i.hostId).filter((h): h is string => h !== null))];
      const down = (await this.hosts.byIds(hostIds)).find((h) => h.status === 'down');
      if (down) throw problems.forbidden(`only an admin may force-delete instances whose host is down (host ${down.name} is)`);
    }
    return this.submitter.submit(principal, idem, {
      projectId,
      instanceId: null,
      kind: 'batch-delete',
      request: { action: 'delete', count: dto.ids.length, ...(force ? { force: true } : {}) },
      before: async (em) => {
        const wanting = await this.instances.wantDeletedMany(em, dto.ids, DELETABLE_STATES);
        const refused = dto.ids.find((id) => !wanting.has(id));
        if (refused) await this.refuse(refused, found.get(refused)!.state, 'it is already being deleted or gone; no instance of the batch was deleted');
      },
      after: (em, parentId) =>
        this.operations.insert(
          em,
          dto.ids.map((instanceId) => ({
            id: randomUUID(),
            projectId,
            instanceId,
            parentId,
            kind: 'delete' as const,
            status: 'queued' as const,
            progress: 0,
            step: 'queued',
            request: { action: 'delete', batch: parentId, ...(force ? { force: true } : {}) },
            requestedBy: principal.tokenId,
            requestId: currentRequestId() ?? null,
          })),
          // As a batch create's children: no operation.status events while they go as planned.
          { events: false },
        ),
    });
  }

  async get(principal: Principal, id: string): Promise<InstanceDto> {
    return InstanceDto.from(await this.visible(principal, id), isFleetWide(principal));
  }

  async list(principal: Principal, q: ListInstancesQuery): Promise<Page<InstanceDto>> {
    const limit = q.limit ?? 50;
    const rows = await this.instances.list({
      projectIds: await this.scope.forRead(principal, q.project),
      state: q.state,
      hostId: q.host,
      technology: q.technology,
      before: decodeCursor(q.cursor),
      limit: limit + 1,
    });
    return toPage(rows, limit, (i) => InstanceDto.from(i, isFleetWide(principal)));
  }

  /** Templates change rarely (the catalogue is written at start): cached for 10 s. */
  private async template(name: string): Promise<TemplateEntity | null> {
    const hit = this.templateCache.get(name);
    if (hit && hit.until > Date.now()) return hit.template;
    const template = await this.templates.get(name);
    this.templateCache.set(name, { template, until: Date.now() + 10_000 });
    return template;
  }

  /** The instance if the token may see it; 404 otherwise (an invisible one is reported as missing). */
  async visible(principal: Principal, id: string): Promise<InstanceEntity> {
    const instance = await this.instances.get(id);
    if (!instance || instance.state === 'deleted' || !canSeeProject(principal, instance.projectId)) throw problems.notFound('instance', id);
    return instance;
  }

  /** A 409 that names the active operation when there is one (the usual reason). */
  async refuse(id: string, state: InstanceState, why: string): Promise<never> {
    const active = await this.operations.activeForInstance(id);
    if (active) {
      throw problems.conflict(`instance ${id} already has an active operation ${active.id} (${active.kind}, ${active.status}); wait for it or cancel it`, {
        operationId: active.id,
      });
    }
    throw problems.conflict(`instance ${id} is ${state}: ${why}`, { state });
  }

  async requireCapability(instance: InstanceEntity, capability: string, action: string): Promise<void> {
    if (!instance.hostId || !instance.driver) return;
    const host = await this.hosts.get(instance.hostId);
    const offer = host?.drivers.find((d) => d.name === instance.driver)?.offers.find((o) => o.technology === instance.technology);
    if (offer && !offer.capabilities.includes(capability as never)) {
      throw problems.conflict(`the ${instance.driver} driver on host ${host?.name ?? instance.hostId} cannot ${action} a ${instance.technology}`, {
        capability,
      });
    }
  }
}
