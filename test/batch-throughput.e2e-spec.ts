import { Reconciler } from '@hyperplane/controller';
import { simHost, startStack, Stack } from '@hyperplane/testing';

describe("a batch on one host, at the simulator's real durations", () => {
  let stack: Stack;

  beforeAll(async () => {
    // One roomy host, so every child lands there; real durations (timeScale 1) so that the
    // agent reports results while other commands of the batch still run.
    stack = await startStack({ simHosts: [simHost('roomy', 'linux', 'x86_64', { capacity: { vcpus: 64, memoryMiB: 262_144, diskGiB: 4000 } })], timeScale: 1 });
  });
  afterAll(() => stack.stop());

  it('runs all 200 children without any operation re-enqueued as stalled', async () => {
    const r = await stack.client.post('/v1/instances/batch', {
      count: 200,
      namePrefix: 'one-host',
      spec: { template: 'ubuntu-24.04', technology: 'auto', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 2 } },
    });
    expect(r.status).toBe(202);
    const parent = await stack.client.waitOp(r.body.id, 240);
    expect(parent.status).toBe('succeeded');
    const { rows } = await stack.sql.query(`SELECT state, COUNT(*)::int AS n, COUNT(DISTINCT host_id)::int AS hosts FROM instances GROUP BY state`);
    expect(rows).toEqual([{ state: 'running', n: 200, hosts: 1 }]);
    // Each result arrived as it was sent: the reconciler never had to send a command again.
    expect(stack.controller!.get(Reconciler).requeued).toBe(0);
  });
});
