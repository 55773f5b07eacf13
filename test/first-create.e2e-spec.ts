import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_VERSION, simInventory } from '@hyperplane/agent';
import { simHost, Stack, startStack, waitFor } from '@hyperplane/testing';

const WAITING = 'waiting for a host that is still enrolling';

// The newcomer's first minute: `npm start`, then a create at once, while the hosts enrolled a
// moment ago have not beaten yet (a host is `enrolling` until the controller sees a heartbeat).
describe('a create that arrives while hosts are still enrolling', () => {
  let stack: Stack;
  const linux = simHost('first-linux', 'linux', 'x86_64');
  const windows = simHost('silent-windows', 'windows', 'x86_64');

  beforeAll(async () => {
    // The wait is bounded by the heartbeat timeout: 8 s here.
    stack = await startStack({ noAgent: true, config: { HYPERPLANE_HEARTBEAT_TIMEOUT_S: 8 } });
  });
  afterAll(() => stack?.stop());

  /** Enrolls hosts as an agent would, without beating for them: they stay `enrolling`. */
  async function enrollSilently(...specs: (typeof linux)[]): Promise<{ credential: string; ids: string[] }> {
    const res = await fetch(`${stack.url}/v1/agents/enroll`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await stack.enrollmentToken()}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ hosts: specs.map((s) => simInventory(s, AGENT_VERSION)) }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { credential: string; hosts: { id: string }[] };
    return { credential: body.credential, ids: body.hosts.map((h) => h.id) };
  }

  const create = (name: string, template: string, vcpus = 1): Promise<{ status: number; body: any }> =>
    stack.client.post('/v1/instances', { name, template, technology: 'container', resources: { vcpus, memoryMiB: 256, diskGiB: 1 } });

  it('waits for the host and succeeds once its agent beats', async () => {
    const { credential, ids } = await enrollSilently(linux);
    // The agent of these hosts starts later, with this enrollment (as after a restart).
    writeFileSync(join(stack.dataDir, 'agent-state.json'), JSON.stringify({ apiUrl: stack.url, credential, hosts: { [linux.key]: ids[0] } }));

    const post = await create('first', 'alpine-3.20');
    expect(post.status).toBe(202);
    const waiting = await waitFor('the create to wait', async () => {
      const op = (await stack.client.get(`/v1/operations/${post.body.id}`)).body;
      return op.step === WAITING && op;
    });
    // Not under way yet: still queued (and so still cancellable).
    expect(waiting.status).toBe('queued');
    const host = (await stack.client.get(`/v1/hosts/${ids[0]}`)).body;
    expect(host.status).toBe('enrolling');

    await stack.startAgent({ simHosts: [linux] });
    const done = await stack.client.waitOp(post.body.id, 30);
    expect(done).toMatchObject({ status: 'succeeded' });
    const instance = (await stack.client.get(`/v1/instances/${done.instanceId}`)).body;
    expect(instance).toMatchObject({ state: 'running', hostId: ids[0] });
  });

  it('can be cancelled while it waits', async () => {
    await enrollSilently(simHost('silent-windows-0', 'windows', 'x86_64'));
    const post = await create('never-mind', 'windows-server-2022');
    expect(post.status).toBe(202);
    await waitFor('the create to wait', async () => (await stack.client.get(`/v1/operations/${post.body.id}`)).body.step === WAITING);
    const cancel = await stack.client.post(`/v1/operations/${post.body.id}/cancel`, {});
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ status: 'cancelled' });
    const done = await stack.client.waitOp(post.body.id, 10);
    expect(done).toMatchObject({ status: 'cancelled' });
    // The instance that was never placed is gone with its create.
    expect((await stack.client.get(`/v1/instances/${post.body.instanceId}`)).status).toBe(404);
  });

  it('fails unschedulable, saying so, when the enrolling host stays silent past the heartbeat timeout', async () => {
    await enrollSilently(windows);
    const post = await create('for-windows', 'windows-server-2022');
    expect(post.status).toBe(202);
    await waitFor('the create to wait', async () => (await stack.client.get(`/v1/operations/${post.body.id}`)).body.step === WAITING);
    const done = await stack.client.waitOp(post.body.id, 30);
    expect(done).toMatchObject({ status: 'failed', step: 'unschedulable', error: { code: 'unschedulable' } });
    expect(done.error.message).toMatch(/not ready \((\d+ )?enrolling\)/);
  });

  it('does not wait when no enrolling host would take the request', async () => {
    // The Windows host above is still enrolling, but 64 vCPUs fit nowhere.
    const post = await create('too-big', 'windows-server-2022', 64);
    expect(post.status).toBe(202);
    const done = await stack.client.waitOp(post.body.id, 30);
    expect(done).toMatchObject({ status: 'failed', step: 'unschedulable' });

  });
});
