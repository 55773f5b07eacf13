import { allocationsMatchClaims, followEvents, simHost, startStack, Stack } from '@hyperplane/testing';

// Three hosts whose every create fails (as a host with a broken image store would) and one
// that works. Labels steer each request: `pool-a` only on broken hosts; `pool-b` on one broken host,
// preferred (`first`), and on the good one.
const broken = { create: { fatal: 1 } };
const FLEET = [
  simHost('broken-1', 'linux', 'x86_64', { labels: { 'pool-a': 'yes', 'pool-b': 'yes', first: 'yes' }, faults: broken }),
  simHost('broken-2', 'linux', 'x86_64', { labels: { 'pool-a': 'yes' }, faults: broken }),
  simHost('broken-3', 'linux', 'x86_64', { labels: { 'pool-a': 'yes' }, faults: broken }),
  simHost('good', 'linux', 'x86_64', { labels: { 'pool-b': 'yes', 'pool-d': 'yes' } }),
  // Answers every create as a host lacking the template's image does: host-specific (Unavailable).
  simHost('no-image', 'linux', 'x86_64', { labels: { 'pool-d': 'yes', lacks: 'yes' }, faults: { create: { unavailable: 1 } } }),
  // Makes the instance, fails to start it, and fails to remove it too.
  simHost('half-made', 'linux', 'x86_64', { labels: { 'pool-c': 'yes' }, faults: { start: { fatal: 1 }, destroy: { fatal: 1 } } }),
];

const spec = { template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 512, diskGiB: 5 } };

describe('a create that fails on its host is tried on another', () => {
  let stack: Stack;
  let ids: Map<string, string>;

  beforeAll(async () => {
    stack = await startStack({ simHosts: FLEET });
    ids = new Map((await stack.client.get('/v1/hosts')).body.items.map((h: any) => [h.name, h.id]));
  });
  afterAll(() => stack.stop());

  const held = async (name: string): Promise<number> => (await stack.client.get(`/v1/hosts/${ids.get(name)}`)).body.allocated.instances;

  it('cleans up on the failed host, gives its capacity back, and runs the instance elsewhere', async () => {
    const sse = followEvents(stack.url, stack.client.token);
    await sse.ready;
    const { op, instance } = await stack.client.createAndWait({ ...spec, name: 'retried', placement: { labels: { 'pool-b': 'yes' }, preferredLabels: { first: 'yes' } } });
    expect(op.status).toBe('succeeded');
    expect(instance).toMatchObject({ state: 'running', hostId: ids.get('good'), stateReason: null });
    expect(op.result.failedCreates).toEqual([{ hostId: ids.get('broken-1'), code: 'Fatal', message: 'simulated fatal failure during create' }]);
    expect(await held('broken-1')).toBe(0);
    expect(await held('good')).toBe(1);
    expect(await allocationsMatchClaims(stack)).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    sse.stop();
    const states = sse.events
      .filter((e) => e.event === 'instance.state' && e.data.subjectId === instance.id)
      .sort((a, b) => Number(a.id) - Number(b.id))
      .map((e) => e.data.state);
    // Placed on broken-1; failed there and cleaned up (a new reason, same state); pending again; placed on good.
    expect(states).toEqual(['pending', 'scheduling', 'provisioning', 'provisioning', 'pending', 'scheduling', 'provisioning', 'running']);
  });

  it('ranks a host that failed a create last for the next instances, until a create succeeds there', async () => {
    const body = { ...spec, placement: { labels: { 'pool-b': 'yes' }, preferredLabels: { first: 'yes' } } };
    const failures = async (name: string): Promise<number> => (await stack.sql.query('SELECT create_failures AS n FROM hosts WHERE id = $1', [ids.get(name)])).rows[0].n;
    expect(await failures('broken-1')).toBe(1);
    const preview = (await stack.client.post('/v1/placements/preview', body)).body;
    expect(preview.hostId).toBe(ids.get('good'));
    expect(preview.explanation.alternatives.map((c: any) => [c.hostId, c.score < 0])).toEqual([[ids.get('broken-1'), true]]);
    const { op, instance } = await stack.client.createAndWait({ ...body, name: 'next-one' });
    expect([op.status, instance.hostId, op.result?.failedCreates]).toEqual(['succeeded', ids.get('good'), undefined]);
    // An administrator who repaired the host drains it and activates it again: forgiven.
    expect((await stack.client.get(`/v1/hosts/${ids.get('broken-1')}`)).body.createFailures).toBe(1);
    expect((await stack.client.post(`/v1/hosts/${ids.get('broken-1')}/actions/drain`, {})).status).toBe(200);
    const activated = await stack.client.post(`/v1/hosts/${ids.get('broken-1')}/actions/activate`, {});
    expect([activated.status, activated.body.status, activated.body.createFailures]).toEqual([200, 'ready', 0]);
    // A success on a host starts its count again.
    await stack.sql.query('UPDATE hosts SET create_failures = 3 WHERE id = $1', [ids.get('good')]);
    const pinned = await stack.client.createAndWait({ ...spec, name: 'clears', placement: { hostId: ids.get('good') } });
    expect(pinned.op.status).toBe('succeeded');
    expect(await failures('good')).toBe(0);
  });

  it(`gives up after three hosts: the instance is in error on the last, which keeps its claim until the delete`, async () => {
    const { op, instance } = await stack.client.createAndWait({ ...spec, name: 'no-luck', placement: { labels: { 'pool-a': 'yes' } } });
    expect(op.status).toBe('failed');
    expect(instance.state).toBe('error');
    expect(instance.stateReason).toBe('create failed on the host: simulated fatal failure during create');
    const tried = [...op.result.failedCreates.map((f: any) => f.hostId), instance.hostId];
    expect(new Set(tried)).toEqual(new Set(['broken-1', 'broken-2', 'broken-3'].map((n) => ids.get(n))));
    expect(await held(instance.hostId === ids.get('broken-1') ? 'broken-1' : instance.hostId === ids.get('broken-2') ? 'broken-2' : 'broken-3')).toBe(1);
    expect(await allocationsMatchClaims(stack)).toBe(true);
    expect((await stack.client.waitOp((await stack.client.delete(`/v1/instances/${instance.id}`)).body.id)).status).toBe('succeeded');
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });

  it('leaves the instance in error on its host when removing what the failed create left fails too', async () => {
    const { op, instance } = await stack.client.createAndWait({ ...spec, name: 'half-made', placement: { labels: { 'pool-c': 'yes' } } });
    expect(op.status).toBe('failed');
    expect(instance).toMatchObject({ state: 'error', hostId: ids.get('half-made') });
    expect(instance.stateReason).toBe(
      'create failed on the host (simulated fatal failure during start) and removing what it left failed too: simulated fatal failure during destroy',
    );
    expect(await held('half-made')).toBe(1);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });

  it('tries another host when the first lacks the image (a host-specific Unavailable), not error', async () => {
    const { op, instance } = await stack.client.createAndWait({ ...spec, name: 'no-image-here', placement: { labels: { 'pool-d': 'yes' }, preferredLabels: { lacks: 'yes' } } });
    expect(op.status).toBe('succeeded');
    expect(instance).toMatchObject({ state: 'running', hostId: ids.get('good') });
    expect(op.result.failedCreates).toEqual([{ hostId: ids.get('no-image'), code: 'Unavailable', message: expect.stringMatching(/no image/) }]);
    expect(await held('no-image')).toBe(0);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });

  it('does not move an instance pinned to its host', async () => {
    const { op, instance } = await stack.client.createAndWait({ ...spec, name: 'pinned', placement: { hostId: ids.get('broken-2') } });
    expect(op.status).toBe('failed');
    expect(op.result?.failedCreates).toBeUndefined();
    expect(instance).toMatchObject({ state: 'error', hostId: ids.get('broken-2') });
  });
});
