import { RequestQueueConsumer } from '@hyperplane/api';
import { RequestRefused } from '@hyperplane/queue';
import { ApiClient, simHost, startStack, Stack } from '@hyperplane/testing';

// What a job gets back, checked against what the same request gets over HTTP.
describe('a queue job answers like its HTTP twin', () => {
  let stack: Stack;
  let consumer: RequestQueueConsumer;
  let operator: string;
  let viewer: string;
  let http: ApiClient;
  const spec = (name: string, extra: Record<string, unknown> = {}) => ({ project: 'jobs', name, template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 }, ...extra });
  let n = 0;
  const run = (data: unknown) => consumer.handle(data, { id: `t-${++n}` });
  const refusal = async (data: unknown): Promise<Record<string, any>> => {
    const e = await run(data).then(
      () => null,
      (err: unknown) => err,
    );
    if (!(e instanceof RequestRefused)) throw new Error(`expected a refusal, got ${String(e)}`);
    return e.problem;
  };

  beforeAll(async () => {
    stack = await startStack({ simHosts: [simHost('jc-1', 'linux', 'x86_64')], config: { HYPERPLANE_REQUEST_QUEUE_CONCURRENCY: 0 } });
    consumer = stack.api.get(RequestQueueConsumer);
    await stack.client.post('/v1/projects', { name: 'jobs' });
    await stack.client.post('/v1/projects', { name: 'others' });
    operator = (await stack.client.post('/v1/tokens', { name: 'jobs operator', role: 'operator', project: 'jobs' })).body.token;
    viewer = (await stack.client.post('/v1/tokens', { name: 'jobs viewer', role: 'viewer', project: 'jobs' })).body.token;
    http = stack.client.as(operator);
  });
  afterAll(() => stack?.stop());

  it('refuses invalid input with the very problem the API gives', async () => {
    const body = spec('bad', { resources: { vcpus: 0, memoryMiB: 'lots' }, colour: 'blue' });
    const overHttp = await http.post('/v1/instances', body);
    expect(overHttp.status).toBe(400);
    const viaQueue = await refusal({ action: 'create', idempotencyKey: 'bad-1', token: operator, body });
    expect(viaQueue.status).toBe(400);
    expect(viaQueue.errors).toEqual(overHttp.body.errors);
  });

  it('authenticates and authorises with the job\'s token', async () => {
    expect((await refusal({ action: 'create', idempotencyKey: 'k', token: 'nope-nope-nope-nope', body: spec('a') })).status).toBe(401);
    expect((await refusal({ action: 'create', idempotencyKey: 'k', token: viewer, body: spec('a') })).status).toBe(403);
    // Another project is not the token's: as over HTTP, it does not exist for it.
    expect((await refusal({ action: 'create', idempotencyKey: 'k2', token: operator, body: { ...spec('a'), project: 'others' } })).errors[0].field).toBe('project');
  });

  it('refuses a malformed job naming the field', async () => {
    expect((await refusal({ action: 'explode', idempotencyKey: 'k', token: operator })).errors[0].field).toBe('action');
    expect((await refusal({ action: 'create', token: operator, body: spec('a') })).errors[0].field).toBe('idempotencyKey');
    expect((await refusal({ action: 'stop', idempotencyKey: 'k', token: operator, instanceId: 'not-a-uuid' })).status).toBe(404);
    expect((await refusal({ action: 'create', idempotencyKey: 'k', token: operator, body: [] })).errors[0].field).toBe('body');
  });

  it('answers with the finished operation, or at acceptance when asked; a key replays, another body with it is a 409', async () => {
    const done = await run({ action: 'create', idempotencyKey: 'one', token: operator, body: spec('one') });
    expect(done).toMatchObject({ kind: 'create', status: 'succeeded' });
    const again = await run({ action: 'create', idempotencyKey: 'one', token: operator, body: spec('one') });
    expect(again.id).toBe(done.id);
    expect((await refusal({ action: 'create', idempotencyKey: 'one', token: operator, body: spec('other') })).status).toBe(409);
    // The same key over HTTP is the same request.
    const overHttp = await http.post('/v1/instances', spec('one'), { 'Idempotency-Key': 'one' });
    expect(overHttp.body.id).toBe(done.id);

    const quick = await run({ action: 'stop', idempotencyKey: 'stop-one', token: operator, instanceId: done.instanceId, respondWhen: 'accepted' });
    expect(quick).toMatchObject({ kind: 'stop', status: 'queued' });
    expect((await http.waitOp(quick.id, 60)).status).toBe('succeeded');
    const audit = (await stack.client.get('/v1/audit?action=queue%20stop')).body.items;
    expect(audit[0]).toMatchObject({ source: 'queue', target: `/v1/instances/${done.instanceId}/actions/stop`, status: 202, tokenName: 'jobs operator' });
  });

  it('deletes instances in a batch, answered when every child has ended', async () => {
    const made = await Promise.all(['bd-1', 'bd-2'].map((name) => run({ action: 'create', idempotencyKey: `make-${name}`, token: operator, body: spec(name) })));
    const ids = made.map((o) => o.instanceId as string);
    expect((await refusal({ action: 'batch-delete', idempotencyKey: 'bd-bad', token: operator, body: { ids: ['x'] } })).errors[0].field).toBe('ids');
    const gone = await run({ action: 'batch-delete', idempotencyKey: 'bd', token: operator, body: { ids } });
    expect(gone).toMatchObject({ kind: 'batch-delete', status: 'succeeded', result: { total: 2, succeeded: 2 } });
    for (const id of ids) expect((await http.get(`/v1/instances/${id}`)).status).toBe(404);
  });
});
