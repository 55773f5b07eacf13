import { randomUUID } from 'node:crypto';
import { InstanceEntity } from '@hyperplane/db';
import { commandBatchJobId, hostJobId, JobName } from '@hyperplane/queue';
import { TemplateSpec } from '@hyperplane/domain';
import { resendHostJob } from './host-command';

describe('a command lost with its command batch, sent again alone', () => {
  const instance = { id: randomUUID(), hostId: randomUUID(), driver: 'sim', vcpus: 1, memoryMib: 128, diskGib: 1, limits: null, ha: null, template: 'alpine-3.20' } as unknown as InstanceEntity;
  const op = (kind: 'create' | 'delete', request: Record<string, unknown> = {}) => ({ id: randomUUID(), kind, request, jobQueue: 'host-q', jobId: commandBatchJobId(randomUUID()), jobData: null });

  it("is a batch delete's destroy, forced when the batch was, under the destroy's own job id", () => {
    const plain = op('delete');
    const m = resendHostJob(plain, { instance, template: null });
    expect(m).toMatchObject({ queue: 'host-q', name: JobName.HostCommand, jobId: hostJobId(plain.id, 'destroy'), data: { operationId: plain.id, instanceId: instance.id, hostId: instance.hostId, command: 'destroy' } });
    expect(m.data.stop).toBeUndefined();
    const forced = op('delete', { action: 'delete', force: true });
    expect(resendHostJob(forced, { instance, template: null }).data).toMatchObject({ command: 'destroy', stop: { force: true } });
  });

  it("is a batch create's create, which needs its template", () => {
    const create = op('create');
    const template = { name: 'alpine-3.20' } as unknown as TemplateSpec;
    expect(resendHostJob(create, { instance, template })).toMatchObject({ jobId: hostJobId(create.id, 'create'), data: { command: 'create' } });
    expect(() => resendHostJob(create, { instance, template: null })).toThrow(/template/);
  });
});
