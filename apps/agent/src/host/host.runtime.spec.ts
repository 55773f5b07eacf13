import { randomUUID } from 'node:crypto';
import { Driver, InstanceObservation } from '@hyperplane/drivers';
import { AgentSyncPayload, JobName, JobQueue, MultiQueueConsumer } from '@hyperplane/queue';
import { HostRuntime } from './host.runtime';

/** A driver whose instances the test sets, counting how it is asked. */
function fakeDriver(): { driver: Driver; now: InstanceObservation[]; calls: { observe: number; list: number }; failing: { on: boolean } } {
  const state = { now: [] as InstanceObservation[], calls: { observe: 0, list: 0 }, failing: { on: false } };
  const driver = {
    name: 'lxc',
    observe: () => {
      state.calls.observe++;
      return state.failing.on ? Promise.reject(new Error('cannot read')) : Promise.resolve(state.now.map((o) => ({ ...o })));
    },
    list: () => {
      state.calls.list++;
      return Promise.reject(new Error('list is the slow path'));
    },
  } as unknown as Driver;
  return Object.assign(state, { driver });
}

function runtime(driver: Driver, fullReportEvery = 4): { host: HostRuntime; sent: AgentSyncPayload[] } {
  const sent: AgentSyncPayload[] = [];
  // Records what would go on the agent's results queue.
  const queue = { enqueue: (job: { data: AgentSyncPayload }) => Promise.resolve(void sent.push(job.data)) } as unknown as JobQueue;
  const host = new HostRuntime({ hostId: randomUUID(), agentId: randomUUID(), key: 'local', drivers: new Map([['lxc', driver]]), queue, consumer: {} as MultiQueueConsumer, fullReportEvery });
  return { host, sent };
}

describe('HostRuntime sync', () => {
  const a = randomUUID();
  const b = randomUUID();

  it('reports on the first periodic pass, then only when something changed', async () => {
    const fake = fakeDriver();
    fake.now = [
      { id: a, state: 'running' },
      { id: b, state: 'running' },
    ];
    const { host, sent } = runtime(fake.driver);
    expect(await host.sync({ onlyChanged: true })).toBe(true);
    expect(await host.sync({ onlyChanged: true })).toBe(false);
    fake.now[1] = { id: b, state: 'stopped', exitReason: 'killed' };
    expect(await host.sync({ onlyChanged: true })).toBe(true);
    fake.now.pop();
    expect(await host.sync({ onlyChanged: true })).toBe(true);
    // Every report is the full set: the controller reads an absent instance as gone.
    expect(sent.map((s) => s.instances)).toEqual([
      [
        { id: a, state: 'running' },
        { id: b, state: 'running' },
      ],
      [
        { id: a, state: 'running' },
        { id: b, state: 'stopped', details: { exitReason: 'killed' } },
      ],
      [{ id: a, state: 'running' }],
    ]);
    expect(fake.calls).toEqual({ observe: 4, list: 0 });
  });

  it('reports anyway every fullReportEvery-th quiet pass, and always when asked directly', async () => {
    const fake = fakeDriver();
    fake.now = [{ id: a, state: 'running' }];
    const { host, sent } = runtime(fake.driver, 4);
    const passes: boolean[] = [];
    for (let i = 0; i < 9; i++) passes.push(await host.sync({ onlyChanged: true }));
    expect(passes).toEqual([true, false, false, false, true, false, false, false, true]);
    expect(await host.sync()).toBe(true);
    expect(sent).toHaveLength(4);
  });

  it('sends nothing when a driver cannot read its instances (they must not look missing)', async () => {
    const fake = fakeDriver();
    fake.failing.on = true;
    const { host, sent } = runtime(fake.driver);
    expect(await host.sync()).toBe(false);
    expect(sent).toEqual([]);
  });

  it('runs one pass at a time: a periodic pass joins the one in flight', async () => {
    const fake = fakeDriver();
    fake.now = [{ id: a, state: 'running' }];
    const { host, sent } = runtime(fake.driver);
    const [first, second] = await Promise.all([host.sync({ onlyChanged: true }), host.sync({ onlyChanged: true })]);
    expect([first, second, fake.calls.observe, sent.length]).toEqual([true, true, 1, 1]);
  });
});

describe('HostRuntime orphan sweep', () => {
  /** A driver holding `ids`; `start` of `slow` waits for `release()`; stop/destroy are recorded. */
  function holdingDriver(ids: string[], slow?: string) {
    const held = new Set(ids);
    const calls: string[] = [];
    let release = (): void => undefined;
    const started = new Promise<void>((r) => (release = r));
    const driver = {
      name: 'sim',
      observe: () => Promise.resolve([...held].map((id) => ({ id, state: 'running' }))),
      start: async (id: string) => {
        calls.push(`start ${id}`);
        if (id === slow) await started;
        return { id, state: 'running' };
      },
      stop: (id: string) => Promise.resolve(void calls.push(`stop ${id}`)),
      destroy: (id: string) => Promise.resolve(void (calls.push(`destroy ${id}`), held.delete(id))),
    } as unknown as Driver;
    return { driver, calls, release };
  }

  function sweeper(driver: Driver) {
    const hostId = randomUUID();
    let run: ((job: unknown) => Promise<unknown>) | undefined;
    const consumer = { add: (_q: string, fn: (job: unknown) => Promise<unknown>) => (run = fn) } as unknown as MultiQueueConsumer;
    const queue = { enqueue: () => Promise.resolve() } as unknown as JobQueue;
    const host = new HostRuntime({ hostId, agentId: randomUUID(), key: 'sim-1', drivers: new Map([['sim', driver]]), queue, consumer });
    host.start();
    const command = (instanceId: string, command: string) =>
      run!({ id: `cmd-${instanceId}-${command}`, name: JobName.HostCommand, opts: {}, attemptsMade: 0, data: { operationId: randomUUID(), hostId, instanceId, command, driver: 'sim' } });
    return { host, command };
  }

  const [orphan, touched, busy] = [randomUUID(), randomUUID(), randomUUID()];

  it('removes a copy only when two sweeps in a row found it elsewhere, with no command for it in between', async () => {
    const d = holdingDriver([orphan, touched]);
    const { host, command } = sweeper(d.driver);
    expect(await host.sweep([orphan, touched], () => true)).toEqual([]);
    expect(d.calls).toEqual([]);
    await command(touched, 'start');
    expect(await host.sweep([orphan, touched], () => true)).toEqual([orphan]);
    expect(d.calls).toEqual([`start ${touched}`, `stop ${orphan}`, `destroy ${orphan}`]);
    // The touched one is suspected again, and goes at the next sweep that finds it so.
    expect(await host.sweep([touched], () => true)).toEqual([touched]);
    expect(await host.holdings()).toEqual([]);
  });

  it('leaves an instance a command is working on, and holds the commands while it removes', async () => {
    const d = holdingDriver([orphan, busy], busy);
    const { host, command } = sweeper(d.driver);
    const working = command(busy, 'start');
    await new Promise((r) => setImmediate(r));
    expect(await host.idleHoldings()).toEqual([orphan]);
    await host.sweep([orphan, busy], () => true);
    // Still busy at the second sweep: not removed, though it was suspected.
    expect(await host.sweep([orphan, busy], () => true)).toEqual([orphan]);
    d.release();
    await working;
    expect(d.calls).not.toContain(`destroy ${busy}`);
    // Not allowed to open afterwards (the agent is fenced): commands keep waiting.
    const again = holdingDriver([orphan]);
    const fenced = sweeper(again.driver);
    await fenced.host.sweep([orphan], () => false);
    expect(await fenced.host.sweep([orphan], () => false)).toEqual([orphan]);
    let ran = false;
    const waiting = fenced.command(busy, 'start').then(() => (ran = true));
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    expect(ran).toBe(false);
    expect(again.calls).not.toContain(`start ${busy}`);
    fenced.host.open();
    await waiting;
    expect(ran).toBe(true);
  });
});

describe('HostRuntime commands of one instance', () => {
  it('runs them one at a time: a late command waits for the one running, others do not', async () => {
    const slow = randomUUID();
    const other = randomUUID();
    const calls: string[] = [];
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    const driver = {
      name: 'sim',
      start: async (id: string) => {
        calls.push(`start ${id}`);
        if (id === slow) await held;
        calls.push(`started ${id}`);
        return { id, state: 'running' };
      },
      stop: (id: string) => Promise.resolve(void calls.push(`stop ${id}`)).then(() => ({ id, state: 'stopped' })),
    } as unknown as Driver;
    const hostId = randomUUID();
    let run: ((job: unknown) => Promise<unknown>) | undefined;
    const consumer = { add: (_q: string, fn: (job: unknown) => Promise<unknown>) => (run = fn) } as unknown as MultiQueueConsumer;
    const host = new HostRuntime({ hostId, agentId: randomUUID(), key: 'sim-1', drivers: new Map([['sim', driver]]), queue: { enqueue: () => Promise.resolve() } as unknown as JobQueue, consumer });
    host.start();
    const command = (instanceId: string, name: string) =>
      run!({ id: `cmd-${instanceId}-${name}`, name: JobName.HostCommand, opts: {}, attemptsMade: 0, data: { operationId: randomUUID(), hostId, instanceId, command: name, driver: 'sim' } });
    const first = command(slow, 'start');
    const late = command(slow, 'stop');
    await command(other, 'start');
    // The other instance's command ran; the late one still waits for the first.
    expect(calls).toEqual([`start ${slow}`, `start ${other}`, `started ${other}`]);
    release();
    await Promise.all([first, late]);
    expect(calls).toEqual([`start ${slow}`, `start ${other}`, `started ${other}`, `started ${slow}`, `stop ${slow}`]);
  });
});
