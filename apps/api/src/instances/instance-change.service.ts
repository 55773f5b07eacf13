import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InstanceState, NAME_PATTERN, vcpusProblem } from '@hyperplane/domain';
import { HostRepository, InstanceEntity, InstanceRepository, SnapshotRepository, Tx, UsageRepository } from '@hyperplane/db';
import { canChange, Principal } from '../auth/principal';
import { IdempotencyContext } from '../common/idempotency';
import { problems } from '../common/problem';
import { OperationSubmitter, Submitted } from '../operations/operation-submitter.service';
import { CloneInstanceDto, CreateSnapshotDto, MigrateInstanceDto, ResizeInstanceDto, SnapshotDto } from './instance-change.dto';
import { InstanceService } from './instance.service';

const SETTLED: readonly InstanceState[] = ['running', 'stopped', 'suspended'];

/**
 * Changes that need a driver capability: snapshots, clones and resizes. Each is an operation
 * like any other (one active per instance, Idempotency-Key, 409 naming a conflict).
 */
@Injectable()
export class InstanceChangeService {
  constructor(
    private readonly instances: InstanceService,
    private readonly repo: InstanceRepository,
    private readonly snapshots: SnapshotRepository,
    private readonly submitter: OperationSubmitter,
    private readonly usage: UsageRepository,
    private readonly hosts: HostRepository,
  ) {}

  async listSnapshots(principal: Principal, id: string): Promise<{ items: SnapshotDto[] }> {
    await this.instances.visible(principal, id);
    return { items: (await this.snapshots.list(id)).map(SnapshotDto.from) };
  }

  async snapshot(principal: Principal, id: string, dto: CreateSnapshotDto, idem: IdempotencyContext): Promise<Submitted> {
    return this.change(principal, id, idem, 'snapshot', { snapshot: dto.name }, SETTLED, 'snapshot', async () => {
      if (await this.snapshots.get(id, dto.name)) throw problems.conflict(`instance ${id} already has a snapshot named ${dto.name}`, { field: 'name' });
    });
  }

  async restore(principal: Principal, id: string, name: string, idem: IdempotencyContext): Promise<Submitted> {
    return this.change(principal, id, idem, 'restore', { snapshot: name }, SETTLED, 'snapshot', () => this.existing(id, name));
  }

  async deleteSnapshot(principal: Principal, id: string, name: string, idem: IdempotencyContext): Promise<Submitted> {
    return this.change(principal, id, idem, 'snapshot-delete', { snapshot: name }, SETTLED, 'snapshot', () => this.existing(id, name));
  }

  /** A copy on the same host, made stopped; the new instance exists (pending) from the start. */
  async clone(principal: Principal, id: string, dto: CloneInstanceDto, idem: IdempotencyContext): Promise<Submitted> {
    const cloneId = randomUUID();
    return this.change(principal, id, idem, 'clone', { name: dto.name, cloneId }, ['running', 'stopped'], 'clone', undefined, async (em, source) => {
      await this.repo.insert(em, [
        {
          id: cloneId,
          projectId: source.projectId,
          name: dto.name,
          template: source.template,
          requestedTechnology: source.requestedTechnology,
          technology: source.technology,
          arch: source.arch,
          state: 'pending',
          desiredState: 'stopped',
          vcpus: source.vcpus,
          memoryMib: source.memoryMib,
          diskGib: source.diskGib,
          limits: source.limits,
          isolation: source.isolation,
          placement: { ...source.placement, hostId: source.hostId ?? undefined },
          createdBy: principal.tokenId,
        },
      ]);
    });
  }

  async resize(principal: Principal, id: string, dto: ResizeInstanceDto, idem: IdempotencyContext): Promise<Submitted> {
    const instance = await this.instances.visible(principal, id);
    const vcpus = vcpusProblem(dto.resources.vcpus, instance.technology ?? instance.requestedTechnology);
    if (vcpus) throw problems.badField('resources.vcpus', `vcpus ${vcpus}`);
    // A running instance can be resized only where the driver can do it live.
    const capability = instance.state === 'running' ? 'liveResize' : undefined;
    return this.change(principal, id, idem, 'resize', { resources: { ...dto.resources }, limits: dto.limits ? { ...dto.limits } : null }, ['running', 'stopped'], capability, undefined, async (em) => {
      // The new size counts against the quota from now (a trigger checks the growth); the
      // reserve ends with the operation.
      await this.usage.reserve(em, id, dto.resources);
    });
  }

  /**
   * Moves the instance to another host (apps/controller/src/operations/handlers/migrate.handler.ts).
   * The driver must be able to migrate it (live when `live`), on the source and on a given
   * destination; a given destination must be another ready host with the instance's driver.
   */
  async migrate(principal: Principal, id: string, dto: MigrateInstanceDto, idem: IdempotencyContext): Promise<Submitted> {
    const instance = await this.instances.visible(principal, id);
    if (dto.hostId) {
      const host = await this.hosts.get(dto.hostId);
      if (!host) throw problems.badField('hostId', `no host ${dto.hostId}`);
      if (host.id === instance.hostId) throw problems.badField('hostId', `the instance already runs on host ${host.name}`);
      if (host.status !== 'ready') throw problems.badField('hostId', `host ${host.name} is ${host.status}, not ready`);
      const offer = host.drivers.find((d) => d.name === instance.driver)?.offers.find((o) => o.technology === instance.technology);
      if (!offer) throw problems.badField('hostId', `host ${host.name} has no ${instance.driver ?? 'matching'} driver for ${instance.technology ?? instance.requestedTechnology}`);
      const needed = dto.live === true ? ['liveMigrate'] : dto.live === false ? ['offlineMigrate'] : ['liveMigrate', 'offlineMigrate'];
      if (!needed.some((c) => offer.capabilities.includes(c as never))) {
        throw problems.conflict(`the ${instance.driver} driver on host ${host.name} cannot ${dto.live ? 'live-' : ''}migrate a ${instance.technology} in`, { capability: needed[0] });
      }
    }
    const request = { ...(dto.hostId ? { hostId: dto.hostId } : {}), ...(dto.live !== undefined ? { live: dto.live } : {}) };
    return this.change(principal, id, idem, 'migrate', request, ['running', 'stopped'], undefined, undefined, async (em, current) => {
      if (dto.live === true) await this.instances.requireCapability(current, 'liveMigrate', 'live-migrate');
      else if (dto.live === false) await this.instances.requireCapability(current, 'offlineMigrate', 'migrate');
      else {
        try {
          await this.instances.requireCapability(current, 'liveMigrate', 'migrate');
        } catch {
          await this.instances.requireCapability(current, 'offlineMigrate', 'migrate');
        }
      }
    });
  }

  private async existing(id: string, name: string): Promise<void> {
    if (!NAME_PATTERN.test(name) || !(await this.snapshots.get(id, name))) throw problems.notFound('snapshot', `${name} of instance ${id}`);
  }

  private async change(
    principal: Principal,
    id: string,
    idem: IdempotencyContext,
    kind: 'snapshot' | 'restore' | 'snapshot-delete' | 'clone' | 'resize' | 'migrate',
    request: Record<string, unknown>,
    from: readonly InstanceState[],
    capability?: string,
    check?: () => Promise<void>,
    alsoWrite?: (em: Tx, instance: InstanceEntity) => Promise<void>,
  ): Promise<Submitted> {
    const replayed = await this.submitter.replay(principal, idem);
    if (replayed) return replayed;
    const instance = await this.instances.visible(principal, id);
    if (!canChange(principal, instance.projectId)) throw problems.forbidden(`the token (${principal.role}) may not change instances`);
    await check?.();
    return this.submitter.submit(principal, idem, {
      projectId: instance.projectId,
      instanceId: id,
      kind,
      request,
      before: async (em) => {
        const current = await this.repo.getLocked(em, id);
        if (!current || !from.includes(current.state)) await this.instances.refuse(id, current?.state ?? 'deleted', `${kind} needs the instance to be ${from.join(' or ')}`);
        if (capability) await this.instances.requireCapability(current!, capability, kind);
        await alsoWrite?.(em, current!);
      },
    });
  }
}
