import { DriftService } from '@hyperplane/controller';
import { startStack, Stack } from '@hyperplane/testing';

describe("a batch's events, and drift reports at scale", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ timeScale: 0 });
  });
  afterAll(() => stack.stop());

  it("records each child's instance states and the parent's progress, but no operation.status of the children", async () => {
    const r = await stack.client.post('/v1/instances/batch', { count: 30, namePrefix: 'ev', spec: { template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } } });
    expect(r.status).toBe(202);
    expect((await stack.client.waitOp(r.body.id, 120)).status).toBe('succeeded');
    const { rows: children } = await stack.sql.query(`SELECT id, instance_id FROM operations WHERE parent_id = $1`, [r.body.id]);
    expect(children).toHaveLength(30);
    const { rows: childEvents } = await stack.sql.query(`SELECT count(*)::int AS n FROM events WHERE type = 'operation.status' AND subject_id = ANY($1::uuid[])`, [children.map((c) => c.id)]);
    expect(childEvents[0].n).toBe(0);
    // Every child's instance went pending → provisioning → running, each step an event.
    const { rows: states } = await stack.sql.query(
      `SELECT data->>'state' AS state, count(*)::int AS n FROM events WHERE type = 'instance.state' AND subject_id = ANY($1::uuid[]) GROUP BY 1 ORDER BY 1`,
      [children.map((c) => c.instance_id)],
    );
    expect(states).toEqual([
      { state: 'pending', n: 30 },
      { state: 'provisioning', n: 30 },
      { state: 'running', n: 30 },
    ]);
    const { rows: parent } = await stack.sql.query(`SELECT data->>'status' AS status FROM events WHERE type = 'operation.status' AND subject_id = $1 ORDER BY id`, [r.body.id]);
    expect(parent[0].status).toBe('queued');
    expect(parent[parent.length - 1].status).toBe('succeeded');
  });

  it('moves only the instances whose reported state differs, and those missing from the report', async () => {
    const { rows: linux } = await stack.sql.query(`SELECT id FROM hosts WHERE os = 'linux' ORDER BY name LIMIT 1`);
    const spec = { template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 }, placement: { hostId: linux[0].id } };
    const r = await stack.client.post('/v1/instances/batch', { count: 3, namePrefix: 'drift', spec });
    expect((await stack.client.waitOp(r.body.id, 120)).status).toBe('succeeded');
    const { rows } = await stack.sql.query(`SELECT id, host_id FROM instances WHERE name LIKE 'drift-%' ORDER BY name`);
    expect(new Set(rows.map((x) => x.host_id))).toEqual(new Set([linux[0].id]));
    const [same, stopped, missing] = rows.map((x) => x.id as string);
    // The first test's batch may share this host: its instances are reported as they are, so only the three named here can move.
    const { rows: others } = await stack.sql.query(`SELECT id, state FROM instances WHERE host_id = $1 AND NOT (id = ANY($2::uuid[]))`, [linux[0].id, rows.map((x) => x.id)]);
    const drift = stack.controller!.get(DriftService);
    const changed = await drift.apply({
      hostId: rows[0].host_id,
      observedAt: new Date(Date.now() + 1000).toISOString(),
      instances: [
        { id: same!, state: 'running' },
        { id: stopped!, state: 'stopped' },
        ...others.map((o) => ({ id: o.id as string, state: o.state as 'running' })),
      ],
    });
    expect(changed).toBe(2);
    const { rows: after } = await stack.sql.query(`SELECT id, state, state_reason FROM instances WHERE id = ANY($1::uuid[])`, [rows.map((x) => x.id)]);
    const byId = new Map(after.map((a) => [a.id, a]));
    expect(byId.get(same)).toMatchObject({ state: 'running', state_reason: null });
    expect(byId.get(stopped)).toMatchObject({ state: 'stopped', state_reason: 'found stopped on its host' });
    expect(byId.get(missing)).toMatchObject({ state: 'error', state_reason: 'missing on its host' });
    // A report from before the last change moves nothing.
    expect(await drift.apply({ hostId: rows[0].host_id, observedAt: new Date(0).toISOString(), instances: [] })).toBe(0);
  });
});
