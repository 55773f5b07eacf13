import { ApiClient, Reply, startStack, Stack } from '@hyperplane/testing';

// `stop` with { force } / { timeoutS } and `DELETE ?force=true`, over the API to the simulated
// driver: the options travel with the operation to the host command the agent runs.

jest.setTimeout(60_000);

const VALID = { template: 'debian-12', technology: 'container', resources: { vcpus: 1, memoryMiB: 512, diskGiB: 10 } };

function expect400(r: Reply, field: string): void {
  expect({ status: r.status, type: r.headers.get('content-type'), fields: (r.body.errors ?? []).map((e: { field: string }) => e.field) }).toEqual({
    status: 400,
    type: expect.stringMatching(/^application\/problem\+json/),
    fields: [field],
  });
}

describe('stop options and forced delete', () => {
  let stack: Stack;
  let client: ApiClient;

  beforeAll(async () => {
    stack = await startStack();
    client = stack.client;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** The stop options of the command the operation sent to its host. */
  async function sentStop(operationId: string): Promise<unknown> {
    const { rows } = await stack.sql.query(`SELECT job_data -> 'stop' AS stop, job_data ->> 'command' AS command FROM operations WHERE id = $1`, [operationId]);
    return rows[0];
  }

  it('sends a forced stop to the host and the instance ends stopped', async () => {
    const { instance } = await client.createAndWait({ ...VALID, name: 'stop-force' });
    const r = await client.post(`/v1/instances/${instance.id}/actions/stop`, { force: true });
    expect(r.status).toBe(202);
    expect((await client.waitOp(r.body.id)).status).toBe('succeeded');
    expect(await sentStop(r.body.id)).toEqual({ command: 'stop', stop: { force: true } });
    expect((await client.get(`/v1/instances/${instance.id}`)).body.state).toBe('stopped');
  });

  it('sends the graceful timeout asked for, and 30 s when none is', async () => {
    const { instance } = await client.createAndWait({ ...VALID, name: 'stop-timeout' });
    const r = await client.post(`/v1/instances/${instance.id}/actions/stop`, { timeoutS: 5 });
    expect(r.status).toBe(202);
    expect((await client.waitOp(r.body.id)).status).toBe('succeeded');
    expect(await sentStop(r.body.id)).toEqual({ command: 'stop', stop: { timeoutS: 5 } });
    const start = await client.post(`/v1/instances/${instance.id}/actions/start`);
    expect((await client.waitOp(start.body.id)).status).toBe('succeeded');
    const plain = await client.post(`/v1/instances/${instance.id}/actions/stop`);
    expect((await client.waitOp(plain.body.id)).status).toBe('succeeded');
    expect(await sentStop(plain.body.id)).toEqual({ command: 'stop', stop: { timeoutS: 30 } });
  });

  it('refuses bad stop options with 400 naming the field, and options on other actions', async () => {
    const { instance } = await client.createAndWait({ ...VALID, name: 'stop-bad' });
    const path = `/v1/instances/${instance.id}/actions`;
    expect400(await client.post(`${path}/stop`, { force: 'yes' }), 'force');
    expect400(await client.post(`${path}/stop`, { timeoutS: 0 }), 'timeoutS');
    expect400(await client.post(`${path}/stop`, { timeoutS: 601 }), 'timeoutS');
    expect400(await client.post(`${path}/stop`, { timeoutS: 1.5 }), 'timeoutS');
    expect400(await client.post(`${path}/stop`, { timeoutS: '10' }), 'timeoutS');
    expect400(await client.post(`${path}/stop`, { force: true, timeoutS: 10 }), 'timeoutS');
    expect400(await client.post(`${path}/stop`, { graceful: true }), 'graceful');
    expect400(await client.post(`${path}/suspend`, { force: true }), 'force');
    expect400(await client.post(`${path}/restart`, { timeoutS: 10 }), 'timeoutS');
    // Nothing was started by any of them.
    const { rows } = await stack.sql.query(`SELECT count(*)::int AS n FROM operations WHERE instance_id = $1 AND kind <> 'create'`, [instance.id]);
    expect(rows[0].n).toBe(0);
  });

  it('deletes a running instance with ?force=true by stopping it forcibly first', async () => {
    const { instance } = await client.createAndWait({ ...VALID, name: 'delete-force' });
    expect400(await client.delete(`/v1/instances/${instance.id}?force=maybe`), 'force');
    const r = await client.delete(`/v1/instances/${instance.id}?force=true`);
    expect(r.status).toBe(202);
    expect((await client.waitOp(r.body.id)).status).toBe('succeeded');
    expect(await sentStop(r.body.id)).toEqual({ command: 'destroy', stop: { force: true } });
    expect((await client.get(`/v1/instances/${instance.id}`)).status).toBe(404);
    // Without it the destroy carries no stop (the driver's own destroy, as before).
    const other = (await client.createAndWait({ ...VALID, name: 'delete-plain' })).instance;
    const plain = await client.delete(`/v1/instances/${other.id}`);
    expect((await client.waitOp(plain.body.id)).status).toBe('succeeded');
    expect(await sentStop(plain.body.id)).toEqual({ command: 'destroy', stop: null });
  });
});
