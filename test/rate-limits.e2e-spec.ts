import { INestApplication } from '@nestjs/common';
import { createApiApp } from '@hyperplane/api';
import { ApiClient, ADMIN_TOKEN, startStack, Stack } from '@hyperplane/testing';

/** The limiter counts in fixed minutes: start a burst early in one, so it cannot straddle two. */
async function earlyInAMinute(): Promise<void> {
  const into = (Date.now() / 1000) % 60;
  if (into > 45) await new Promise((r) => setTimeout(r, (61 - into) * 1000));
}

describe('rate limits per token, shared by two API processes through Redis', () => {
  let stack: Stack;
  let second: INestApplication;
  let other: ApiClient;

  beforeAll(async () => {
    stack = await startStack({ noAgent: true, noController: true });
    second = await createApiApp(stack.config);
    await second.listen(0, '127.0.0.1');
    other = new ApiClient(`http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`, ADMIN_TOKEN);
  });
  afterAll(async () => {
    await second.close();
    await stack.stop();
  });

  it('answers 429 with Retry-After and RateLimit headers once a token\'s own limit is used, counting both APIs', async () => {
    const made = await stack.client.post('/v1/tokens', { name: 'limited', role: 'viewer', requestsPerMinute: 5 });
    expect(made.status).toBe(201);
    expect((await stack.client.get('/v1/tokens')).body.items.find((t: any) => t.id === made.body.id).requestsPerMinute).toBe(5);
    await earlyInAMinute();
    const replies = [];
    for (let i = 0; i < 6; i++) replies.push(await (i % 2 ? other : stack.client).as(made.body.token).get('/v1/instances'));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(replies[0]!.headers.get('ratelimit-policy')).toBe('"per-token";q=5;w=60');
    expect(replies.map((r) => /r=(\d+)/.exec(r.headers.get('ratelimit') ?? '')?.[1])).toEqual(['4', '3', '2', '1', '0', '0']);
    const limited = replies[5]!;
    expect(limited.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body.type).toMatch(/too-many-requests$/);
    // Another token is not affected; the default is generous.
    const admin = await other.get('/v1/instances');
    expect(admin.status).toBe(200);
    expect(admin.headers.get('ratelimit-policy')).toBe('"per-token";q=60000;w=60');
  });

  it('takes a project token\'s limit from its project\'s quota', async () => {
    expect((await stack.client.post('/v1/projects', { name: 'slow' })).status).toBe(201);
    expect((await stack.client.request('PUT', '/v1/projects/slow/quota', { body: { requestsPerMinute: 2 } })).status).toBe(200);
    const made = await stack.client.post('/v1/tokens', { name: 'slow-op', role: 'operator', project: 'slow' });
    await earlyInAMinute();
    const tenant = stack.client.as(made.body.token);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await tenant.get('/v1/projects/slow/quota')).status);
    expect(statuses).toEqual([200, 200, 429]);
  });
});
