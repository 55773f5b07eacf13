import { allocationsMatchClaims, Stack } from './stack';

const small = { vcpus: 1, memoryMiB: 256, diskGiB: 1 };

/** Creates, stops, starts and deletes instances of both technologies, and a batch. */
export async function runPipeline(stack: Stack, tag: string): Promise<void> {
  const vm = await stack.client.createAndWait({ name: `${tag}-vm`, template: 'debian-12', technology: 'vm', resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 } });
  const ct = await stack.client.createAndWait({ name: `${tag}-ct`, template: 'alpine-3.20', technology: 'container', resources: small });
  expect([vm.op.status, ct.op.status]).toEqual(['succeeded', 'succeeded']);
  expect([vm.instance.state, ct.instance.state]).toEqual(['running', 'running']);
  for (const action of ['stop', 'start']) {
    const ops = await Promise.all([vm, ct].map((x) => stack.client.act(x.instance.id, action)));
    expect(ops.map((o) => o.status)).toEqual(['succeeded', 'succeeded']);
  }
  const batch = await stack.client.post('/v1/instances/batch', { count: 10, namePrefix: `${tag}-b`, spec: { template: 'alpine-3.20', technology: 'container', resources: small } });
  expect(batch.status).toBe(202);
  const parent = await stack.client.waitOp(batch.body.id, 90);
  expect(parent.result).toMatchObject({ total: 10, succeeded: 10, failed: 0 });
  const del = await stack.client.delete(`/v1/instances/${ct.instance.id}`);
  expect(del.status).toBe(202);
  expect((await stack.client.waitOp(del.body.id)).status).toBe('succeeded');
  expect((await stack.client.get(`/v1/instances/${ct.instance.id}`)).status).toBe(404);
  expect(await allocationsMatchClaims(stack)).toBe(true);
}

