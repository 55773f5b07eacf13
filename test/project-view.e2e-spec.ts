import { ApiClient, followEvents, simHost, startStack, Stack, waitFor } from '@hyperplane/testing';

// Project tokens do not see hosts (README): no host name in an operation's step or result,
// whether read from /v1/operations or from /v1/events. Fleet-wide tokens see them all.
describe("what a project's token sees of where its operations run", () => {
  let stack: Stack;
  let admin: ApiClient;
  let project: ApiClient;
  let hostNames: string[];
  const spec = { project: 'team-a', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } };
  const namesAHost = (x: unknown): string | undefined => hostNames.find((h) => JSON.stringify(x).includes(h));

  beforeAll(async () => {
    stack = await startStack({ simHosts: [simHost('view-1', 'linux', 'x86_64'), simHost('view-2', 'linux', 'x86_64')] });
    admin = stack.client;
    expect((await admin.post('/v1/projects', { name: 'team-a' })).status).toBe(201);
    const token = await admin.post('/v1/tokens', { name: 'operator of team-a', role: 'operator', project: 'team-a' });
    expect(token.status).toBe(201);
    project = admin.as(token.body.token);
    hostNames = (await admin.get('/v1/hosts')).body.items.map((h: any) => h.name);
    expect(hostNames).toHaveLength(2);
  });
  afterAll(() => stack.stop());

  it("gets an operation's result without its host, where a fleet-wide token gets the host", async () => {
    const { op } = await project.createAndWait({ ...spec, name: 'one' }, 120);
    expect(op.status).toBe('succeeded');
    const asAdmin = (await admin.get(`/v1/operations/${op.id}`)).body;
    expect(hostNames).toContain(asAdmin.result.details.host);
    expect(namesAHost(op)).toBeUndefined();
    expect(op.result.details).toEqual({ simulated: true });
    const listed = (await project.get('/v1/operations?limit=500')).body.items;
    expect(namesAHost(listed)).toBeUndefined();
  });

  it('streams operation steps without host names', async () => {
    const mine = followEvents(stack.url, project.token);
    const all = followEvents(stack.url, admin.token);
    try {
      await Promise.all([mine.ready, all.ready]);
      // A batch's children are sent to their hosts with the step "provisioning on <host>" in one event each.
      const batch = await project.post('/v1/instances/batch', { count: 4, namePrefix: 'many', spec });
      expect(batch.status).toBe(202);
      expect((await project.waitOp(batch.body.id, 120)).status).toBe('succeeded');
      await waitFor('both streams to see the batch end', async () =>
        [mine, all].every((s) => s.events.some((e) => e.data.subjectId === batch.body.id && e.data.status === 'succeeded')),
      );
      const fleetSteps = all.events.filter((e) => e.data.projectId !== null && typeof e.data.step === 'string' && / on /.test(e.data.step));
      expect(fleetSteps.length).toBeGreaterThan(0); // the fleet-wide stream names them: the check below means something
      expect(mine.events.filter((e) => e.data.step === 'provisioning').length).toBeGreaterThan(0);
      expect(namesAHost(mine.events)).toBeUndefined();
    } finally {
      mine.stop();
      all.stop();
    }
  });

  it('reads a running operation\'s step without its host', async () => {
    // No agent to answer: the create stays "provisioning on <host>".
    await stack.agent!.stop();
    const created = await project.post('/v1/instances', { ...spec, name: 'waiting' });
    expect(created.status).toBe(202);
    const asAdmin = await waitFor('the create to be sent to its host', async () => {
      const op = (await admin.get(`/v1/operations/${created.body.id}`)).body;
      return /^provisioning on /.test(op.step) ? op : null;
    });
    expect(hostNames.some((h) => asAdmin.step.endsWith(h))).toBe(true);
    const seen = (await project.get(`/v1/operations/${created.body.id}`)).body;
    expect(seen.step).toBe('provisioning');
    expect(namesAHost(seen)).toBeUndefined();
  });
});
