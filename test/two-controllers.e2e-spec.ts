import { INestApplicationContext } from '@nestjs/common';
import { OperationRunner, startController } from '@hyperplane/controller';
import { Database, HostRepository } from '@hyperplane/db';
import { DEFAULT_POLICY, usableCapacity } from '@hyperplane/scheduler';
import { simHost, startStack, Stack } from '@hyperplane/testing';

const TIGHT = Array.from({ length: 6 }, (_, i) => simHost(`tight-${i + 1}`, 'linux', 'x86_64', { capacity: { vcpus: 8, memoryMiB: 16384, diskGiB: 300 } }));

describe('two controllers placing 500 concurrent creates on a tight fleet', () => {
  let stack: Stack;
  let second: INestApplicationContext;

  beforeAll(async () => {
    stack = await startStack({ simHosts: TIGHT, agent: { concurrency: 16 } });
    second = await startController(stack.config);
  });
  afterAll(async () => {
    await second.close();
    await stack.stop();
  });

  it('overcommits no host; every instance runs or is unschedulable with a reason; allocations equal the sums', async () => {
    const runs = [jest.spyOn(stack.controller!.get(OperationRunner), 'run'), jest.spyOn(second.get(OperationRunner), 'run')];
    const posts = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        stack.client.post('/v1/instances', {
          name: `t-${i}`,
          template: i % 4 === 0 ? 'debian-12' : 'alpine-3.20',
          technology: i % 5 === 0 ? 'vm' : 'container',
          resources: { vcpus: 1 + (i % 3), memoryMiB: 256 * (1 + (i % 4)), diskGiB: 2 + (i % 5) },
        }),
      ),
    );
    expect(posts.filter((p) => p.status !== 202)).toEqual([]);
    const ops = await Promise.all(posts.map((p) => stack.client.waitOp(p.body.id, 180)));
    // Both controllers took part.
    expect(runs.map((r) => r.mock.calls.length > 0)).toEqual([true, true]);

    const failed = ops.filter((o) => o.status !== 'succeeded');
    expect(failed.every((o) => o.status === 'failed' && o.error.code === 'unschedulable')).toBe(true);
    expect(failed.length).toBeGreaterThan(0); // the fleet is tight on purpose
    const instances = (await stack.sql.query(`SELECT state, state_reason FROM instances`)).rows;
    expect(instances).toHaveLength(500);
    for (const i of instances) {
      expect(['running', 'unschedulable']).toContain(i.state);
      if (i.state === 'unschedulable') expect(i.state_reason).toMatch(/^0 of 6 hosts fit: /);
    }
    expect(instances.filter((i: any) => i.state === 'running')).toHaveLength(500 - failed.length);

    const { rows } = await stack.sql.query(`
      SELECT h.name, h.cap_vcpus, h.cap_memory_mib, h.cap_disk_gib, h.alloc_vcpus, h.alloc_memory_mib, h.alloc_disk_gib, h.alloc_instances,
             COALESCE(SUM(i.claim_vcpus), 0)::int AS s_vcpus, COALESCE(SUM(i.claim_memory_mib), 0)::int AS s_mem,
             COALESCE(SUM(i.claim_disk_gib), 0)::int AS s_disk, COUNT(i.id)::int AS s_n
      FROM hosts h LEFT JOIN instances i ON i.host_id = h.id GROUP BY h.id ORDER BY h.name`);
    for (const r of rows) {
      expect([r.name, r.alloc_vcpus, r.alloc_memory_mib, r.alloc_disk_gib, r.alloc_instances]).toEqual([r.name, r.s_vcpus, r.s_mem, r.s_disk, r.s_n]);
      // vCPU columns hold milli-vCPUs.
      const usable = usableCapacity({ capacity: { vcpus: r.cap_vcpus / 1000, memoryMiB: r.cap_memory_mib, diskGiB: r.cap_disk_gib, instances: 0 } }, 'container', DEFAULT_POLICY);
      expect(r.alloc_vcpus / 1000).toBeLessThanOrEqual(usable.vcpus);
      expect(r.alloc_memory_mib).toBeLessThanOrEqual(usable.memoryMiB);
      expect(r.alloc_disk_gib).toBeLessThanOrEqual(usable.diskGiB);
    }
  });

  it('claims many hosts in one statement, each claim guarded on its own', async () => {
    const hosts = stack.controller!.get(HostRepository);
    const [a, b] = (await stack.sql.query<{ id: string }>(`SELECT id FROM hosts ORDER BY name LIMIT 2`)).rows.map((r) => r.id);
    const alloc = async (q: (sql: string, params: unknown[]) => Promise<{ id: string; m: number }[]>): Promise<Record<string, number>> =>
      Object.fromEntries((await q(`SELECT id, alloc_memory_mib AS m FROM hosts WHERE id = ANY($1)`, [[a, b]])).map((r) => [r.id, r.m]));
    const outside = async (sql: string, params: unknown[]): Promise<{ id: string; m: number }[]> => (await stack.sql.query(sql, params)).rows;
    const before = await alloc(outside);
    const limits = { ratios: DEFAULT_POLICY.ratios.container, reserved: DEFAULT_POLICY.reserved, maxInstancesPerHost: DEFAULT_POLICY.maxInstancesPerHost };
    const small = { vcpus: 0, memoryMiB: 1, diskGiB: 0 };
    const rolledBack = new Error('roll back');
    await expect(
      stack.controller!.get(Database).transaction(async (em) => {
        const granted = await hosts.claimMany(em, [
          { hostId: b!, technology: 'container', claim: { vcpus: 0, memoryMiB: 1 << 30, diskGiB: 0 }, instances: 1, limits },
          { hostId: a!, technology: 'container', claim: small, instances: 2, limits },
        ]);
        // a's claim fits and is made; b's does not, and b is left as it was.
        expect([...granted]).toEqual([a]);
        expect(await alloc((sql, params) => em.query(sql, params))).toEqual({ [a!]: before[a!]! + 1, [b!]: before[b!] });
        await expect(hosts.claimMany(em, [{ hostId: a!, technology: 'container', claim: small, instances: 1, limits }, { hostId: a!, technology: 'vm', claim: small, instances: 1, limits }])).rejects.toThrow(/only once/);
        throw rolledBack;
      }),
    ).rejects.toBe(rolledBack);
    expect(await alloc(outside)).toEqual(before);
  });

  it('records heartbeats without waiting for a placement that holds a host row', async () => {
    const hosts = stack.controller!.get(HostRepository);
    const [a, b] = (await stack.sql.query<{ id: string }>(`SELECT id FROM hosts ORDER BY name LIMIT 2`)).rows.map((r) => r.id);
    const placing = await stack.sql.connect();
    try {
      // A placement's transaction: host a's row is locked until it commits.
      await placing.query('BEGIN');
      await placing.query('UPDATE hosts SET version = version + 1 WHERE id = $1', [a]);
      const at = Date.now() + 60_000;
      const recorded = hosts.recordHeartbeats([{ id: a!, at }, { id: b!, at }]).then(() => 'recorded');
      const waited = new Promise((resolve) => setTimeout(() => resolve('waited for the lock'), 10_000).unref());
      expect(await Promise.race([recorded, waited])).toBe('recorded');
      const beats = async (): Promise<Record<string, number>> =>
        Object.fromEntries(
          (await stack.sql.query<{ id: string; at: Date | null }>(`SELECT id, last_heartbeat_at AS at FROM hosts WHERE id = ANY($1)`, [[a, b]])).rows.map((r) => [r.id, r.at?.getTime() ?? 0]),
        );
      // b is written; a, held by the placement, is left for the next check.
      const held = await beats();
      expect(held[b!]).toBe(at);
      expect(held[a!]).not.toBe(at);
      await placing.query('COMMIT');
      await hosts.recordHeartbeats([{ id: a!, at }]);
      expect((await beats())[a!]).toBe(at);
    } finally {
      await placing.query('ROLLBACK').catch(() => undefined);
      placing.release();
    }
  });
});
