import { InstanceSpec } from '@hyperplane/drivers';
import { TemplateSpec } from '@hyperplane/domain';
import { InstanceEntity, OperationPatch } from '@hyperplane/db';
import { HostCommand, HostCommandPayload, hostQueueName, JobName } from '@hyperplane/queue';
import { OutboxMessage } from '@hyperplane/db';

export function hostJobId(operationId: string, command: HostCommand): string {
  return `cmd-${operationId}-${command}`;
}

export function instanceSpec(instance: InstanceEntity, template: TemplateSpec): InstanceSpec {
  return {
    id: instance.id,
    name: instance.name,
    template,
    technology: instance.technology!,
    arch: instance.arch!,
    resources: { vcpus: instance.vcpus, memoryMiB: instance.memoryMib, diskGiB: instance.diskGib },
    ...(instance.limits ? { limits: instance.limits } : {}),
  };
}

/**
 * A driver command for the instance's host: the outbox message that carries it, and the
 * operation fields that remember where it went (so lost work can be re-enqueued as it was).
 */
export function hostCommand(
  operationId: string,
  instance: InstanceEntity,
  command: HostCommand,
  extra: Omit<Partial<HostCommandPayload>, 'operationId' | 'instanceId' | 'hostId' | 'driver' | 'command'> = {},
): { message: OutboxMessage; patch: OperationPatch } {
  const payload: HostCommandPayload = {
    operationId,
    instanceId: instance.id,
    hostId: instance.hostId!,
    driver: instance.driver!,
    command,
    ...extra,
  };
  const queue = hostQueueName(instance.hostId!);
  const jobId = hostJobId(operationId, command);
  return {
    message: { queue, jobName: JobName.HostCommand, jobId, payload: payload as unknown as Record<string, unknown> },
    patch: { jobQueue: queue, jobId, jobData: payload as unknown as Record<string, unknown> },
  };
}
