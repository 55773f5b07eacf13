import { startStack, Stack } from '@hyperplane/testing';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (hours: number): string => new Date(T0 + hours * 3600_000).toISOString();

/**
 * A scripted life in simulated time. The state changes are written with SQL, each in its own
 * transaction whose clock is set (SET LOCAL hyperplane.clock, which the metering trigger reads
 * instead of now()); the trigger and the API's arithmetic are the real ones.
 */
describe('usage metering from state transitions', () => {
  let stack: Stack;
  let id: string;

  async function change(hours: number, set: string): Promise<void> {
    const c = await stack.sql.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SELECT set_config('hyperplane.clock', $1, true)`, [at(hours)]);
      await c.query(`UPDATE instances SET ${set} WHERE id = $1`, [id]);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  }

  beforeAll(async () => {
    stack = await startStack({ noAgent: true, noController: true });
    expect((await stack.client.post('/v1/projects', { name: 'metered' })).status).toBe(201);
    const r = await stack.client.post('/v1/instances', { name: 'life', project: 'metered', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 10 } });
    expect(r.status).toBe(202);
    id = r.body.instanceId;
    // create → placed → running for 3 h → stopped for 1 h → resized (stopped) → 30 min → deleted.
    await change(0, `state = 'provisioning', technology = 'container'`);
    await change(0, `state = 'running'`);
    await change(3, `state = 'stopped'`);
    await change(4, `vcpus = 4000, memory_mib = 4096, disk_gib = 20`); // vcpus in milli-vCPUs
    await change(4.5, `state = 'deleting'`);
    await change(4.5, `state = 'deleted', deleted_at = now()`);
  });
  afterAll(() => stack.stop());

  it('adds up exactly over the whole life, by state and per instance, for a deleted instance', async () => {
    const r = await stack.client.get(`/v1/usage?project=metered&from=${at(-24)}&to=${at(24)}`);
    expect(r.status).toBe(200);
    const [p] = r.body.projects;
    // running 3 h at 2 vCPU/2 GiB/10 GiB; stopped 1 h at that size and 0.5 h at 4/4/20.
    expect(p.totals).toEqual({ instanceHours: 4.5, vcpuHours: 10, memoryGiBHours: 10, diskGiBHours: 50 });
    expect(p.byState).toEqual({
      running: { instanceHours: 3, vcpuHours: 6, memoryGiBHours: 6, diskGiBHours: 30 },
      stopped: { instanceHours: 1.5, vcpuHours: 4, memoryGiBHours: 4, diskGiBHours: 20 },
    });
    expect(p.byTechnology).toEqual({ container: p.totals });
    expect(p.instances).toEqual([expect.objectContaining({ id, name: 'life', technology: 'container', totals: p.totals })]);
  });

  it('cuts intervals that straddle the window at its edges', async () => {
    const r = await stack.client.get(`/v1/usage?project=metered&from=${at(1)}&to=${at(3.5)}`);
    // 2 h running (1 → 3) and 0.5 h stopped (3 → 3.5), at the small size.
    expect(r.body.projects[0].totals).toEqual({ instanceHours: 2.5, vcpuHours: 5, memoryGiBHours: 5, diskGiBHours: 25 });
    expect((await stack.client.get(`/v1/usage?project=metered&from=${at(5)}&to=${at(6)}`)).body.projects).toEqual([]);
  });

  it('exports CSV, one row per instance and state', async () => {
    const r = await stack.client.request('GET', `/v1/usage?project=metered&from=${at(-1)}&to=${at(5)}&format=csv`);
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(String(r.body).trim().split('\n')).toEqual([
      'project,instance_id,instance_name,technology,state,instance_hours,vcpu_hours,memory_gib_hours,disk_gib_hours',
      `metered,${id},life,container,running,3,6,6,30`,
      `metered,${id},life,container,stopped,1.5,4,4,20`,
    ]);
  });
});
