import { randomUUID } from 'node:crypto';
import { Database, InstanceRepository, OperationRepository, OutboxRepository } from '@hyperplane/db';
import { JobName, QueueName, runJobId } from '@hyperplane/queue';
import { simHost, startStack, Stack } from '@hyperplane/testing';
import { Rescheduler } from '../apps/controller/src/placement/rescheduler';

// The creates the chaos suite found stuck (seed 11): an instance of a batch was unschedulable
// while every host looked down; when hosts came back, the rescheduler read it as unschedulable,
// and before its transaction inserted a create, another create (the other controller's
// rescheduler) had placed it. The second create found the instance placed, took it for its own
// lost command and sent a create to the host while still `queued`; the host's answer is applied
// only to a running operation, so it stayed queued for good (and the reconciler sent it again
// and again). Both steps of that interleaving are reproduced here, one at a time.
describe('a create overtaken by another create', () => {
  let stack: Stack;

  /** A running instance, placed by its own create. */
  async function placed(name: string): Promise<{ id: string; projectId: string; hostId: string }> {
    const { op, instance } = await stack.client.createAndWait({ name, template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
    expect([op.status, instance.state]).toEqual(['succeeded', 'running']);
    const { rows } = await stack.sql.query('SELECT id, project_id, host_id FROM instances WHERE id = $1', [instance.id]);
    return { id: rows[0].id, projectId: rows[0].project_id, hostId: rows[0].host_id };
  }

  beforeAll(async () => {
    stack = await startStack({ simHosts: [simHost('only', 'linux', 'x86_64')] });
  });
  afterAll(() => stack.stop());

  it('the rescheduler queues no create for an instance placed while it was deciding', async () => {
    const instance = await placed('decided-late');
    // Its look at unschedulable instances answers what it saw before the instance was placed.
    const instances = stack.controller!.get(InstanceRepository);
    const [now] = await instances.byIds([instance.id]);
    const stale = { ...now!, state: 'unschedulable' as const, hostId: null };
    const rescheduler = stack.controller!.get(Rescheduler);
    await rescheduler.run(); // one of its own in flight (a host joined) is over first
    const look = jest.spyOn(instances, 'unschedulable').mockResolvedValueOnce([stale]);
    try {
      expect(await rescheduler.run()).toBe(0);
      expect(look).toHaveBeenCalledTimes(1);
    } finally {
      look.mockRestore();
    }
    const { rows } = await stack.sql.query('SELECT kind, status FROM operations WHERE instance_id = $1 ORDER BY created_at', [instance.id]);
    expect(rows).toEqual([{ kind: 'create', status: 'succeeded' }]);
  });

  it('a queued create whose instance another operation placed ends, and sends nothing to the host', async () => {
    const instance = await placed('overtaken');
    // What the rescheduler's transaction wrote in seed 11, a moment after the look above.
    const id = randomUUID();
    const db = stack.controller!.get(Database);
    await db.transaction(async (em) => {
      const [op] = await stack.controller!.get(OperationRepository).insertSystem(em, [
        { id, projectId: instance.projectId, instanceId: instance.id, kind: 'create', request: { reason: 'capacity appeared for an unschedulable instance' }, jobQueue: QueueName.Control, jobId: runJobId(id) },
      ]);
      expect(op?.id).toBe(id);
      await stack.controller!.get(OutboxRepository).add(em, [{ queue: QueueName.Control, jobName: JobName.RunOperation, jobId: runJobId(id), payload: { operationId: id } }]);
    });
    const ended = await stack.client.waitOp(id, 30);
    expect(ended.status).toBe('failed');
    expect(ended.error.code).toBe('invalid-state');
    expect(ended.error.message).toContain('another operation placed or removed it');
    // No host command went out for it, and the instance is as it was.
    const { rows } = await stack.sql.query('SELECT job_queue, job_id FROM operations WHERE id = $1', [id]);
    expect(rows[0]).toEqual({ job_queue: QueueName.Control, job_id: runJobId(id) });
    const after = (await stack.client.get(`/v1/instances/${instance.id}`)).body;
    expect([after.state, after.hostId]).toEqual(['running', instance.hostId]);
  });
});
