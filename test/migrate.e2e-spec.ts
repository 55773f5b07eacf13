import { SimDriver } from '@hyperplane/drivers';
import { hostJobId, JobName, JobQueue } from '@hyperplane/queue';
import { allocationsMatchClaims, simHost, startStack, Stack, waitFor } from '@hyperplane/testing';

// Migration between simulated hosts (issue 14 §4): destination prepare → source send →
// destination finish (the commit point) → source cleanup; a failure at any step before the
// commit aborts both sides and leaves the instance running on its source, claims right.

jest.setTimeout(180_000);

const SIZE = { vcpus: 1, memoryMiB: 512, diskGiB: 5 };
const VM = { template: 'debian-12', technology: 'vm', resources: SIZE };
const CONTAINER = { template: 'debian-12', technology: 'container', resources: SIZE };

const FLEET = [
  simHost('lin-1', 'linux', 'x86_64'),
  simHost('lin-2', 'linux', 'x86_64'),
  simHost('bad-prepare', 'linux', 'x86_64', { faults: { 'migrate-prepare': { fatal: 1 } } }),
  simHost('bad-send', 'linux', 'x86_64', { faults: { 'migrate-send': { fatal: 1 } } }),
  simHost('bad-finish', 'linux', 'x86_64', { faults: { 'migrate-finish': { fatal: 1 } } }),
  simHost('flaky-cleanup', 'linux', 'x86_64', { faults: { 'migrate-cleanup': { transient: 1 } } }),
  simHost('bad-cleanup', 'linux', 'x86_64', { faults: { 'migrate-cleanup': { fatal: 1 } } }),
  simHost('win-1', 'windows', 'x86_64'),
];

/** Which simulated hosts hold a copy of the instance, and in which state. */
async function copies(stack: Stack, instanceId: string): Promise<{ host: string; state: string }[]> {
  const out: { host: string; state: string }[] = [];
  for (const hostId of stack.agent!.hostIds) {
    const driver = stack.agent!.driver(hostId, 'sim') as SimDriver | undefined;
    if (!driver) continue;
    for (const i of await driver.list()) if (i.id === instanceId) out.push({ host: hostId, state: i.state });
  }
  return out;
}

describe('migrating instances between simulated hosts', () => {
  let stack: Stack;
  const hostIdOf = new Map<string, string>();

  beforeAll(async () => {
    stack = await startStack({ simHosts: FLEET });
    for (const h of (await stack.client.get('/v1/hosts?limit=100')).body.items) hostIdOf.set(h.name, h.id);
  });
  afterAll(() => stack?.stop());

  async function createOn(name: string, host: string, spec = VM): Promise<any> {
    return (await stack.client.createAndWait({ ...spec, name, placement: { hostId: hostIdOf.get(host) } })).instance;
  }

  it('moves a running VM to a host the scheduler chooses (live), with the explanation, claims moved', async () => {
    const vm = await createOn('mv-auto', 'lin-1');
    // Only sound hosts to choose from (the others fail a step on purpose).
    const faulty = ['bad-prepare', 'bad-send', 'bad-finish', 'flaky-cleanup', 'bad-cleanup', 'win-1'].map((n) => hostIdOf.get(n)!);
    for (const h of faulty) expect((await stack.client.post(`/v1/hosts/${h}/actions/maintenance`, {})).status).toBe(200);
    const r = await stack.client.post(`/v1/instances/${vm.id}/migrate`, {});
    expect(r.status).toBe(202);
    const op = await stack.client.waitOp(r.body.id);
    for (const h of faulty) expect((await stack.client.post(`/v1/hosts/${h}/actions/activate`, {})).status).toBe(200);
    expect([op.status, op.error]).toEqual(['succeeded', null]);
    expect(op.kind).toBe('migrate');
    expect(op.result).toMatchObject({ from: hostIdOf.get('lin-1'), mode: 'live' });
    expect(op.result.explanation).toBeDefined();
    expect(JSON.stringify(op)).not.toMatch(/token/i);
    const after = (await stack.client.get(`/v1/instances/${vm.id}`)).body;
    expect(after.state).toBe('running');
    expect(after.hostId).toBe(op.result.to);
    expect(after.hostId).not.toBe(hostIdOf.get('lin-1'));
    expect(await copies(stack, vm.id)).toEqual([{ host: after.hostId, state: 'running' }]);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });

  it('moves a stopped container offline to the host asked for', async () => {
    const c = await createOn('mv-pinned', 'lin-1', CONTAINER);
    await stack.client.act(c.id, 'stop');
    const r = await stack.client.post(`/v1/instances/${c.id}/migrate`, { hostId: hostIdOf.get('lin-2') });
    expect(r.status).toBe(202);
    const op = await stack.client.waitOp(r.body.id);
    expect([op.status, op.result.mode, op.result.to]).toEqual(['succeeded', 'offline', hostIdOf.get('lin-2')]);
    const after = (await stack.client.get(`/v1/instances/${c.id}`)).body;
    expect([after.state, after.hostId]).toEqual(['stopped', hostIdOf.get('lin-2')]);
    expect(await copies(stack, c.id)).toEqual([{ host: hostIdOf.get('lin-2'), state: 'stopped' }]);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });

  it('refuses what cannot be done: 409 without the capability, 400 naming hostId, 404', async () => {
    const c = await createOn('no-live', 'lin-1', CONTAINER);
    const live = await stack.client.post(`/v1/instances/${c.id}/migrate`, { live: true });
    expect(live.status).toBe(409);
    expect(live.body.detail).toMatch(/cannot live-migrate/);
    const wc = (await stack.client.createAndWait({ template: 'windows-server-2022', technology: 'container', resources: SIZE, name: 'wc-1' })).instance;
    const none = await stack.client.post(`/v1/instances/${wc.id}/migrate`, {});
    expect(none.status).toBe(409);
    expect(none.body.detail).toMatch(/cannot migrate/);
    const same = await stack.client.post(`/v1/instances/${c.id}/migrate`, { hostId: hostIdOf.get('lin-1') });
    expect(same.status).toBe(400);
    expect(JSON.stringify(same.body)).toMatch(/hostId/);
    const unknown = await stack.client.post(`/v1/instances/${c.id}/migrate`, { hostId: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toMatch(/hostId/);
    const bad = await stack.client.post(`/v1/instances/${c.id}/migrate`, { hostId: 'x' });
    expect(bad.status).toBe(400);
    expect((await stack.client.post('/v1/instances/00000000-0000-4000-8000-000000000000/migrate', {})).status).toBe(404);
  });

  it.each([
    ['migrate-prepare', 'lin-1', 'bad-prepare'],
    ['migrate-send', 'bad-send', 'lin-2'],
    ['migrate-finish', 'lin-1', 'bad-finish'],
  ])('a failure of %s leaves the instance running on its source only, claims right', async (step, from, to) => {
    const vm = await createOn(`fail-${step}`, from);
    const r = await stack.client.post(`/v1/instances/${vm.id}/migrate`, { hostId: hostIdOf.get(to) });
    expect(r.status).toBe(202);
    const op = await stack.client.waitOp(r.body.id);
    expect(op.status).toBe('failed');
    expect(op.error.message).toContain(step);
    const after = (await stack.client.get(`/v1/instances/${vm.id}`)).body;
    expect([after.state, after.hostId]).toEqual(['running', hostIdOf.get(from)]);
    expect(await copies(stack, vm.id)).toEqual([{ host: hostIdOf.get(from), state: 'running' }]);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });

  it('a cleanup that fails transiently is sent again as a new attempt; a redelivered attempt changes nothing', async () => {
    const vm = await createOn('flaky-cleanup-vm', 'flaky-cleanup');
    const source = stack.agent!.driver(hostIdOf.get('flaky-cleanup')!, 'sim') as SimDriver;
    const r = await stack.client.post(`/v1/instances/${vm.id}/migrate`, { hostId: hostIdOf.get('lin-2') });
    expect(r.status).toBe(202);
    // The first sending fails (after the agent's own retries): the controller sends attempt 2.
    const job = async (): Promise<{ job_queue: string; job_id: string; job_data: Record<string, unknown>; step: string }> =>
      (await stack.sql.query('SELECT job_queue, job_id, job_data, step FROM operations WHERE id = $1', [r.body.id])).rows[0];
    await waitFor('the second sending of migrate-cleanup', async () => (await job()).job_id === hostJobId(r.body.id, 'migrate-cleanup', 2), 60_000);
    const second = await job();
    expect(second.step).toMatch(/migrate-cleanup on the source, attempt 2/);
    expect(second.job_data).toMatchObject({ command: 'migrate-cleanup', attempt: 2 });
    source.setFaults(undefined); // the trouble passes
    const op = await stack.client.waitOp(r.body.id);
    expect([op.status, op.error]).toEqual(['succeeded', null]);
    expect(op.result.stats?.cleanupFailed).toBeUndefined();
    expect(source.effects['migrate-cleanup']).toBe(1);
    expect(await copies(stack, vm.id)).toEqual([{ host: hostIdOf.get('lin-2'), state: 'running' }]);
    // Both sendings delivered again (a relay replayed, a reconciler resend): the same jobs, no new effect.
    const producer = new JobQueue({ url: stack.redisUrl, prefix: stack.config.HYPERPLANE_REDIS_PREFIX }, 'test-redeliver');
    try {
      for (const jobId of [hostJobId(r.body.id, 'migrate-cleanup'), second.job_id]) {
        await producer.enqueue({ queue: second.job_queue, name: JobName.HostCommand, jobId, data: second.job_data as never });
      }
      expect(await producer.jobState(second.job_queue, second.job_id)).toBe('completed');
      expect(await producer.jobState(second.job_queue, hostJobId(r.body.id, 'migrate-cleanup'))).toBe('failed');
    } finally {
      await producer.close();
    }
    expect(source.effects['migrate-cleanup']).toBe(1);
    expect((await stack.client.get(`/v1/operations/${op.id}`)).body).toMatchObject({ status: 'succeeded', updatedAt: op.updatedAt });
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });

  it('a cleanup that keeps failing transiently is sent 3 times at most, then the operation says a copy may remain', async () => {
    const source = stack.agent!.driver(hostIdOf.get('flaky-cleanup')!, 'sim') as SimDriver;
    source.setFaults({ 'migrate-cleanup': { transient: 1 } });
    try {
      const vm = await createOn('flaky-cleanup-for-good', 'flaky-cleanup');
      const r = await stack.client.post(`/v1/instances/${vm.id}/migrate`, { hostId: hostIdOf.get('lin-2') });
      const op = await stack.client.waitOp(r.body.id, 120);
      expect(op.status).toBe('succeeded');
      expect(op.result.stats).toMatchObject({ cleanupFailed: expect.stringMatching(/transient/), cleanupAttempts: 3 });
      const { rows } = await stack.sql.query('SELECT job_id FROM operations WHERE id = $1', [op.id]);
      expect(rows[0].job_id).toBe(hostJobId(op.id, 'migrate-cleanup', 3));
      const after = (await stack.client.get(`/v1/instances/${vm.id}`)).body;
      expect([after.state, after.hostId]).toEqual(['running', hostIdOf.get('lin-2')]);
      expect(await allocationsMatchClaims(stack)).toBe(true);
    } finally {
      source.setFaults(undefined);
    }
  });

  it('a cleanup that fails for good is not sent again: committed, the copy left says so, claims right', async () => {
    const vm = await createOn('bad-cleanup-vm', 'bad-cleanup');
    const r = await stack.client.post(`/v1/instances/${vm.id}/migrate`, { hostId: hostIdOf.get('lin-2') });
    const op = await stack.client.waitOp(r.body.id);
    expect(op.status).toBe('succeeded');
    expect(op.result.stats).toMatchObject({ cleanupFailed: expect.stringMatching(/migrate-cleanup/), cleanupAttempts: 1 });
    const after = (await stack.client.get(`/v1/instances/${vm.id}`)).body;
    expect([after.state, after.hostId]).toEqual(['running', hostIdOf.get('lin-2')]);
    expect(await copies(stack, vm.id)).toEqual(expect.arrayContaining([{ host: hostIdOf.get('lin-2'), state: 'running' }]));
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });

  it('refuses a second migration while one is active (409 naming it)', async () => {
    const vm = await createOn('busy', 'lin-1');
    const first = await stack.client.post(`/v1/instances/${vm.id}/migrate`, {});
    const second = await stack.client.post(`/v1/instances/${vm.id}/migrate`, {});
    if (second.status === 409) expect(JSON.stringify(second.body)).toContain(first.body.id);
    await stack.client.waitOp(first.body.id);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});

describe('cancelling a migration (real simulated durations)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ simHosts: [simHost('a', 'linux', 'x86_64'), simHost('b', 'linux', 'x86_64')], timeScale: 1 });
  });
  afterAll(() => stack?.stop());

  it('cancelled before the commit: both sides aborted, the instance runs on its source, claims right', async () => {
    const { instance } = await stack.client.createAndWait({ ...VM, name: 'cancel-me' }, 170);
    const r = await stack.client.post(`/v1/instances/${instance.id}/migrate`, {});
    expect(r.status).toBe(202);
    await waitFor('the migration to reach its host', async () => {
      const op = (await stack.client.get(`/v1/operations/${r.body.id}`)).body;
      return op.status === 'running' && /migrate-(prepare|send)/.test(op.step ?? '') ? op : null;
    });
    const cancel = await stack.client.post(`/v1/operations/${r.body.id}/cancel`);
    expect(cancel.status).toBeLessThan(300);
    const op = await stack.client.waitOp(r.body.id, 170);
    expect(op.status).toBe('cancelled');
    const after = (await stack.client.get(`/v1/instances/${instance.id}`)).body;
    expect([after.state, after.hostId]).toEqual(['running', instance.hostId]);
    expect(await copies(stack, instance.id)).toEqual([{ host: instance.hostId, state: 'running' }]);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});
