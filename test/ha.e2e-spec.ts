import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocationsMatchClaims, freePort, Proc, simHost, spawnApp, startStack, Stack, waitFor } from '@hyperplane/testing';

// HA: fence, then restart elsewhere. Short leases so a suite takes seconds: the agent renews a
// 3 s lease every second, fences 1 s before it would expire, and the controller waits 1 s past
// the expiry. Host A is an agent process of its own (killed, or cut off from Redis); hosts B
// are simulated by an agent inside the test.
const HA = { HYPERPLANE_HA_LEASE_MS: 3000, HYPERPLANE_HA_FENCE_SAFETY_MS: 1000, HYPERPLANE_HA_RESTART_MARGIN_MS: 1000 };
const small = { vcpus: 1, memoryMiB: 256, diskGiB: 1 };
const B_CAPACITY = { vcpus: 8, memoryMiB: 4096, diskGiB: 20 };

/** A TCP proxy to Redis that the test can cut (a partition: the agent lives, Redis is out of reach) and heal. */
async function redisProxy(target: { host: string; port: number }): Promise<{ url: string; cut(): void; heal(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    if (cut) return void client.destroy();
    const upstream = createConnection(target);
    sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `redis://127.0.0.1:${port}`,
    cut: () => {
      cut = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    heal: () => (cut = false),
    close: async () => {
      cut = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The simulated host's saved instances (the agent process writes them on every change). */
function simInstances(dataDir: string, key: string): { id: string; state: string }[] {
  const file = join(dataDir, 'agent', 'sim', `sim-${key}.json`);
  if (!existsSync(file)) return [];
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { instances: { id: string; state: string }[] }).instances;
  } catch {
    return []; // being replaced (written to a temp file, then renamed): read again
  }
}

interface Fleet {
  stack: Stack;
  agentA: Proc | null;
  dataDirA: string;
  envA: Record<string, string>;
  hostA: any;
}

async function startFleet(redisForA?: string): Promise<Fleet> {
  const stack = await startStack({ noAgent: true, config: HA, timeScale: 0.05 });
  const dataDirA = mkdtempSync(join(tmpdir(), 'hp-ha-agent-'));
  const envA = {
    HYPERPLANE_API_URL: stack.url,
    HYPERPLANE_ENROLLMENT_TOKEN: await stack.enrollmentToken(),
    REDIS_URL: redisForA ?? stack.redisUrl,
    HYPERPLANE_REDIS_PREFIX: stack.config.HYPERPLANE_REDIS_PREFIX,
    HYPERPLANE_LOCAL_AGENT: 'false',
    HYPERPLANE_SIM_HOSTS: '1',
    HYPERPLANE_SIM_TIME_SCALE: '0.05',
    HYPERPLANE_DATA_DIR: dataDirA,
    HYPERPLANE_JOB_LOCK_MS: String(stack.config.HYPERPLANE_JOB_LOCK_MS),
    HYPERPLANE_HEARTBEAT_INTERVAL_S: '1',
    HYPERPLANE_HA_LEASE_MS: String(HA.HYPERPLANE_HA_LEASE_MS),
    HYPERPLANE_HA_FENCE_SAFETY_MS: String(HA.HYPERPLANE_HA_FENCE_SAFETY_MS),
  };
  const agentA = spawnApp('agent', envA);
  const [hostA] = await stack.waitForHosts(1).catch((e: Error) => {
    throw new Error(`${e.message}; agent A said: ${agentA.output()}`);
  });
  return { stack, agentA, dataDirA, envA, hostA };
}

/** Hosts B: two simulated Linux hosts in an agent of the test's own, with leases too. */
async function startHostsB(stack: Stack): Promise<string[]> {
  stack.agent = await stack.startAgent({
    simHosts: [simHost('b-1', 'linux', 'x86_64', { capacity: B_CAPACITY }), simHost('b-2', 'linux', 'x86_64', { capacity: B_CAPACITY })],
    ha: { leaseMs: HA.HYPERPLANE_HA_LEASE_MS, safetyMs: HA.HYPERPLANE_HA_FENCE_SAFETY_MS },
  });
  const hosts = await stack.waitForHosts(3);
  return hosts.filter((h: any) => h.name !== 'sim-linux-1').map((h: any) => h.id);
}

async function recoverOps(stack: Stack, instanceId: string): Promise<any[]> {
  return (await stack.client.get(`/v1/operations?kind=recover&instance=${instanceId}`)).body.items;
}

/** Where each instance runs on hosts B (the agent in the test): id → host ids holding it. */
async function copiesOnB(stack: Stack, hostIdsB: string[]): Promise<Map<string, { hostId: string; state: string }[]>> {
  const out = new Map<string, { hostId: string; state: string }[]>();
  for (const hostId of hostIdsB) {
    const driver = stack.agent?.driver(hostId, 'sim') ?? null;
    for (const s of driver ? await driver.list() : []) out.set(s.id, [...(out.get(s.id) ?? []), { hostId, state: s.state }]);
  }
  return out;
}

describe('HA: an agent killed with -9', () => {
  let fleet: Fleet;
  let stack: Stack;

  beforeAll(async () => {
    fleet = await startFleet();
    stack = fleet.stack;
  });
  afterAll(async () => {
    await fleet?.agentA?.stop();
    await stack?.stop();
    if (fleet) rmSync(fleet.dataDirA, { recursive: true, force: true });
  });

  it('validates ha and takes the project default', async () => {
    const bad = await stack.client.post('/v1/instances', { name: 'bad-ha', template: 'alpine-3.20', technology: 'container', resources: small, ha: { restart: 'yes' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('ha.restart');
    const badPriority = await stack.client.post('/v1/instances', { name: 'bad-ha', template: 'alpine-3.20', technology: 'container', resources: small, ha: { restart: true, priority: 5000 } });
    expect(badPriority.status).toBe(400);
    expect(JSON.stringify(badPriority.body)).toContain('ha.priority');
    const project = await stack.client.post('/v1/projects', { name: 'ha-default' });
    expect(project.status).toBe(201);
    const policy = await stack.client.request('PUT', '/v1/projects/ha-default/policy', { body: { ha: { restart: true, priority: 7 } } });
    expect(policy.status).toBe(200);
    const { instance } = await stack.client.createAndWait({ name: 'by-default', project: 'ha-default', template: 'alpine-3.20', technology: 'container', resources: small });
    expect(instance.ha).toEqual({ restart: true, priority: 7 });
    const own = await stack.client.createAndWait({ name: 'own-choice', project: 'ha-default', template: 'alpine-3.20', technology: 'container', resources: small, ha: { restart: false } });
    expect(own.instance.ha).toEqual({ restart: false, priority: 0 });
    // Out of the way: the rest of the suite counts the default project's instances.
    for (const id of [instance.id, own.instance.id]) await stack.client.waitOp((await stack.client.delete(`/v1/instances/${id}`)).body.id);
  });

  it('runs HA instances elsewhere exactly once, only after the fence; the others show unknown and can be force-deleted', async () => {
    const g = await stack.client.post('/v1/placement-groups', { name: 'apart', policy: 'anti-affinity', strict: true });
    expect(g.status).toBe(201);
    const ha1 = (await stack.client.createAndWait({ name: 'ha-1', template: 'alpine-3.20', technology: 'container', resources: small, ha: { restart: true, priority: 10 }, placement: { group: 'apart' } })).instance;
    const ha2 = (await stack.client.createAndWait({ name: 'ha-2', template: 'debian-12', technology: 'vm', resources: small, ha: { restart: true } })).instance;
    const big = (await stack.client.createAndWait({ name: 'ha-big', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 16384, diskGiB: 200 }, ha: { restart: true } })).instance;
    const plain = (await stack.client.createAndWait({ name: 'plain', template: 'alpine-3.20', technology: 'container', resources: small })).instance;
    for (const i of [ha1, ha2, big, plain]) expect([i.state, i.hostId]).toEqual(['running', fleet.hostA.id]);

    const hostIdsB = await startHostsB(stack);
    // A member of the group on B: ha-1 must not land beside it.
    const apartB = (await stack.client.createAndWait({ name: 'apart-b', template: 'alpine-3.20', technology: 'container', resources: small, placement: { group: 'apart' } })).instance;
    expect(hostIdsB).toContain(apartB.hostId);

    const killedAt = Date.now();
    await fleet.agentA!.kill9();
    fleet.agentA = null;

    const recovered = await waitFor(
      'ha-1 and ha-2 running on hosts B',
      async () => {
        const now = await Promise.all([ha1, ha2].map(async (i) => (await stack.client.get(`/v1/instances/${i.id}`)).body));
        return now.every((i) => i.state === 'running' && hostIdsB.includes(i.hostId)) && now;
      },
      60_000,
      250,
    );
    // Identity kept: same id, name, project, group, HA.
    expect(recovered.map((i: any) => [i.id, i.name, i.projectId, i.ha.restart])).toEqual([
      [ha1.id, 'ha-1', ha1.projectId, true],
      [ha2.id, 'ha-2', ha2.projectId, true],
    ]);
    expect(recovered[0].placement.group).toBe('apart');
    // Anti-affinity held: not beside the other member.
    expect(recovered[0].hostId).not.toBe(apartB.hostId);

    // One recover operation each, queued no earlier than a whole lease (and the margin) after
    // the agent's last renewal, which was at most one heartbeat before the kill.
    const lastRenewalBy = killedAt;
    for (const i of [ha1, ha2]) {
      const ops = await recoverOps(stack, i.id);
      expect(ops.map((o) => o.status)).toEqual(['succeeded']);
      expect(new Date(ops[0].createdAt).getTime()).toBeGreaterThanOrEqual(lastRenewalBy - 1000 + HA.HYPERPLANE_HA_LEASE_MS + HA.HYPERPLANE_HA_RESTART_MARGIN_MS);
      const { rows } = await stack.sql.query('SELECT request FROM operations WHERE id = $1', [ops[0].id]);
      expect(rows[0].request).toMatchObject({ fromHostId: fleet.hostA.id, reason: 'host lost' });
    }
    // Exactly once on hosts B.
    const copies = await copiesOnB(stack, hostIdsB);
    for (const i of [ha1, ha2]) expect(copies.get(i.id)).toEqual([{ hostId: recovered.find((r: any) => r.id === i.id).hostId, state: 'running' }]);

    // Nothing on B can take ha-big: it waits unschedulable, with the reason.
    const waiting = await waitFor('ha-big unschedulable', async () => {
      const i = (await stack.client.get(`/v1/instances/${big.id}`)).body;
      return i.state === 'unschedulable' && i;
    });
    expect(waiting.hostId).toBeNull();
    expect(waiting.stateReason).toBeTruthy();

    // Without HA: unknown, with the reason, still on the lost host.
    const unknown = await waitFor('plain unknown', async () => {
      const i = (await stack.client.get(`/v1/instances/${plain.id}`)).body;
      return i.state === 'unknown' && i;
    });
    expect(unknown.hostId).toBe(fleet.hostA.id);
    expect(unknown.stateReason).toContain('down');
    expect(await allocationsMatchClaims(stack)).toBe(true);

    // An admin force-deletes it: the claim goes without the host.
    const del = await stack.client.delete(`/v1/instances/${plain.id}?force=true`);
    expect(del.status).toBe(202);
    expect((await stack.client.waitOp(del.body.id, 30)).status).toBe('succeeded');
    expect((await stack.client.get(`/v1/instances/${plain.id}`)).status).toBe(404);
    expect(await allocationsMatchClaims(stack)).toBe(true);
    const { rows } = await stack.sql.query('SELECT alloc_instances FROM hosts WHERE id = $1', [fleet.hostA.id]);
    expect(rows[0].alloc_instances).toBe(0);

    // A comes back: it learns what moved away and removes its copies without starting them.
    fleet.agentA = spawnApp('agent', fleet.envA);
    await waitFor(
      'agent A to remove its copies',
      async () => {
        const left = simInstances(fleet.dataDirA, 'sim-linux-1').map((i) => i.id);
        return [ha1.id, ha2.id, big.id, plain.id].every((id) => !left.includes(id));
      },
      60_000,
      250,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; agent A said: ${fleet.agentA?.output()}`);
    });
    expect(fleet.agentA.output()).toMatch(/removed \d+ instance\(s\) that live elsewhere now or were deleted/);
    await waitFor('host A ready again', async () => (await stack.client.get(`/v1/hosts/${fleet.hostA.id}`)).body.status === 'ready');
    // Capacity came back: ha-big is placed again (on A, the only host it fits), as a create.
    const placed = await waitFor('ha-big running again', async () => {
      const i = (await stack.client.get(`/v1/instances/${big.id}`)).body;
      return i.state === 'running' && i;
    }).catch(async (e: Error) => {
      const i = (await stack.client.get(`/v1/instances/${big.id}`)).body;
      const ops = (await stack.client.get(`/v1/operations?instance=${big.id}`)).body.items;
      throw new Error(`${e.message}: ${JSON.stringify({ state: i.state, reason: i.stateReason, ops: ops.map((o: any) => [o.kind, o.status, o.step, o.error]) })}`);
    });
    expect(placed.hostId).toBe(fleet.hostA.id);
    // Still once each on B, and nowhere else.
    const after = await copiesOnB(stack, hostIdsB);
    for (const i of [ha1, ha2]) expect(after.get(i.id)).toHaveLength(1);
    expect(simInstances(fleet.dataDirA, 'sim-linux-1').map((i) => i.id).sort()).toEqual([big.id]);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});

describe('HA: an agent cut off from Redis (a partition)', () => {
  let fleet: Fleet;
  let stack: Stack;
  let proxy: Awaited<ReturnType<typeof redisProxy>>;

  beforeAll(async () => {
    const target = new URL(process.env.HYPERPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379');
    proxy = await redisProxy({ host: target.hostname, port: Number(target.port || 6379) });
    fleet = await startFleet(proxy.url);
    stack = fleet.stack;
  });
  afterAll(async () => {
    await fleet?.agentA?.stop();
    await proxy?.close();
    await stack?.stop();
    if (fleet) rmSync(fleet.dataDirA, { recursive: true, force: true });
  });

  it('fences its copies by itself before the controller restarts them elsewhere, then cleans up when it returns', async () => {
    const ha = (await stack.client.createAndWait({ name: 'ha-p', template: 'alpine-3.20', technology: 'container', resources: small, ha: { restart: true } })).instance;
    const plain = (await stack.client.createAndWait({ name: 'plain-p', template: 'alpine-3.20', technology: 'container', resources: small })).instance;
    expect([ha.hostId, plain.hostId]).toEqual([fleet.hostA.id, fleet.hostA.id]);
    // Two more HA instances made by a batch (its own placement path): fenced as well.
    const batch = await stack.client.post('/v1/instances/batch', { count: 2, namePrefix: 'ha-batch', spec: { template: 'alpine-3.20', technology: 'container', resources: small, ha: { restart: true } } });
    expect(batch.status).toBe(202);
    expect((await stack.client.waitOp(batch.body.id)).status).toBe('succeeded');
    const batchIds: string[] = (await stack.client.get(`/v1/operations?parent=${batch.body.id}`)).body.items.map((o: any) => o.instanceId);
    expect(batchIds).toHaveLength(2);
    const hostIdsB = await startHostsB(stack);

    proxy.cut();
    // The agent fences by itself: its log says when it stopped the HA instance.
    const fence = await waitFor(
      'agent A to fence',
      async () => {
        const m = /fence: lease not renewed; host ([0-9a-f-]{36}) force-stopped (\d+) HA instance\(s\) from (\d{4}-\d\d-\d\dT[\d:.]+Z) to (\d{4}-\d\d-\d\dT[\d:.]+Z): ([0-9a-f, -]+)/.exec(fleet.agentA!.output());
        return m && { hostId: m[1], startedAt: new Date(m[3]!).getTime(), doneAt: new Date(m[4]!).getTime(), ids: m[5]!.split(', ').map((x) => x.trim()).sort() };
      },
      30_000,
      100,
    );
    expect(fence).toMatchObject({ hostId: fleet.hostA.id, ids: [ha.id, ...batchIds].sort() });
    // The copy is stopped on A (while A still cannot reach Redis), non-HA ones left running.
    await waitFor('the fenced copy stopped on A', async () => simInstances(fleet.dataDirA, 'sim-linux-1').find((i) => i.id === ha.id)?.state === 'stopped');
    expect(simInstances(fleet.dataDirA, 'sim-linux-1').find((i) => i.id === plain.id)?.state).toBe('running');

    const moved = await waitFor(
      'ha-p running on hosts B',
      async () => {
        const i = (await stack.client.get(`/v1/instances/${ha.id}`)).body;
        return i.state === 'running' && hostIdsB.includes(i.hostId) && i;
      },
      60_000,
      250,
    );
    const [op] = await recoverOps(stack, ha.id);
    // The order: A stopped its copy before the controller decided to run it elsewhere.
    expect(fence.doneAt).toBeLessThan(new Date(op.createdAt).getTime());
    const copies = await copiesOnB(stack, hostIdsB);
    expect(copies.get(ha.id)).toEqual([{ hostId: moved.hostId, state: 'running' }]);
    expect((await stack.client.get(`/v1/instances/${plain.id}`)).body.state).toBe('unknown');

    // The partition heals: A renews, learns that ha-p lives elsewhere, removes its copy
    // without starting it; plain-p is found running and shown so again.
    proxy.heal();
    await waitFor(
      'agent A to remove its copy',
      async () => !simInstances(fleet.dataDirA, 'sim-linux-1').some((i) => i.id === ha.id),
      60_000,
      250,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; agent A said: ${fleet.agentA?.output()}`);
    });
    expect(fleet.agentA!.output()).not.toMatch(/started \d+ fenced HA instance\(s\) again/);
    await waitFor('plain-p running again', async () => (await stack.client.get(`/v1/instances/${plain.id}`)).body.state === 'running', 60_000, 250);
    expect((await copiesOnB(stack, hostIdsB)).get(ha.id)).toHaveLength(1);
    expect(await recoverOps(stack, ha.id)).toHaveLength(1);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});

describe('HA: removing a lost host that has HA instances', () => {
  let fleet: Fleet;
  let stack: Stack;

  beforeAll(async () => {
    fleet = await startFleet();
    stack = fleet.stack;
  });
  afterAll(async () => {
    await fleet?.agentA?.stop();
    await stack?.stop();
    if (fleet) rmSync(fleet.dataDirA, { recursive: true, force: true });
  });

  it('is refused while the host may still run them, and leaves them running elsewhere once fenced', async () => {
    const ha = (await stack.client.createAndWait({ name: 'ha-r', template: 'alpine-3.20', technology: 'container', resources: small, ha: { restart: true } })).instance;
    const plain = (await stack.client.createAndWait({ name: 'plain-r', template: 'alpine-3.20', technology: 'container', resources: small })).instance;
    const hostIdsB = await startHostsB(stack);
    await fleet.agentA!.kill9();
    fleet.agentA = null;
    // At once: the lease still holds, so the host may still be running ha-r.
    const early = await stack.client.delete(`/v1/hosts/${fleet.hostA.id}?force=true`);
    expect(early.status).toBe(409);
    expect(early.body.detail).toMatch(/HA lease|not fenced yet/);
    await waitFor('ha-r recovered on hosts B', async () => {
      const i = (await stack.client.get(`/v1/instances/${ha.id}`)).body;
      return i.state === 'running' && hostIdsB.includes(i.hostId);
    }, 60_000, 250);
    const removed = await stack.client.delete(`/v1/hosts/${fleet.hostA.id}?force=true`);
    expect(removed.status).toBe(204);
    expect((await stack.client.get(`/v1/instances/${ha.id}`)).body.state).toBe('running');
    const evicted = (await stack.client.get(`/v1/instances/${plain.id}`)).body;
    expect([evicted.state, evicted.hostId]).toEqual(['error', null]);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });
});
