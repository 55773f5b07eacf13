import { SimDriver } from '@hyperplane/drivers';
import { DEFAULT_POLICY, usableCapacity } from '@hyperplane/scheduler';
import { simHost, startStack, Stack } from '@hyperplane/testing';

const SMALL_FLEET = [
  simHost('small-1', 'linux', 'x86_64', { capacity: { vcpus: 8, memoryMiB: 16384, diskGiB: 200 } }),
  simHost('small-2', 'linux', 'x86_64', { capacity: { vcpus: 8, memoryMiB: 16384, diskGiB: 200 } }),
  simHost('small-3', 'linux', 'x86_64', { capacity: { vcpus: 4, memoryMiB: 8192, diskGiB: 100 } }),
];

describe('100 concurrent creates on a small fleet', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ simHosts: SMALL_FLEET });
  });
  afterAll(() => stack.stop());

  it('never overcommits a host, and every host holds exactly the sum of its instances', async () => {
    const posts = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        stack.client.post('/v1/instances', {
          name: `burst-${i}`,
          template: i % 2 ? 'debian-12' : 'alpine-3.20',
          technology: i % 3 === 0 ? 'vm' : 'container',
          resources: { vcpus: 1 + (i % 2), memoryMiB: 1024 + 512 * (i % 3), diskGiB: 5 },
        }),
      ),
    );
    expect(posts.map((p) => p.status)).toEqual(Array(100).fill(202));
    const ops = await Promise.all(posts.map((p) => stack.client.waitOp(p.body.id, 120)));

    const succeeded = ops.filter((o) => o.status === 'succeeded');
    const failed = ops.filter((o) => o.status === 'failed');
    expect(succeeded.length + failed.length).toBe(100);
    // The fleet is too small for all of them: the rest are refused with a reason, not lost.
    expect(succeeded.length).toBeGreaterThan(10);
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) {
      expect(f.error.code).toBe('unschedulable');
      expect(f.error.message).toMatch(/^0 of 3 hosts fit: /);
    }
    const instances = (await stack.client.get('/v1/instances?limit=500')).body.items;
    expect(instances.filter((i: any) => i.state === 'running')).toHaveLength(succeeded.length);
    expect(instances.filter((i: any) => i.state === 'unschedulable')).toHaveLength(failed.length);

    const hosts = (await stack.client.get('/v1/hosts')).body.items;
    for (const h of hosts) {
      // Mixed technologies: the container ratios are the larger, so they bound every claim.
      const usable = usableCapacity({ capacity: h.capacity }, 'container', DEFAULT_POLICY);
      expect(h.allocated.vcpus).toBeLessThanOrEqual(usable.vcpus);
      expect(h.allocated.memoryMiB).toBeLessThanOrEqual(usable.memoryMiB);
      expect(h.allocated.diskGiB).toBeLessThanOrEqual(usable.diskGiB);
    }
    const { rows } = await stack.sql.query(`
      SELECT h.name, h.alloc_vcpus, h.alloc_memory_mib, h.alloc_disk_gib, h.alloc_instances,
             COALESCE(SUM(i.claim_vcpus), 0)::int AS s_vcpus, COALESCE(SUM(i.claim_memory_mib), 0)::int AS s_mem,
             COALESCE(SUM(i.claim_disk_gib), 0)::int AS s_disk, COUNT(i.id)::int AS s_n
      FROM hosts h LEFT JOIN instances i ON i.host_id = h.id GROUP BY h.id ORDER BY h.name`);
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      expect([r.name, r.alloc_vcpus, r.alloc_memory_mib, r.alloc_disk_gib, r.alloc_instances]).toEqual([r.name, r.s_vcpus, r.s_mem, r.s_disk, r.s_n]);
    }
    expect(rows.reduce((n: number, r: any) => n + r.s_n, 0)).toBe(succeeded.length);
    // And each simulated host agrees: nothing was refused for lack of room on the host itself.
    for (const h of hosts) {
      const sim = stack.agent!.driver(h.id, 'sim') as SimDriver;
      expect(sim.committed().memoryMiB).toBe(h.allocated.memoryMiB);
    }
  });

  it('gives back every claim when the instances are deleted', async () => {
    // Every instance goes, the unschedulable ones too: as deletes free room, the rescheduler
    // may place a waiting instance (a create of its own), and that one must be deleted as
    // well once its create has ended (its delete is a 409 naming that operation until then).
    for (let round = 0; ; round++) {
      const left = (await stack.client.get('/v1/instances?limit=500')).body.items.filter((i: any) => i.state !== 'deleted');
      if (left.length === 0) break;
      if (round > 20) throw new Error(`instances left after ${round} rounds of deletes: ${left.map((i: any) => `${i.name} ${i.state}`).join(', ')}`);
      const dels = await Promise.all(left.map((i: any) => stack.client.delete(`/v1/instances/${i.id}`)));
      const waits = dels.map((d) => (d.status === 202 ? d.body.id : d.status === 409 ? d.body.operationId : null));
      expect(dels.filter((d, i) => !waits[i]).map((d) => `${d.status} ${JSON.stringify(d.body)}`)).toEqual([]);
      const ops = await Promise.all(waits.map((id) => stack.client.waitOp(id, 120)));
      expect(ops.filter((o, i) => dels[i]!.status === 202 && o.status !== 'succeeded')).toEqual([]);
    }
    const { rows } = await stack.sql.query('SELECT alloc_vcpus + alloc_memory_mib + alloc_disk_gib + alloc_instances AS held FROM hosts');
    expect(rows.map((r: any) => r.held)).toEqual([0, 0, 0]);
  });
});
