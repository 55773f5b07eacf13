import { hostQueueName, JobQueue } from '@hyperplane/queue';
import { allocationsMatchClaims, ApiClient, MIXED_FLEET, startStack, Stack, waitFor } from '@hyperplane/testing';

// Cancel and time out a running operation (issue 14 §5): the operation ends, its waiter is
// answered, the host's work is stopped (a waiting command removed, a running one aborted through
// the driver's DriverContext.signal) and the instance is left in a defined state.

jest.setTimeout(120_000);

const CONTAINER = { template: 'debian-12', technology: 'container', resources: { vcpus: 1, memoryMiB: 512, diskGiB: 10 } };
const ONE_LINUX_HOST = [MIXED_FLEET[0]!];
// The simulator's durations × 1000: a container create takes minutes, so it is surely running
// when the test cancels it, and an end within seconds can only be the abort.
const SLOW = 1000;

/** The host job an operation waits for, and a view of the queues to look at it. */
async function hostJob(stack: Stack, operationId: string): Promise<{ queue: string; jobId: string }> {
  return waitFor('the command to be sent to the host', async () => {
    const { rows } = await stack.sql.query(`SELECT job_queue, job_id FROM operations WHERE id = $1 AND job_queue LIKE 'host-%'`, [operationId]);
    return rows[0] ? { queue: rows[0].job_queue as string, jobId: rows[0].job_id as string } : null;
  });
}

describe('cancelling a running operation', () => {
  let stack: Stack;
  let client: ApiClient;
  let queues: JobQueue;

  beforeAll(async () => {
    stack = await startStack({ simHosts: ONE_LINUX_HOST });
    client = stack.client;
    queues = new JobQueue({ url: stack.redisUrl, prefix: stack.config.HYPERPLANE_REDIS_PREFIX }, 'test');
  });
  afterAll(async () => {
    await queues?.close();
    await stack?.stop();
  });

  it('cancels a stop whose command waits at its host: 202, then cancelled; the command is withdrawn and the instance keeps running', async () => {
    const { instance } = await client.createAndWait({ ...CONTAINER, name: 'cancel-running-stop' });
    const hostQueue = queues.queue(hostQueueName(stack.agent!.id, instance.hostId));
    await hostQueue.pause();
    try {
      const stop = await client.post(`/v1/instances/${instance.id}/actions/stop`);
      expect(stop.status).toBe(202);
      await waitFor('the stop to run', async () => (await client.get(`/v1/operations/${stop.body.id}`)).body.status === 'running');
      const job = await hostJob(stack, stop.body.id);
      const cancel = await client.post(`/v1/operations/${stop.body.id}/cancel`);
      expect({ status: cancel.status, opStatus: cancel.body.status, step: cancel.body.step }).toEqual({ status: 202, opStatus: 'running', step: 'cancelling' });
      const done = await client.waitOp(stop.body.id);
      expect({ status: done.status, code: done.error?.code }).toEqual({ status: 'cancelled', code: 'cancelled' });
      await waitFor('the stop command to be withdrawn from the host queue', async () => (await hostQueue.getJob(job.jobId)) === undefined);
      // A second cancel is not an error.
      expect((await client.post(`/v1/operations/${stop.body.id}/cancel`)).body.status).toBe('cancelled');
    } finally {
      await hostQueue.resume();
    }
    const now = (await client.get(`/v1/instances/${instance.id}`)).body;
    expect({ state: now.state, desiredState: now.desiredState }).toEqual({ state: 'running', desiredState: 'running' });
    // Nothing blocks the next request, and the host did not stop it behind our back.
    expect((await client.act(instance.id, 'restart')).status).toBe('succeeded');
    expect((await client.get(`/v1/instances/${instance.id}`)).body.state).toBe('running');
  });

  it('refuses to cancel an operation that has ended with 409', async () => {
    const { op } = await client.createAndWait({ ...CONTAINER, name: 'cancel-ended' });
    const r = await client.post(`/v1/operations/${op.id}/cancel`);
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/succeeded/);
  });
});

describe('cancelling an operation its host is running', () => {
  let stack: Stack;
  let client: ApiClient;
  let queues: JobQueue;

  beforeAll(async () => {
    stack = await startStack({ simHosts: ONE_LINUX_HOST, timeScale: SLOW });
    client = stack.client;
    queues = new JobQueue({ url: stack.redisUrl, prefix: stack.config.HYPERPLANE_REDIS_PREFIX }, 'test');
  });
  afterAll(async () => {
    await queues?.close();
    await stack?.stop();
  });

  it('aborts the driver: the create ends cancelled, its host job ends aborted, and the instance stays in error with its claim', async () => {
    const r = await client.post('/v1/instances', { ...CONTAINER, name: 'cancel-running-create' });
    expect(r.status).toBe(202);
    const job = await hostJob(stack, r.body.id);
    await waitFor('the agent to run the create', async () => (await queues.jobState(job.queue, job.jobId)) === 'active');
    const cancel = await client.post(`/v1/operations/${r.body.id}/cancel`);
    expect(cancel.status).toBe(202);
    const done = await client.waitOp(r.body.id);
    expect({ status: done.status, code: done.error?.code }).toEqual({ status: 'cancelled', code: 'cancelled' });
    // The simulated create takes minutes: the job ends now only because the driver was aborted.
    await waitFor('the host job to end', async () => ['failed', 'completed'].includes(await queues.jobState(job.queue, job.jobId)), 30_000);
    const ended = await queues.queue(job.queue).getJob(job.jobId);
    expect(ended?.failedReason).toMatch(/aborted/);
    const instance = (await client.get(`/v1/instances/${r.body.instanceId}`)).body;
    expect({ state: instance.state, reason: instance.stateReason }).toEqual({ state: 'error', reason: expect.stringMatching(/cancelled/) });
    // It keeps its host and claim until it is deleted: allocations still equal the claims.
    expect(instance.hostId).toBeTruthy();
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});

describe('a running operation past its deadline', () => {
  let stack: Stack;
  let client: ApiClient;
  let queues: JobQueue;

  beforeAll(async () => {
    stack = await startStack({ simHosts: ONE_LINUX_HOST, timeScale: SLOW, config: { HYPERPLANE_OPERATION_TIMEOUTS: 'create=3' } });
    client = stack.client;
    queues = new JobQueue({ url: stack.redisUrl, prefix: stack.config.HYPERPLANE_REDIS_PREFIX }, 'test');
  });
  afterAll(async () => {
    await queues?.close();
    await stack?.stop();
  });

  it('ends failed with code timeout; a waiter is answered and the host work is aborted', async () => {
    const r = await client.post('/v1/instances', { ...CONTAINER, name: 'too-slow' });
    expect(r.status).toBe(202);
    const job = await hostJob(stack, r.body.id);
    // One server-side wait, longer than the deadline: it answers when the operation ends.
    const waited = await client.get(`/v1/operations/${r.body.id}/wait?timeoutS=60`);
    expect({ status: waited.body.status, code: waited.body.error?.code }).toEqual({ status: 'failed', code: 'timeout' });
    await waitFor('the host job to end', async () => ['failed', 'completed'].includes(await queues.jobState(job.queue, job.jobId)), 30_000);
    expect((await queues.queue(job.queue).getJob(job.jobId))?.failedReason).toMatch(/aborted/);
    const instance = (await client.get(`/v1/instances/${r.body.instanceId}`)).body;
    expect({ state: instance.state, reason: instance.stateReason }).toEqual({ state: 'error', reason: expect.stringMatching(/did not finish in time/) });
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});
