import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { JobName } from '@hyperplane/queue';
import { simHost, startStack, Stack, waitFor } from '@hyperplane/testing';

/** What a host of the test's agent holds now (its runtime is the agent's own). */
function holdingsOf(stack: Stack, hostId: string): Promise<string[]> {
  const hosts = (stack.agent as unknown as { hosts: { hostId: string; holdings(): Promise<string[]> }[] }).hosts;
  return hosts.find((h) => h.hostId === hostId)!.holdings();
}

describe('orphan sweep: a copy made by a late command is removed in steady state', () => {
  let stack: Stack;
  let redis: IORedis;

  beforeAll(async () => {
    stack = await startStack({ timeScale: 0, simHosts: [simHost('orphan-1', 'linux', 'x86_64')] });
    redis = new IORedis(stack.redisUrl, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  it('removes the copy of a deleted instance that a create re-run after the delete made, and only that', async () => {
    const spec = (name: string) => ({ name, template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } });
    const { instance: kept } = await stack.client.createAndWait(spec('kept'), 60);
    const { op: created, instance: gone } = await stack.client.createAndWait(spec('gone'), 60);
    const hostId = gone.hostId as string;
    expect(kept.hostId).toBe(hostId);
    const del = await stack.client.delete(`/v1/instances/${gone.id}`);
    expect((await stack.client.waitOp(del.body.id, 60)).status).toBe('succeeded');
    expect(await holdingsOf(stack, hostId)).not.toContain(gone.id);

    // The create's job runs again after the delete (as a job re-run after its agent died would):
    // the host has a copy of an instance the database has deleted. Its result is ignored.
    const { rows } = await stack.sql.query(`SELECT job_queue, job_data FROM operations WHERE id = $1`, [created.id]);
    const queue = new Queue(rows[0].job_queue, { connection: redis, prefix: stack.config.HYPERPLANE_REDIS_PREFIX });
    try {
      await queue.add(JobName.HostCommand, rows[0].job_data, { jobId: `late-${created.id}` });
    } finally {
      await queue.close();
    }
    await waitFor('the late create to make its copy', async () => (await holdingsOf(stack, hostId)).includes(gone.id), 30_000, 50);

    // The first sweep only notes it; the second, with nothing done to it meanwhile, removes it.
    expect(await stack.agent!.sweepOrphans()).toEqual([]);
    expect(await holdingsOf(stack, hostId)).toContain(gone.id);
    expect(await stack.agent!.sweepOrphans()).toEqual([gone.id]);
    const left = await holdingsOf(stack, hostId);
    expect(left).not.toContain(gone.id);
    expect(left).toContain(kept.id);
    // The instance that lives here is untouched, and the plane still agrees with the host.
    expect((await stack.client.get(`/v1/instances/${kept.id}`)).body.state).toBe('running');
    expect(await stack.agent!.sweepOrphans()).toEqual([]);
  });
});
