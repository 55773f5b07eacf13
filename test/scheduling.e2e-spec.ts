import { AgentRuntime } from '@hyperplane/agent';
import { simHost, startStack, Stack, waitFor } from '@hyperplane/testing';

const FLEET = [
  simHost('lin-a', 'linux', 'x86_64', { capacity: { vcpus: 16, memoryMiB: 32768, diskGiB: 500 } }),
  simHost('lin-b', 'linux', 'x86_64', { capacity: { vcpus: 16, memoryMiB: 32768, diskGiB: 500 } }),
  simHost('lin-c', 'linux', 'x86_64', { capacity: { vcpus: 16, memoryMiB: 32768, diskGiB: 500 } }),
  simHost('win-a', 'windows', 'x86_64', { capacity: { vcpus: 16, memoryMiB: 32768, diskGiB: 500 } }),
  simHost('mac-a', 'macos', 'arm64', { capacity: { vcpus: 8, memoryMiB: 16384, diskGiB: 250 } }),
];

const small = { vcpus: 1, memoryMiB: 512, diskGiB: 5 };

describe('hybrid placement through the API', () => {
  let stack: Stack;
  let hostName: Map<string, string>;

  beforeAll(async () => {
    stack = await startStack({ simHosts: FLEET });
    hostName = new Map((await stack.client.get('/v1/hosts')).body.items.map((h: any) => [h.id, h.name]));
  });
  afterAll(() => stack.stop());

  describe('preview', () => {
    it('answers what a create would do, and the create then does it', async () => {
      const body = { name: 'previewed', template: 'debian-12', technology: 'auto', resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 } };
      const before = (await stack.sql.query('SELECT count(*)::int AS n FROM instances')).rows[0].n;
      const preview = await stack.client.post('/v1/placements/preview', body);
      expect(preview.status).toBe(200);
      expect(preview.body).toMatchObject({ ok: true, technology: 'container', driver: 'sim' });
      expect(preview.body.explanation.summary).toEqual(expect.stringContaining(preview.body.hostName));
      // Nothing was written.
      expect((await stack.sql.query('SELECT count(*)::int AS n FROM instances')).rows[0].n).toBe(before);
      const { instance } = await stack.client.createAndWait(body);
      expect([instance.hostId, instance.technology, instance.driver]).toEqual([preview.body.hostId, preview.body.technology, preview.body.driver]);
    });

    it('explains a request no host can take, filter by filter', async () => {
      const preview = await stack.client.post('/v1/placements/preview', { template: 'windows-server-2022', technology: 'container', resources: { vcpus: 1, memoryMiB: 999999, diskGiB: 5 } });
      expect(preview.body.ok).toBe(false);
      expect(preview.body.reason).toMatch(/^0 of 5 hosts fit: /);
      expect(preview.body.explanation.rejections.reduce((n: number, r: any) => n + r.count, 0)).toBe(5);
    });

    it("shows a project's token why, but not the rest of the fleet: no host names, no counts of hosts", async () => {
      expect((await stack.client.post('/v1/projects', { name: 'tenant-view' })).status).toBe(201);
      const issued = await stack.client.post('/v1/tokens', { name: 'tenant-view-op', role: 'operator', project: 'tenant-view' });
      const tenant = stack.client.as(issued.body.token);
      const names = [...hostName.values()];
      const leaks = (body: unknown): string[] => {
        const text = JSON.stringify(body);
        return [...names.filter((n) => text.includes(n)), ...(/\d+ of \d+ hosts|"count"|hostsConsidered|"alternatives"|"hostName"/.exec(text) ?? [])];
      };

      const tooBig = { template: 'windows-server-2022', technology: 'container', resources: { vcpus: 1, memoryMiB: 999999, diskGiB: 5 } };
      const refused = await tenant.post('/v1/placements/preview', tooBig);
      expect(refused.status).toBe(200);
      expect(refused.body.ok).toBe(false);
      expect(refused.body.reason).toMatch(/^no host fits: hosts /);
      expect(refused.body.explanation.rejections.map((r: any) => r.code)).toContain('os');
      expect(leaks(refused.body)).toEqual([]);
      // The fleet's token still gets the figures.
      expect((await stack.client.post('/v1/placements/preview', tooBig)).body.reason).toMatch(/^0 of 5 hosts fit: /);

      const fits = await tenant.post('/v1/placements/preview', { template: 'alpine-3.20', technology: 'container', resources: small });
      expect(fits.body).toMatchObject({ ok: true, technology: 'container', driver: 'sim' });
      expect(hostName.has(fits.body.hostId)).toBe(true);
      expect(fits.body.explanation.summary).toBe('A container with the sim driver, on the best-scoring host that fits');
      expect(leaks(fits.body)).toEqual([]);

      const { op, instance } = await tenant.createAndWait({ ...tooBig, name: 'tenant-too-big' });
      expect(instance.state).toBe('unschedulable');
      expect(instance.stateReason).toMatch(/^no host fits: hosts /);
      expect(leaks(instance)).toEqual([]);
      expect(op.error.message).toBe(instance.stateReason);
      expect(leaks(op)).toEqual([]);
      expect((await stack.client.get(`/v1/instances/${instance.id}`)).body.stateReason).toMatch(/^0 of 5 hosts fit: /);
      expect((await stack.client.get(`/v1/operations/${op.id}`)).body.result.explanation.hostsConsidered).toBe(5);
      expect((await tenant.delete(`/v1/instances/${instance.id}`)).status).toBe(202);
    });

    it('refuses a bad body like a create would', async () => {
      const r = await stack.client.post('/v1/placements/preview', { template: 'nope', technology: 'vm', resources: small });
      expect(r.status).toBe(400);
      expect(r.body.errors[0].field).toBe('template');
    });
  });

  describe('technology "auto"', () => {
    it('picks a container when the workload can share the host kernel, and says why', async () => {
      const { instance } = await stack.client.createAndWait({ name: 'auto-ct', template: 'ubuntu-24.04', technology: 'auto', isolation: { kernel: 'shared' }, resources: small });
      expect(instance.technology).toBe('container');
      expect(instance.placementExplanation.technology.chosen).toBe('container');
      expect(instance.placementExplanation.technology.reason).toMatch(/container/);
    });

    it('picks a VM when the workload needs kernel modules, and says why', async () => {
      const { instance } = await stack.client.createAndWait({ name: 'auto-vm', template: 'ubuntu-24.04', technology: 'auto', isolation: { needs: ['kernel-modules'] }, resources: small });
      expect(instance.technology).toBe('vm');
      expect(instance.placementExplanation.technology.reason).toMatch(/kernel-modules/);
    });

    it('picks a VM for strict security isolation', async () => {
      const { instance } = await stack.client.createAndWait({ name: 'auto-strict', template: 'debian-12', technology: 'auto', isolation: { security: 'strict' }, resources: small });
      expect(instance.technology).toBe('vm');
    });

    it('refuses an explicit container that needs its own kernel, with the reason', async () => {
      const { op, instance } = await stack.client.createAndWait({ name: 'ct-dedicated', template: 'debian-12', technology: 'container', isolation: { kernel: 'dedicated' }, resources: small });
      expect(op.status).toBe('failed');
      expect(instance.state).toBe('unschedulable');
      expect(instance.stateReason).toMatch(/kernel/);
    });
  });

  describe('placement groups', () => {
    it('spreads a strict anti-affinity group over distinct hosts, and refuses one member more than there are hosts', async () => {
      const g = await stack.client.post('/v1/placement-groups', { name: 'spread-me', policy: 'anti-affinity', strict: true });
      expect(g.status).toBe(201);
      const made = await Promise.all(
        [0, 1, 2, 3].map((i) => stack.client.createAndWait({ name: `anti-${i}`, template: 'alpine-3.20', technology: 'container', placement: { group: 'spread-me' }, resources: small })),
      );
      const running = made.filter((m) => m.instance.state === 'running');
      expect(running).toHaveLength(3); // three Linux hosts can run Alpine containers
      expect(new Set(running.map((m) => m.instance.hostId)).size).toBe(3);
      const refused = made.find((m) => m.instance.state === 'unschedulable')!;
      expect(refused.instance.stateReason).toMatch(/anti-affinity|member/);
    });

    it('keeps a strict affinity group on one host', async () => {
      await stack.client.post('/v1/placement-groups', { name: 'together', policy: 'affinity', strict: true, maxPerHost: 10 });
      const made = await Promise.all(
        [0, 1, 2, 3, 4].map((i) => stack.client.createAndWait({ name: `aff-${i}`, template: 'debian-12', technology: 'vm', placement: { group: 'together', strategy: 'spread' }, resources: small })),
      );
      expect(made.map((m) => m.instance.state)).toEqual(Array(5).fill('running'));
      expect(new Set(made.map((m) => m.instance.hostId)).size).toBe(1);
    });

    it('refuses an unknown group, and deleting a group that still has members', async () => {
      const bad = await stack.client.post('/v1/instances', { name: 'lost', template: 'debian-12', technology: 'vm', placement: { group: 'nope' }, resources: small });
      expect(bad.status).toBe(400);
      expect(bad.body.errors[0].field).toBe('placement.group');
      const groups = (await stack.client.get('/v1/placement-groups')).body.items;
      const together = groups.find((g: any) => g.name === 'together');
      const del = await stack.client.delete(`/v1/placement-groups/${together.id}`);
      expect(del.status).toBe(409);
      expect(del.body.detail).toMatch(/5 instance/);
      expect((await stack.client.post('/v1/placement-groups', { name: 'together', policy: 'affinity' })).status).toBe(409);
    });
  });

  describe('batches', () => {
    it('creates N instances from one request: a parent operation with N children, all running', async () => {
      const r = await stack.client.post('/v1/instances/batch', { count: 60, namePrefix: 'fleet', spec: { template: 'alpine-3.20', technology: 'container', resources: small } });
      expect(r.status).toBe(202);
      expect(r.body.kind).toBe('batch');
      const parent = await stack.client.waitOp(r.body.id, 120);
      expect(parent.status).toBe('succeeded');
      expect(parent.result).toMatchObject({ total: 60, succeeded: 60, failed: 0 });
      const children = (await stack.client.get(`/v1/operations?parent=${r.body.id}&limit=100`)).body.items;
      expect(children).toHaveLength(60);
      expect(children.every((c: any) => c.kind === 'create' && c.status === 'succeeded')).toBe(true);
      // Their creates went to the hosts as command batches: one job per host, not one per child.
      const { rows: jobs } = await stack.sql.query(
        `SELECT count(DISTINCT job_id)::int AS jobs, count(DISTINCT host_id)::int AS hosts, bool_and(job_id LIKE 'cmds-%') AS batched
         FROM operations o JOIN instances i ON i.id = o.instance_id WHERE o.parent_id = $1`,
        [r.body.id],
      );
      expect(jobs[0].batched).toBe(true);
      expect(jobs[0].jobs).toBeLessThan(60);
      expect(jobs[0].jobs).toBeGreaterThanOrEqual(jobs[0].hosts);
      const names = (await stack.client.get('/v1/instances?limit=500')).body.items.map((i: any) => i.name).filter((n: string) => n.startsWith('fleet-'));
      expect(names.sort()).toEqual(Array.from({ length: 60 }, (_, i) => `fleet-${String(i + 1).padStart(2, '0')}`));
      const { rows } = await stack.sql.query(`
        SELECT h.alloc_vcpus = COALESCE(SUM(i.claim_vcpus), 0) AND h.alloc_memory_mib = COALESCE(SUM(i.claim_memory_mib), 0)
           AND h.alloc_instances = COUNT(i.id) AS ok
        FROM hosts h LEFT JOIN instances i ON i.host_id = h.id GROUP BY h.id`);
      expect(rows.every((r: any) => r.ok)).toBe(true);
    });

    it('ends a batch that could not place everything as failed, with the counts', async () => {
      const r = await stack.client.post('/v1/instances/batch', { count: 5, namePrefix: 'giant', spec: { template: 'macos-15', technology: 'vm', resources: { vcpus: 2, memoryMiB: 6144, diskGiB: 40 } } });
      const parent = await stack.client.waitOp(r.body.id, 120);
      expect(parent.status).toBe('failed');
      expect(parent.error.code).toBe('partial');
      // One macOS host with 16 GiB: two fit, three do not.
      expect(parent.result).toMatchObject({ total: 5, succeeded: 2, failed: 3 });
    });

    it('refuses a batch whose names are taken, creating nothing', async () => {
      const before = (await stack.sql.query('SELECT count(*)::int AS n FROM instances')).rows[0].n;
      const r = await stack.client.post('/v1/instances/batch', { count: 10, namePrefix: 'fleet', spec: { template: 'alpine-3.20', technology: 'container', resources: small } });
      expect(r.status).toBe(409);
      expect(r.body.name).toBe('fleet-01');
      expect((await stack.sql.query('SELECT count(*)::int AS n FROM instances')).rows[0].n).toBe(before);
    });
  });

  describe('project policy', () => {
    it('spreads a project whose policy says so, and reports the policy in effect', async () => {
      await stack.client.post('/v1/projects', { name: 'spready' });
      const put = await stack.client.request('PUT', '/v1/projects/spready/policy', { body: { strategy: 'spread', ratios: { container: { memoryMiB: 1 } } } });
      expect(put.status).toBe(200);
      expect(put.body.effective).toMatchObject({ strategy: 'spread', ratios: { container: { vcpus: 16, memoryMiB: 1 } } });
      expect((await stack.client.get('/v1/projects/spready/policy')).body.overrides).toEqual({ strategy: 'spread', ratios: { container: { memoryMiB: 1 } } });
      // The same request goes to the fullest Linux host by default (binpack), to an emptier one here.
      const body = { template: 'alpine-3.20', technology: 'container', resources: small };
      const packed = (await stack.client.post('/v1/placements/preview', body)).body;
      const spread = (await stack.client.post('/v1/placements/preview', { ...body, project: 'spready' })).body;
      const hosts = new Map((await stack.client.get('/v1/hosts')).body.items.map((h: any) => [h.id, h]));
      const used = (id: string): number => (hosts.get(id) as any).allocated.memoryMiB;
      expect(spread.hostId).not.toBe(packed.hostId);
      expect(used(spread.hostId)).toBeLessThan(used(packed.hostId));
      const { instance } = await stack.client.createAndWait({ ...body, name: 'sp-0', project: 'spready' });
      expect(instance.hostId).toBe(spread.hostId);
      const bad = await stack.client.request('PUT', '/v1/projects/spready/policy', { body: { strategy: 'random' } });
      expect(bad.status).toBe(400);
    });
  });

  describe('unschedulable instances', () => {
    let extra: AgentRuntime | null = null;
    afterAll(async () => extra?.stop());

    it('start once a fitting host joins', async () => {
      const { instance } = await stack.client.createAndWait({ name: 'waits-for-room', template: 'debian-12', technology: 'vm', resources: { vcpus: 4, memoryMiB: 65536, diskGiB: 50 } });
      expect(instance.state).toBe('unschedulable');
      extra = await stack.startAgent({ simHosts: [simHost('big-1', 'linux', 'x86_64', { capacity: { vcpus: 32, memoryMiB: 131072, diskGiB: 1000 } })] });
      const running = await waitFor('the instance to run on the new host', async () => {
        const now = (await stack.client.get(`/v1/instances/${instance.id}`)).body;
        return now.state === 'running' && now;
      }, 30_000);
      expect(hostName.get(running.hostId) ?? 'big-1').toBe('big-1');
      // The retry is an operation of its own, asked by the system.
      const ops = (await stack.client.get(`/v1/operations?instance=${instance.id}`)).body.items;
      expect(ops.map((o: any) => [o.kind, o.status, o.requestedBy === null])).toEqual([
        ['create', 'succeeded', true],
        ['create', 'failed', false],
      ]);
    });
  });
});
