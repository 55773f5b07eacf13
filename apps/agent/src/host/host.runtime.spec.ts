import { randomUUID } from 'node:crypto';
import { Driver, InstanceObservation } from '@hyperplane/drivers';
import { AgentSyncPayload, JobQueue, MultiQueueConsumer } from '@hyperplane/queue';
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
