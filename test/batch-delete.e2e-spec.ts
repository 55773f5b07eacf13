import { randomUUID } from 'node:crypto';
import { JobQueue } from '@hyperplane/queue';
import { allocationsMatchClaims, startStack, Stack, waitFor } from '@hyperplane/testing';

// POST /v1/instances/batch-delete: many instances of one project deleted as one parent (kind
// batch-delete) with a `delete` child per instance, sent to their hosts in command batches and
// settled in bulk.
describe('batch delete', () => {
  let stack: Stack;
  const spec = { template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } };

  async function batch(namePrefix: string, count: number): Promise<string[]> {
    const r = await stack.client.post('/v1/instances/batch', { count, namePrefix, spec });
    expect(r.status).toBe(202);
    expect((await stack.client.waitOp(r.body.id, 120)).status).toBe('succeeded');
    const { rows } = await stack.sql.query(`SELECT id FROM instances WHERE name LIKE $1 || '-%' ORDER BY name`, [namePrefix]);
    return rows.map((x) => x.id as string);
  }

  beforeAll(async () => {
    stack = await startStack({ timeScale: 0 });
  });
  afterAll(() => stack.stop());

  it('deletes every instance, gives back every claim and ends the parent with the counts', async () => {
    const ids = await batch('gone', 40);
    // One never placed (no host can take it): it goes the single path and is deleted at once.
    const huge = await stack.client.post('/v1/instances', { ...spec, name: 'too-big', resources: { vcpus: 1, memoryMiB: 8 * 1024 * 1024, diskGiB: 1 } });
    expect(huge.status).toBe(202);
    expect((await stack.client.waitOp(huge.body.id, 60)).status).toBe('failed');
    const all = [...ids, huge.body.instanceId as string];

    const r = await stack.client.post('/v1/instances/batch-delete', { ids: all });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ kind: 'batch-delete', status: 'queued' });
    const parent = await stack.client.waitOp(r.body.id, 120);
    expect(parent).toMatchObject({ status: 'succeeded', result: { total: 41, succeeded: 41, failed: 0 } });

    const { rows: states } = await stack.sql.query(`SELECT state, count(*)::int AS n, count(host_id)::int AS on_hosts FROM instances WHERE id = ANY($1::uuid[]) GROUP BY state`, [all]);
    expect(states).toEqual([{ state: 'deleted', n: 41, on_hosts: 0 }]);
    const { rows: hosts } = await stack.sql.query(`SELECT sum(alloc_instances)::int AS n, sum(alloc_vcpus)::int AS v, sum(alloc_memory_mib)::int AS m FROM hosts`);
    expect(hosts[0]).toEqual({ n: 0, v: 0, m: 0 });
    expect(await allocationsMatchClaims(stack)).toBe(true);

    // The placed ones went to their hosts in command batches, not one job each.
    const { rows: children } = await stack.sql.query(`SELECT id, kind, status, job_id FROM operations WHERE parent_id = $1`, [r.body.id]);
    expect(children).toHaveLength(41);
    expect(new Set(children.map((c) => `${c.kind}/${c.status}`))).toEqual(new Set(['delete/succeeded']));
    expect(children.filter((c) => String(c.job_id).startsWith('cmds-'))).toHaveLength(40);
    // Children sent in bulk say nothing of their own while they go as planned (the one that
    // went the single path does); each instance's states do.
    const childIds = children.filter((c) => String(c.job_id).startsWith('cmds-')).map((c) => c.id);
    const { rows: childEvents } = await stack.sql.query(`SELECT count(*)::int AS n FROM events WHERE type = 'operation.status' AND subject_id = ANY($1::uuid[])`, [childIds]);
    expect(childEvents[0].n).toBe(0);
    const { rows: deletedEvents } = await stack.sql.query(
      `SELECT data->>'state' AS state, count(*)::int AS n FROM events WHERE type = 'instance.state' AND subject_id = ANY($1::uuid[]) AND data->>'state' IN ('deleting', 'deleted') GROUP BY 1 ORDER BY 1`,
      [ids],
    );
    expect(deletedEvents).toEqual([
      { state: 'deleted', n: 40 },
      { state: 'deleting', n: 40 },
    ]);
    // Usage stops being metered when an instance is deleted.
    const { rows: open } = await stack.sql.query(`SELECT count(*)::int AS n FROM usage_intervals WHERE instance_id = ANY($1::uuid[]) AND ended_at IS NULL`, [all]);
    expect(open[0].n).toBe(0);
  });

  it('refuses the whole batch when one instance has an active operation, and says which', async () => {
    const ids = await batch('busy', 5);
    const busy = ids[2]!;
    // An operation in the middle of its work on one of them (as a stop would be).
    const activeId = randomUUID();
    await stack.sql.query(
      `INSERT INTO operations (id, project_id, instance_id, kind, status, progress, step, request, started_at)
       SELECT $1, project_id, id, 'stop', 'running', 10, 'stop', '{"action":"stop"}', now() FROM instances WHERE id = $2`,
      [activeId, busy],
    );
    const r = await stack.client.post('/v1/instances/batch-delete', { ids });
    expect(r.status).toBe(409);
    expect(r.body.detail).toContain(busy);
    expect(r.body.operationId).toBe(activeId);
    // Nothing of the batch stayed: no parent, no child, no instance wanting to be deleted.
    const { rows } = await stack.sql.query(`SELECT count(*)::int AS n FROM operations WHERE instance_id = ANY($1::uuid[]) AND kind = 'delete'`, [ids]);
    expect(rows[0].n).toBe(0);
    const { rows: desired } = await stack.sql.query(`SELECT DISTINCT desired_state FROM instances WHERE id = ANY($1::uuid[])`, [ids]);
    expect(desired).toEqual([{ desired_state: 'running' }]);
    await stack.sql.query(`UPDATE operations SET status = 'cancelled', finished_at = now() WHERE id = $1`, [activeId]);

    // Nor a batch with an instance being deleted already (its own delete is active).
    const single = await stack.client.delete(`/v1/instances/${ids[0]}`);
    expect(single.status).toBe(202);
    const again = await stack.client.post('/v1/instances/batch-delete', { ids });
    if (again.status === 409) expect(again.body.detail).toContain(ids[0]);
    else {
      // The single delete had already finished: the instance is gone, which is a 404 for it.
      expect(again.status).toBe(404);
      expect(again.body.detail).toContain(ids[0]);
    }
    expect((await stack.client.waitOp(single.body.id, 60)).status).toBe('succeeded');
    const rest = await stack.client.post('/v1/instances/batch-delete', { ids: ids.slice(1) });
    expect(rest.status).toBe(202);
    expect((await stack.client.waitOp(rest.body.id, 60)).status).toBe('succeeded');
  });

  it('answers a wrong body with a 400 naming the field, an unknown id with a 404, and a replayed key with the same operation', async () => {
    const bad = async (body: unknown, field: string): Promise<void> => {
      const r = await stack.client.post('/v1/instances/batch-delete', body);
      expect([r.status, JSON.stringify(r.body)]).toEqual([400, expect.stringContaining(field)]);
    };
    await bad({}, 'ids');
    await bad({ ids: [] }, 'ids');
    await bad({ ids: ['not-a-uuid'] }, 'ids');
    const id = randomUUID();
    await bad({ ids: [id, id] }, 'ids');
    await bad({ ids: [id], force: 'yes' }, 'force');
    await bad({ ids: Array.from({ length: 10_001 }, () => randomUUID()) }, 'ids');

    const ids = await batch('keyed', 3);
    const unknown = await stack.client.post('/v1/instances/batch-delete', { ids: [...ids, id] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toContain(id);

    const key = { 'Idempotency-Key': `bd-${randomUUID()}` };
    const first = await stack.client.request('POST', '/v1/instances/batch-delete', { body: { ids, force: true }, headers: key });
    expect(first.status).toBe(202);
    const { rows: asked } = await stack.sql.query(`SELECT request FROM operations WHERE id = $1 OR parent_id = $1 ORDER BY parent_id NULLS FIRST`, [first.body.id]);
    expect(asked.map((x) => x.request)).toEqual([{ action: 'delete', count: 3, force: true }, ...Array(3).fill({ action: 'delete', batch: first.body.id, force: true })]);
    const second = await stack.client.request('POST', '/v1/instances/batch-delete', { body: { ids, force: true }, headers: key });
    expect(second.body.id).toBe(first.body.id);
    expect((await stack.client.waitOp(first.body.id, 60)).status).toBe('succeeded');
  });

  it('keeps a viewer out and a project token to its project', async () => {
    const ids = await batch('guarded', 2);
    const viewer = (await stack.client.post('/v1/tokens', { name: 'bd-viewer', role: 'viewer' })).body;
    expect((await stack.client.as(viewer.token).post('/v1/instances/batch-delete', { ids })).status).toBe(403);
    expect((await stack.client.post('/v1/projects', { name: 'elsewhere' })).status).toBe(201);
    const other = (await stack.client.post('/v1/tokens', { name: 'bd-other', role: 'operator', project: 'elsewhere' })).body;
    // Another project's instances are not there for it.
    expect((await stack.client.as(other.token).post('/v1/instances/batch-delete', { ids })).status).toBe(404);
    // Instances of two projects are two batches.
    const theirs = await stack.client.as(other.token).post('/v1/instances', { ...spec, name: 'theirs', project: 'elsewhere' });
    expect(theirs.status).toBe(202);
    expect((await stack.client.waitOp(theirs.body.id, 60)).status).toBe('succeeded');
    const mixed = await stack.client.post('/v1/instances/batch-delete', { ids: [...ids, theirs.body.instanceId] });
    expect(mixed.status).toBe(400);
    expect(JSON.stringify(mixed.body)).toContain('ids');
    const { rows } = await stack.sql.query(`SELECT count(*)::int AS n FROM instances WHERE id = ANY($1::uuid[]) AND desired_state = 'deleted'`, [ids]);
    expect(rows[0].n).toBe(0);
  });
});

describe('a batch delete whose command batches Redis lost', () => {
  let stack: Stack;

  beforeAll(async () => {
    // Hosts stay ready while the test holds their agent stopped.
    stack = await startStack({ timeScale: 0, config: { HYPERPLANE_HEARTBEAT_TIMEOUT_S: 120 } });
  });
  afterAll(() => stack.stop());

  it('sends each destroy again alone, and every instance is deleted', async () => {
    const made = await stack.client.post('/v1/instances/batch', { count: 8, namePrefix: 'lost', spec: { template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } } });
    expect((await stack.client.waitOp(made.body.id, 120)).status).toBe('succeeded');
    const ids = (await stack.sql.query(`SELECT id FROM instances WHERE name LIKE 'lost-%'`)).rows.map((x) => x.id as string);
    // Nobody takes the hosts' jobs: the command batches wait in Redis, where they are lost.
    await stack.agent!.stop();
    const r = await stack.client.post('/v1/instances/batch-delete', { ids });
    expect(r.status).toBe(202);
    const sent = await waitFor('the destroys sent in command batches', async () => {
      const { rows } = await stack.sql.query(`SELECT DISTINCT job_queue, job_id FROM operations WHERE parent_id = $1 AND status = 'running' AND job_id LIKE 'cmds-%'`, [r.body.id]);
      const { rows: n } = await stack.sql.query(`SELECT count(*)::int AS n FROM operations WHERE parent_id = $1 AND status = 'running' AND job_id LIKE 'cmds-%'`, [r.body.id]);
      return n[0].n === 8 ? rows : null;
    });
    const queue = new JobQueue({ url: stack.redisUrl, prefix: stack.config.HYPERPLANE_REDIS_PREFIX }, 'batch-delete-test');
    try {
      for (const j of sent) await queue.removeJob(j.job_queue, j.job_id);
    } finally {
      await queue.close();
    }
    // The reconciler finds each batch gone with its operations open, and sends each destroy alone.
    await waitFor(
      'each destroy sent again alone',
      async () => (await stack.sql.query(`SELECT count(*)::int AS n FROM operations WHERE parent_id = $1 AND job_id = 'cmd-' || id || '-destroy'`, [r.body.id])).rows[0].n === 8,
      60_000,
    );
    stack.agent = await stack.startAgent();
    const parent = await stack.client.waitOp(r.body.id, 120);
    expect(parent).toMatchObject({ status: 'succeeded', result: { total: 8, succeeded: 8 } });
    const { rows } = await stack.sql.query(`SELECT DISTINCT state FROM instances WHERE id = ANY($1::uuid[])`, [ids]);
    expect(rows).toEqual([{ state: 'deleted' }]);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});
