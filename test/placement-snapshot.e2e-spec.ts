import { PlacementService } from '@hyperplane/controller';
import { HostRepository } from '@hyperplane/db';
import { mergePolicy, PlacementDecision, PlacementRequest } from '@hyperplane/scheduler';
import { simHost, startStack, Stack } from '@hyperplane/testing';

// The controller's in-memory view of the fleet between a decision and the commit of the
// transaction that claims it. Two identical hosts: with `spread`, a decision goes to the
// emptier one (ties to the lower id), so each decision shows what the view counted.
const TWINS = [simHost('twin-1', 'linux', 'x86_64'), simHost('twin-2', 'linux', 'x86_64')];

describe('the placement snapshot while transactions are in flight', () => {
  let stack: Stack;
  let placement: PlacementService;
  let request: PlacementRequest;

  beforeAll(async () => {
    stack = await startStack({ simHosts: TWINS });
    placement = stack.controller!.get(PlacementService);
    request = { template: (await placement.template('alpine-3.20'))!, technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } };
  });
  afterAll(() => stack.stop());

  async function decide(policy = mergePolicy(placement.basePolicy, { strategy: 'spread' })): Promise<PlacementDecision & { ok: true }> {
    const [d] = await placement.decideMany(request, policy, 1);
    if (!d?.ok) throw new Error(`not placed: ${JSON.stringify(d)}`);
    return d;
  }

  it('keeps counting a decision not yet settled across a reload, and forgets it once settled', async () => {
    const first = await decide();
    placement.invalidate(); // the next decision reloads from the database, which has no claim yet
    const second = await decide();
    expect(second.hostId).not.toBe(first.hostId);
    // Settled without a commit (rolled back): after a reload nothing of the two is counted.
    placement.settle([first, second]);
    placement.invalidate();
    const third = await decide();
    expect(third.hostId).toBe(first.hostId);
    placement.settle([third]);
  });

  it('shows a scheduler made for a new policy the decisions made before it', async () => {
    placement.invalidate();
    const packed = await decide(mergePolicy(placement.basePolicy, { strategy: 'binpack' }));
    // A policy no scheduler has yet: its scheduler starts from the view, not from the last load.
    const spread = await decide(mergePolicy(placement.basePolicy, { strategy: 'spread', ratios: { container: { vcpus: 7 } } }));
    expect(spread.hostId).not.toBe(packed.hostId);
    placement.settle([packed, spread]);
  });

  it('counts placement-group members per host, for the whole fleet and for some hosts, as the rows say', async () => {
    const hosts = stack.controller!.get(HostRepository);
    expect((await stack.client.post('/v1/placement-groups', { name: 'counted', policy: 'anti-affinity', strict: false })).status).toBe(201);
    for (const name of ['g-1', 'g-2', 'g-3']) {
      const r = await stack.client.createAndWait({ name, template: 'alpine-3.20', technology: 'container', placement: { group: 'counted' }, resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
      expect(r.instance.state).toBe('running');
    }
    await stack.client.createAndWait({ name: 'ungrouped', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } });
    const { rows } = await stack.sql.query<{ host_id: string; group_id: string; n: number }>(
      'SELECT host_id, placement_group_id AS group_id, count(*)::int AS n FROM instances WHERE placement_group_id IS NOT NULL AND host_id IS NOT NULL GROUP BY 1, 2',
    );
    const expected = new Map<string, Record<string, number>>();
    for (const r of rows) expected.set(r.host_id, { ...expected.get(r.host_id), [r.group_id]: r.n });
    expect([...expected.values()].flatMap((g) => Object.values(g)).reduce((a, b) => a + b, 0)).toBe(3);
    expect(await hosts.groupCounts()).toEqual(expected);
    const one = rows[0]!.host_id;
    expect(await hosts.groupCounts([one])).toEqual(new Map([[one, expected.get(one)]]));
  });

  it('takes the hosts a chunk lost claims on from the database, several in one refresh', async () => {
    const twins = (await stack.sql.query<{ id: string; name: string }>(`SELECT id, name FROM hosts WHERE name LIKE 'twin-%' ORDER BY name`)).rows;
    placement.invalidate();
    placement.settle([await decide()]); // a fresh view: the next decision within 2 s does not reload
    // Another controller filled twin-1 (as a lost claim would show): only a refresh can tell.
    await stack.sql.query('UPDATE hosts SET alloc_memory_mib = cap_memory_mib WHERE id = $1', [twins[0]!.id]);
    try {
      await placement.refreshHosts(twins.map((h) => h.id));
      for (let i = 0; i < 3; i++) {
        const d = await decide();
        expect(d.hostName).toBe('twin-2');
        placement.settle([d]);
      }
    } finally {
      await stack.sql.query('UPDATE hosts SET alloc_memory_mib = (SELECT COALESCE(sum(claim_memory_mib), 0) FROM instances WHERE host_id = $1) WHERE id = $1', [twins[0]!.id]);
      placement.invalidate();
    }
  });
});

describe('placement on a sample of the fleet (HYPERPLANE_PLACEMENT_SAMPLE_SIZE)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ simHosts: [...TWINS, simHost('twin-3', 'linux', 'x86_64')], config: { HYPERPLANE_PLACEMENT_SAMPLE_SIZE: 1 } });
  });
  afterAll(() => stack.stop());

  it('decides on a sample, says so, and the preview and the controller agree', async () => {
    const body = { template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } };
    const preview = (await stack.client.post('/v1/placements/preview', body)).body;
    expect(preview.ok).toBe(true);
    expect(preview.explanation.sampled).toMatchObject({ skipped: 2 });
    expect(preview.explanation.summary).toMatch(/in a sample \(2 candidates not scanned\) out of 3/);
    const { instance } = await stack.client.createAndWait({ ...body, name: 'sampled' });
    expect(instance.hostId).toBe(preview.hostId);
    expect(instance.placementExplanation.summary).toMatch(/in a sample/);
  });
});
