import { MIXED_FLEET, startStack, Stack } from '@hyperplane/testing';

// The Windows build rule over the API, on the simulated fleet (a Server 2022 host, build 20348,
// and a Server 2019 host, build 17763): where a Windows container lands, with which isolation
// (the simulated driver applies the rule the real wincontainer driver does), and why it is
// refused where no host's build fits.
describe('Windows containers and their builds through the API (simulated fleet)', () => {
  let stack: Stack;
  let hostName: Map<string, string>;

  beforeAll(async () => {
    stack = await startStack({ simHosts: MIXED_FLEET });
    hostName = new Map((await stack.client.get('/v1/hosts?limit=500')).body.items.map((h: any) => [h.id, h.name]));
  });
  afterAll(() => stack?.stop());

  const resources = { vcpus: 1, memoryMiB: 512, diskGiB: 10 };

  it('gives a strict auto request a Hyper-V isolated container, says why, and runs its lifecycle', async () => {
    const { op, instance } = await stack.client.createAndWait({ name: 'win-strict', template: 'windows-server-2022', technology: 'auto', isolation: { security: 'strict' }, resources });
    expect([op.status, instance.state, instance.technology, hostName.get(instance.hostId)]).toEqual(['succeeded', 'running', 'container', 'win-2022-1']);
    expect(op.result.details).toMatchObject({ isolation: 'hyperv' });
    expect(instance.placementExplanation.chosen).toMatchObject({ isolation: 'hyperv' });
    expect(instance.placementExplanation.technology.reason).toMatch(/^a container with Hyper-V isolation: the request asks for strict security isolation, which a Windows container gets from a utility VM with its own kernel/);
    // The 2019 host cannot run a 2022 image in any isolation: named with its build.
    expect(instance.placementExplanation.rejections).toContainEqual(
      expect.objectContaining({ code: 'windows-build', message: expect.stringContaining('host win-2019-1 runs build 17763; a windows-server-2022 container with Hyper-V isolation needs 20348 or newer') }),
    );
    expect((await stack.client.act(instance.id, 'stop')).status).toBe('succeeded');
    expect((await stack.client.act(instance.id, 'start')).status).toBe('succeeded');
    const del = await stack.client.delete(`/v1/instances/${instance.id}`);
    expect((await stack.client.waitOp(del.body.id)).status).toBe('succeeded');
  });

  it('runs a windows-server-2019 container process-isolated on the 2019 host or Hyper-V isolated on the 2022 host', async () => {
    for (const [name, pinned, isolation] of [['ws19-on-2019', 'win-2019-1', 'process'], ['ws19-on-2022', 'win-2022-1', 'hyperv']] as const) {
      const hostId = [...hostName.entries()].find(([, n]) => n === pinned)![0];
      const { op, instance } = await stack.client.createAndWait({ name, template: 'windows-server-2019', technology: 'container', placement: { hostId }, resources });
      expect([op.status, instance.hostId, op.result.details.isolation]).toEqual(['succeeded', hostId, isolation]);
    }
  });

  it('leaves a windows-server-2025 container unschedulable, naming each host and its build', async () => {
    const { op, instance } = await stack.client.createAndWait({ name: 'ws25', template: 'windows-server-2025', technology: 'container', resources });
    expect([op.status, instance.state]).toEqual(['failed', 'unschedulable']);
    expect(instance.stateReason).toMatch(
      /2 are Windows hosts of another build: host win-2019-1 runs build 17763, host win-2022-1 runs build 20348; a windows-server-2025 container needs 26100 for process isolation, or 26100 or newer with Hyper-V isolation/,
    );
  });
});
