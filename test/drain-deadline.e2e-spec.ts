import { INestApplicationContext } from '@nestjs/common';
import { DrainDeadlineWatcher, startController } from '@hyperplane/controller';
import { AuditRepository, Database, HostRepository, OperationRepository, OutboxRepository } from '@hyperplane/db';
import { allocationsMatchClaims, simHost, startStack, Stack, waitFor } from '@hyperplane/testing';

// Drain with a deadline (issue 14 §3): POST /v1/hosts/{id}/actions/drain { deadline | deadlineS }
// keeps what runs on the host until the deadline; then the controller evacuates what remains,
// once, as one `evacuate` operation whose `migrate` children say where each instance went.

jest.setTimeout(300_000);

const FLEET = ['src-a', 'src-b', 'src-c', 'src-d', 'empty-1', 'dst-1', 'dst-2'].map((k) => simHost(k, 'linux', 'x86_64'));
const VM = { template: 'debian-12', technology: 'vm', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 2 } };
const CONTAINER = { template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } };

describe('draining a host with a deadline', () => {
  let stack: Stack;
  const ids = new Map<string, string>();
  const names = new Map<string, string>();
  const others: INestApplicationContext[] = [];

  beforeAll(async () => {
    stack = await startStack({ simHosts: FLEET });
    for (const h of (await stack.client.get('/v1/hosts?limit=100')).body.items) {
      ids.set(h.name, h.id);
      names.set(h.id, h.name);
    }
    // Kept empty until a test uses them: an evacuation of another test's host must not land there.
    for (const name of ['src-b', 'src-c', 'src-d', 'empty-1']) expect((await stack.client.post(`/v1/hosts/${ids.get(name)}/actions/maintenance`)).status).toBe(200);
  });
  afterAll(async () => {
    for (const c of others) await c.close().catch(() => undefined);
    await stack?.stop();
  });

  const hostId = (name: string): string => ids.get(name)!;
  const field = (r: { status: number; body: any }): [number, string | undefined] => [r.status, r.body.errors?.[0]?.field];
  const evacuationsOf = async (host: string): Promise<any[]> =>
    (await stack.sql.query(`SELECT id, status, requested_by, request FROM operations WHERE kind = 'evacuate' AND request->>'hostId' = $1`, [host])).rows;
  const deadlinePassed = (host: string): Promise<boolean> =>
    waitFor('the deadline to pass (on the database clock)', async () => (await stack.sql.query(`SELECT drain_deadline <= now() AS passed FROM hosts WHERE id = $1`, [host])).rows[0].passed, 30_000);
  const place = async (host: string, n: number): Promise<any[]> => {
    expect((await stack.client.post(`/v1/hosts/${host}/actions/activate`)).body.status).toBe('ready');
    const made = [];
    for (let i = 0; i < n; i++) {
      const spec = i % 2 === 0 ? VM : CONTAINER;
      made.push((await stack.client.createAndWait({ ...spec, name: `${names.get(host)}-${i}`, placement: { hostId: host } })).instance);
    }
    return made;
  };

  it('refuses a deadline it cannot keep (400 naming the field), other actions with one, and non-admins (403)', async () => {
    const h = hostId('dst-2');
    const drain = (body: unknown): Promise<any> => stack.client.post(`/v1/hosts/${h}/actions/drain`, body);
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    expect(field(await drain({ deadline: soon, deadlineS: 60 }))).toEqual([400, 'deadlineS']);
    expect(field(await drain({ deadline: new Date(Date.now() - 60_000).toISOString() }))).toEqual([400, 'deadline']);
    expect(field(await drain({ deadline: '2030-01-01T00:00:00' }))).toEqual([400, 'deadline']);
    expect(field(await drain({ deadline: 'tomorrow' }))).toEqual([400, 'deadline']);
    expect(field(await drain({ deadlineS: 0 }))).toEqual([400, 'deadlineS']);
    expect(field(await drain({ deadlineS: 1.5 }))).toEqual([400, 'deadlineS']);
    expect(field(await stack.client.post(`/v1/hosts/${h}/actions/maintenance`, { deadlineS: 60 }))).toEqual([400, 'deadlineS']);
    expect((await stack.client.post(`/v1/hosts/00000000-0000-4000-8000-000000000000/actions/drain`, { deadlineS: 60 })).status).toBe(404);
    const operator = await stack.client.post('/v1/tokens', { name: 'operator', role: 'operator' });
    expect((await stack.client.as(operator.body.token).post(`/v1/hosts/${h}/actions/drain`, { deadlineS: 60 })).status).toBe(403);
    // None of it changed the host.
    expect((await stack.client.get(`/v1/hosts/${h}`)).body).toMatchObject({ status: 'ready', drainDeadline: null, drainEvacuationId: null });
  });

  it('keeps the instances until the deadline, then one evacuation moves them all and says what went where', async () => {
    const src = hostId('src-a');
    const placed = await place(src, 3);
    const stopped = placed[1];
    expect((await stack.client.act(stopped.id, 'stop')).status).toBe('succeeded');

    // A far deadline: not due, nothing moves.
    const far = new Date(Date.now() + 3_600_000);
    const drained = await stack.client.post(`/v1/hosts/${src}/actions/drain`, { deadline: far.toISOString() });
    expect(drained.status).toBe(200);
    expect(drained.body).toMatchObject({ status: 'draining', drainDeadline: far.toISOString(), drainDeadlineReachedAt: null, drainEvacuationId: null });
    expect(drained.body.statusReason).toContain(far.toISOString().replace(/\.\d{3}Z$/, 'Z'));
    expect(await stack.controller!.get(DrainDeadlineWatcher).act(src)).toBeNull();
    expect(await evacuationsOf(src)).toEqual([]);

    // Draining it again with a deadline moves the deadline: 2 s from now.
    const moved = await stack.client.post(`/v1/hosts/${src}/actions/drain`, { deadlineS: 2 });
    expect(moved.status).toBe(200);
    expect(new Date(moved.body.drainDeadline).getTime()).toBeLessThan(far.getTime());
    const host = await waitFor('the deadline to start an evacuation', async () => {
      const h = (await stack.client.get(`/v1/hosts/${src}`)).body;
      return h.drainEvacuationId ? h : null;
    });
    expect(host.status).toBe('draining');
    expect(host.drainDeadlineReachedAt).not.toBeNull();
    expect(host.statusReason).toMatch(/^drain deadline .* passed: evacuating 3 instance\(s\) \(operation .*, by system:drain-deadline\)$/);

    const parent = await stack.client.waitOp(host.drainEvacuationId, 120);
    expect(parent).toMatchObject({ kind: 'evacuate', status: 'succeeded', requestedBy: null, initiator: 'system:drain-deadline', fromHostId: src, fromHostName: 'src-a', toHostId: null });
    expect(parent.result).toMatchObject({ total: 3, moved: 3, failed: 0, remaining: 0 });

    const children = (await stack.client.get(`/v1/operations?parent=${parent.id}&limit=100`)).body.items;
    expect(children).toHaveLength(3);
    for (const c of children) {
      expect(c).toMatchObject({ kind: 'migrate', status: 'succeeded', fromHostId: src, fromHostName: 'src-a', initiator: null });
      const now = (await stack.client.get(`/v1/instances/${c.instanceId}`)).body;
      expect(c.toHostId).toBe(now.hostId);
      expect(c.toHostName).toBe(names.get(now.hostId));
      expect((await stack.client.get(`/v1/operations/${c.id}`)).body).toMatchObject({ fromHostId: src, toHostId: now.hostId });
    }
    expect(new Set(children.map((c: any) => c.instanceId))).toEqual(new Set(placed.map((i) => i.id)));
    const after = await Promise.all(placed.map(async (i) => (await stack.client.get(`/v1/instances/${i.id}`)).body));
    expect(after.map((i) => i.state)).toEqual(['running', 'stopped', 'running']);
    expect(after.every((i) => i.hostId !== src)).toBe(true);
    expect((await stack.client.get(`/v1/hosts/${src}`)).body.allocated).toMatchObject({ vcpus: 0, memoryMiB: 0, diskGiB: 0, instances: 0 });
    expect(await allocationsMatchClaims(stack)).toBe(true);

    // Once: one evacuation, one audit entry by the deadline; the deadline is not due again.
    expect(await evacuationsOf(src)).toHaveLength(1);
    const audit = (await stack.sql.query(`SELECT action, target, source, status FROM audit_entries WHERE token_name = 'system:drain-deadline' AND target = $1`, [`/v1/hosts/${src}`])).rows;
    expect(audit).toEqual([{ action: 'drain deadline: evacuate', target: `/v1/hosts/${src}`, source: 'controller', status: 202 }]);
    expect(await stack.controller!.get(DrainDeadlineWatcher).act(src)).toBeNull();
  });

  it('evacuates exactly once across a controller that was down at the deadline, one that fails mid-way, and two at once', async () => {
    const src = hostId('src-b');
    const placed = await place(src, 2);
    await stack.stopController();
    const drained = await stack.client.post(`/v1/hosts/${src}/actions/drain`, { deadlineS: 1, reason: 'rack move' });
    expect(drained.body).toMatchObject({ status: 'draining', statusReason: 'rack move' });
    await deadlinePassed(src);
    // No controller, nothing acted: the row still says so.
    expect(await evacuationsOf(src)).toEqual([]);
    expect((await stack.sql.query(`SELECT drain_deadline_reached_at FROM hosts WHERE id = $1`, [src])).rows[0].drain_deadline_reached_at).toBeNull();

    // The first attempt dies after making the evacuation and before the commit: all of it goes
    // (the parent, its children, its outbox message, the audit entry), and it is made again once.
    const record = jest.spyOn(HostRepository.prototype, 'recordDrainDeadlineReached').mockRejectedValueOnce(new Error('crash before the commit'));
    try {
      await stack.startController();
      others.push(await startController(stack.config));
      const host = await waitFor('the evacuation', async () => {
        const h = (await stack.client.get(`/v1/hosts/${src}`)).body;
        return h.drainEvacuationId ? h : null;
      });
      expect(record.mock.calls.length).toBeGreaterThanOrEqual(2);
      const parent = await stack.client.waitOp(host.drainEvacuationId, 120);
      expect(parent).toMatchObject({ status: 'succeeded', initiator: 'system:drain-deadline', result: { total: 2, moved: 2 } });
      expect(host.statusReason).toMatch(/^drain deadline .* passed: evacuating 2 instance\(s\)/);
    } finally {
      record.mockRestore();
      await others.pop()?.close();
    }
    const evacuations = await evacuationsOf(src);
    expect(evacuations).toHaveLength(1);
    const children = (await stack.sql.query(`SELECT instance_id, status FROM operations WHERE kind = 'migrate' AND request->>'fromHostId' = $1`, [src])).rows;
    expect(children.map((c: any) => c.instance_id).sort()).toEqual(placed.map((i) => i.id).sort());
    expect(children.every((c: any) => c.status === 'succeeded')).toBe(true);
    expect((await stack.sql.query(`SELECT count(*)::int AS n FROM audit_entries WHERE token_name = 'system:drain-deadline' AND target = $1`, [`/v1/hosts/${src}`])).rows[0].n).toBe(1);

    // Restarted after: the row says it was done; nothing new.
    await stack.stopController();
    await stack.startController();
    expect(await stack.controller!.get(HostRepository).drainDue(100)).not.toContain(src);
    expect(await stack.controller!.get(DrainDeadlineWatcher).act(src)).toBeNull();
    expect(await evacuationsOf(src)).toHaveLength(1);
    expect(await allocationsMatchClaims(stack)).toBe(true);
  });

  it('an evacuation under way at the deadline is the one: nothing new; two evacuate requests answer with one operation', async () => {
    const src = hostId('src-c');
    await place(src, 2);
    await stack.stopController();
    let first: any;
    try {
      first = await stack.client.post(`/v1/hosts/${src}/actions/evacuate`);
      const second = await stack.client.post(`/v1/hosts/${src}/actions/evacuate`);
      expect([first.status, second.status]).toEqual([202, 202]);
      expect(second.body.id).toBe(first.body.id);
      expect((await stack.client.post(`/v1/hosts/${src}/actions/drain`, { deadlineS: 1 })).body.drainDeadline).not.toBeNull();
      await deadlinePassed(src);
      // The watcher's check, run here while no controller runs the evacuation (it stays queued).
      const api = stack.api;
      const watcher = new DrainDeadlineWatcher(api.get(Database), api.get(HostRepository), api.get(OperationRepository), api.get(OutboxRepository), api.get(AuditRepository));
      expect(await watcher.act(src)).toEqual({ kind: 'under-way', operationId: first.body.id });
      expect(await watcher.act(src)).toBeNull();
    } finally {
      await stack.startController();
    }
    const host = (await stack.client.get(`/v1/hosts/${src}`)).body;
    expect(host).toMatchObject({ drainEvacuationId: first.body.id });
    expect(host.statusReason).toMatch(/already under way/);
    expect(await evacuationsOf(src)).toHaveLength(1);
    expect((await stack.client.waitOp(first.body.id, 120)).status).toBe('succeeded');
    expect(await evacuationsOf(src)).toHaveLength(1);
  });

  it('an empty host at the deadline: nothing to evacuate, no operation', async () => {
    const h = hostId('empty-1');
    expect((await stack.client.post(`/v1/hosts/${h}/actions/drain`, { deadlineS: 1 })).status).toBe(200);
    const host = await waitFor('the deadline to be reached', async () => {
      const b = (await stack.client.get(`/v1/hosts/${h}`)).body;
      return b.drainDeadlineReachedAt ? b : null;
    });
    expect(host).toMatchObject({ status: 'draining', drainEvacuationId: null });
    expect(host.statusReason).toMatch(/nothing to evacuate \(the host is empty\)/);
    expect(await evacuationsOf(h)).toEqual([]);
  });

  it('activate (or maintenance) before the deadline clears it: nothing moves', async () => {
    const src = hostId('src-d');
    const [instance] = await place(src, 1);
    for (const [action, status] of [['activate', 'ready'], ['maintenance', 'maintenance']] as const) {
      expect((await stack.client.post(`/v1/hosts/${src}/actions/drain`, { deadlineS: 2 })).body.drainDeadline).not.toBeNull();
      const undone = await stack.client.post(`/v1/hosts/${src}/actions/${action}`);
      expect(undone.body).toMatchObject({ status, drainDeadline: null, drainDeadlineReachedAt: null, drainEvacuationId: null });
    }
    // Past the deadline that was set, the watcher finds nothing due.
    await waitFor('the cleared deadline to have passed', async () => (await stack.sql.query(`SELECT now() > updated_at + interval '2 seconds' AS p FROM hosts WHERE id = $1`, [src])).rows[0].p);
    expect(await stack.controller!.get(HostRepository).drainDue(100)).not.toContain(src);
    expect(await stack.controller!.get(DrainDeadlineWatcher).act(src)).toBeNull();
    expect(await evacuationsOf(src)).toEqual([]);
    expect((await stack.client.get(`/v1/instances/${instance.id}`)).body).toMatchObject({ hostId: src, state: 'running' });
    expect((await stack.client.post(`/v1/hosts/${src}/actions/activate`)).body.status).toBe('ready');
  });

  it('a standalone migrate shows where it moved from and to', async () => {
    const [instance] = await place(hostId('dst-2'), 1);
    const r = await stack.client.post(`/v1/instances/${instance.id}/migrate`, { hostId: hostId('dst-1') });
    expect(r.status).toBe(202);
    const op = await stack.client.waitOp(r.body.id, 60);
    expect(op).toMatchObject({ status: 'succeeded', fromHostId: hostId('dst-2'), fromHostName: 'dst-2', toHostId: hostId('dst-1'), toHostName: 'dst-1' });
    // A project's token sees no hosts.
    const project = await stack.client.post('/v1/tokens', { name: 'project viewer', role: 'viewer', project: 'default' });
    expect((await stack.client.as(project.body.token).get(`/v1/operations/${op.id}`)).body).toMatchObject({ fromHostId: null, fromHostName: null, toHostId: null, toHostName: null });
  });
});
