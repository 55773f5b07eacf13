import { INestApplicationContext } from '@nestjs/common';
import { OperationRunner, startController } from '@hyperplane/controller';
import { simHost, startStack, Stack } from '@hyperplane/testing';

// Apple's licence allows two macOS guests per Mac. Two controllers placing at once each see a
// fleet snapshot without the other's guests; the claim in PostgreSQL must still hold the line.
const MAC = simHost('big-mac', 'macos', 'arm64', { capacity: { vcpus: 64, memoryMiB: 262144, diskGiB: 4000 } });

describe('two macOS guests per Mac, with two controllers placing at once', () => {
  let stack: Stack;
  let second: INestApplicationContext;

  beforeAll(async () => {
    stack = await startStack({ simHosts: [MAC] });
    second = await startController(stack.config);
  });
  afterAll(async () => {
    await second.close();
    await stack.stop();
  });

  it('runs two of twelve concurrent macOS guests and refuses the rest, saying why', async () => {
    const runs = [jest.spyOn(stack.controller!.get(OperationRunner), 'run'), jest.spyOn(second.get(OperationRunner), 'run')];
    const posts = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        stack.client.post('/v1/instances', { name: `mac-guest-${i}`, template: 'macos-15', technology: 'vm', resources: { vcpus: 2, memoryMiB: 4096, diskGiB: 40 } }),
      ),
    );
    expect(posts.map((p) => p.status)).toEqual(Array(12).fill(202));
    const ops = await Promise.all(posts.map((p) => stack.client.waitOp(p.body.id, 120)));
    expect(runs.map((r) => r.mock.calls.length > 0)).toEqual([true, true]);
    expect(ops.filter((o) => o.status === 'succeeded')).toHaveLength(2);
    const { rows } = await stack.sql.query(`SELECT state, state_reason FROM instances ORDER BY state`);
    expect(rows.filter((r: any) => r.state === 'running')).toHaveLength(2);
    for (const r of rows.filter((x: any) => x.state !== 'running')) {
      expect([r.state, r.state_reason]).toEqual(['unschedulable', '0 of 1 hosts fit: 1 is a Mac at the macOS licence limit: host big-mac already runs 2 macOS guests, the most macOS allows']);
    }
  });
});
