import { randomUUID } from 'node:crypto';
import { InstanceSpec, TemplateSpec } from '@hyperplane/domain';
import { InstanceEntity, OperationEntity, OperationPatch, OutboxMessage } from '@hyperplane/db';
import { currentRequestId } from '@hyperplane/observability';
import {
  commandBatchJobId,
  HostCommand,
  HostCommandBatchPayload,
  HostCommandPayload,
  hostJobId,
  hostQueueName,
  isCommandBatchJobId,
  JobName,
  QueueMessage,
} from '@hyperplane/queue';

// Pure builders of host commands and their outbox messages. Only HostCommandSender (the one way
// a command is sent) and the reconciler's resend use them.

/** Commands in one command batch at most: a batch is one job, run and retried as a whole. */
export const MAX_COMMAND_BATCH = 100;

export function instanceSpec(instance: InstanceEntity, template: TemplateSpec): InstanceSpec {
  return {
    id: instance.id,
    name: instance.name,
    template,
    technology: instance.technology!,
    arch: instance.arch!,
    resources: { vcpus: instance.vcpus, memoryMiB: instance.memoryMib, diskGiB: instance.diskGib },
    ...(instance.limits ? { limits: instance.limits } : {}),
    ...(instance.isolation ? { isolation: instance.isolation } : {}),
  };
}

export type CommandExtra = Omit<Partial<HostCommandPayload>, 'operationId' | 'instanceId' | 'hostId' | 'driver' | 'command'>;

/** What a create carries besides the instance's identity: its whole spec, and whether to start it. */
export function createArgs(instance: InstanceEntity, template: TemplateSpec): CommandExtra {
  // `ha`: the agent fences the instance when it cannot renew its lease (apps/controller/src/ha).
  return { spec: instanceSpec(instance, template), start: instance.desiredState === 'running', ...(instance.ha?.restart ? { ha: true } : {}) };
}

/** A driver command for the instance's host. */
export function hostCommandPayload(operationId: string, instance: Pick<InstanceEntity, 'id' | 'hostId' | 'driver'>, command: HostCommand, extra: CommandExtra = {}): HostCommandPayload {
  // The request that made the operation (the job being run carries it) goes on to the agent.
  const requestId = currentRequestId();
  return { operationId, instanceId: instance.id, hostId: instance.hostId!, driver: instance.driver!, command, ...extra, ...(requestId ? { requestId } : {}) };
}

/**
 * A driver command sent alone (`agentId`: the host's agent, which its queue is named after): the outbox message that carries it, and the operation fields
 * that remember where it went (so lost work can be re-enqueued as it was).
 */
export function hostCommand(operationId: string, instance: InstanceEntity, agentId: string, command: HostCommand, extra: CommandExtra = {}): { message: OutboxMessage; patch: OperationPatch } {
  const payload = hostCommandPayload(operationId, instance, command, extra);
  const queue = hostQueueName(agentId, instance.hostId!);
  const jobId = hostJobId(operationId, command, payload.attempt);
  return {
    message: { queue, jobName: JobName.HostCommand, jobId, payload: payload as unknown as Record<string, unknown> },
    patch: { jobQueue: queue, jobId, jobData: payload as unknown as Record<string, unknown> },
  };
}

/**
 * Many commands as command batches: one job per host for up to MAX_COMMAND_BATCH of them. Each
 * operation's patch names the batch's job as the one it waits for. It keeps no copy of its
 * command (a create's is most of the instance's row): if the batch is lost, the command is made
 * again from the instance (see resendHostJob).
 */
export function hostCommandBatches(
  commands: { operationId: string; payload: HostCommandPayload }[],
  agents: ReadonlyMap<string, string>,
): { messages: OutboxMessage[]; patches: Map<string, OperationPatch> } {
  const byHost = new Map<string, { operationId: string; payload: HostCommandPayload }[]>();
  for (const c of commands) {
    const list = byHost.get(c.payload.hostId);
    if (list) list.push(c);
    else byHost.set(c.payload.hostId, [c]);
  }
  const messages: OutboxMessage[] = [];
  const patches = new Map<string, OperationPatch>();
  for (const [hostId, list] of byHost) {
    const agentId = agents.get(hostId);
    if (!agentId) throw new Error(`host ${hostId} no longer exists`);
    const queue = hostQueueName(agentId, hostId);
    for (let i = 0; i < list.length; i += MAX_COMMAND_BATCH) {
      const part = list.slice(i, i + MAX_COMMAND_BATCH);
      const jobId = commandBatchJobId(randomUUID());
      const payload: HostCommandBatchPayload = { hostId, commands: part.map((c) => c.payload) };
      messages.push({ queue, jobName: JobName.HostCommandBatch, jobId, payload: payload as unknown as Record<string, unknown> });
      for (const c of part) patches.set(c.operationId, { jobQueue: queue, jobId, jobData: null });
    }
  }
  return { messages, patches };
}

/**
 * The job to enqueue again for an operation whose host job was lost, and the job id the
 * operation must wait for from then on. A command that went in a batch goes again alone (the
 * other commands of its batch may have ended, and each has its own operation to resend), made
 * again from its instance: a delete's destroy (batch deletes), or else a create (batch creates;
 * it needs the template).
 */
export function resendHostJob(
  op: Pick<OperationEntity, 'id' | 'kind' | 'request' | 'jobQueue' | 'jobId' | 'jobData'>,
  rebuild?: { instance: InstanceEntity; template: TemplateSpec | null },
): QueueMessage<JobName.HostCommand> {
  if (!isCommandBatchJobId(op.jobId!)) return { queue: op.jobQueue!, name: JobName.HostCommand, jobId: op.jobId!, data: op.jobData as unknown as HostCommandPayload };
  if (!rebuild) throw new Error(`operation ${op.id} went in a command batch: its command is made again from its instance`);
  const { instance, template } = rebuild;
  if (op.kind === 'delete') {
    const data = hostCommandPayload(op.id, instance, 'destroy', op.request.force === true ? { stop: { force: true } } : {});
    return { queue: op.jobQueue!, name: JobName.HostCommand, jobId: hostJobId(op.id, 'destroy'), data };
  }
  if (!template) throw new Error(`operation ${op.id}: a create is made again from its template, and it has none`);
  const data = hostCommandPayload(op.id, instance, 'create', createArgs(instance, template));
  return { queue: op.jobQueue!, name: JobName.HostCommand, jobId: hostJobId(op.id, 'create'), data };
}
