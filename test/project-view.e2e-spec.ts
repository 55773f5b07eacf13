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

  it('streams operation events without host names', async () => {
    const mine = followEvents(stack.url, project.token);
    const all = followEvents(stack.url, admin.token);
    try {
      await Promise.all([mine.ready, all.ready]);
      // Two creates (a batch's children emit no operation events of their own: README, the
      // event contract).
      const ops: string[] = [];
      for (const name of ['many-1', 'many-2']) {
        const created = await project.post('/v1/instances', { ...spec, name });
        expect(created.status).toBe(202);
        ops.push(created.body.id);
      }
      for (const id of ops) expect((await project.waitOp(id, 120)).status).toBe('succeeded');
      await waitFor('both streams to see the creates end', async () =>
        [mine, all].every((s) => ops.every((id) => s.events.some((e) => e.data.subjectId === id && e.data.status === 'succeeded'))),
      );
      const ofOps = (events: typeof all.events) => events.filter((e) => ops.includes(e.data.subjectId as string));
      // Both streams carried these operations' events (steps included); only the fleet-wide one
      // may name where they ran. Steps that name a host ("provisioning on X") travel in events
      // only with a batch child that fails there; their rewrite is fleet-view.spec.ts's.
      const steps = (events: typeof all.events) => ofOps(events).filter((e) => typeof e.data.step === 'string');
      expect(steps(all.events).length).toBeGreaterThan(0);
      expect(steps(mine.events).map((e) => e.data.step)).toEqual(steps(all.events).map((e) => e.data.step));
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
