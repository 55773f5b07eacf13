import { QueryClient, type QueryKey } from '@tanstack/react-query';
import { applyEvent } from './live-cache';
import type { Instance, Operation } from './types';

describe('events from the stream applied to what the portal shows', () => {
  const row = (id: string, state: string): Instance => ({ id, name: id, state }) as Instance;
  let qc: QueryClient;
  let refetched: string[];
  const refetch = (key: QueryKey): void => void refetched.push(JSON.stringify(key));
  beforeEach(() => {
    qc = new QueryClient();
    refetched = [];
  });

  it("changes a known instance's state in place, in the table and on its page", () => {
    qc.setQueryData(['instances'], [row('a', 'running'), row('b', 'running')]);
    qc.setQueryData(['instance', 'b'], row('b', 'running'));
    applyEvent(qc, { id: '9', type: 'instance.state', data: { subjectId: 'b', from: 'running', state: 'stopped', reason: null } }, refetch);
    expect(qc.getQueryData<Instance[]>(['instances'])!.map((r) => r.state)).toEqual(['running', 'stopped']);
    expect(qc.getQueryData<Instance>(['instance', 'b'])!.state).toBe('stopped');
    expect(refetched).not.toContain('["instances"]');
    // A host page's list has no states patched in place: it is fetched again.
    expect(refetched).toContain('["instances","host"]');
  });

  it('fetches the list and the hosts again when a migration ends (the instance has another host)', () => {
    qc.setQueryData(['instances'], [row('a', 'migrating')]);
    applyEvent(qc, { id: '14', type: 'instance.state', data: { subjectId: 'a', from: 'migrating', state: 'running', reason: null } }, refetch);
    expect(qc.getQueryData<Instance[]>(['instances'])![0]!.state).toBe('running');
    expect(refetched).toEqual(expect.arrayContaining(['["instances"]', '["hosts"]', '["host"]', '["instances","host"]']));
  });

  it('fetches the list again for an instance it has not seen', () => {
    qc.setQueryData(['instances'], [row('a', 'running')]);
    applyEvent(qc, { id: '10', type: 'instance.state', data: { subjectId: 'new', from: null, state: 'pending' } }, refetch);
    expect(refetched).toContain('["instances"]');
  });

  it("updates an operation's status and progress in every list that shows it", () => {
    const op = { id: 'o1', status: 'running', progress: 10, step: 'placing' } as Operation;
    qc.setQueryData(['operations', 'list', '', ''], [op]);
    qc.setQueryData(['operations', 'active'], [op]);
    applyEvent(qc, { id: '11', type: 'operation.status', data: { subjectId: 'o1', status: 'succeeded', progress: 100, step: 'done' } }, refetch);
    for (const key of [['operations', 'list', '', ''], ['operations', 'active']]) {
      expect(qc.getQueryData<Operation[]>(key)![0]).toMatchObject({ status: 'succeeded', progress: 100, step: 'done' });
    }
    expect(refetched).toEqual(expect.arrayContaining(['["operations"]', '["operation","o1"]', '["overview"]']));
  });

  it("patches a batch's children (a page) and the operation's own page, and leaves other shapes alone", () => {
    const op = { id: 'o2', status: 'running', progress: 10, step: 'creating' } as Operation;
    qc.setQueryData(['operations', 'children', 'p1'], { items: [op], nextCursor: null });
    qc.setQueryData(['operation', 'o2'], op);
    qc.setQueryData(['operations', 'bulk', 'start', 1], new Map([['o2', op]]));
    applyEvent(qc, { id: '13', type: 'operation.status', data: { subjectId: 'o2', status: 'failed', progress: 40, step: 'failed' } }, refetch);
    expect(qc.getQueryData<{ items: Operation[] }>(['operations', 'children', 'p1'])!.items[0]).toMatchObject({ status: 'failed', progress: 40 });
    expect(qc.getQueryData<Operation>(['operation', 'o2'])).toMatchObject({ status: 'failed', step: 'failed' });
    expect(qc.getQueryData<Map<string, Operation>>(['operations', 'bulk', 'start', 1])!.get('o2')!.status).toBe('running');
  });

  it('refetches hosts on a host event', () => {
    applyEvent(qc, { id: '12', type: 'host.status', data: { subjectId: 'h1', status: 'down' } }, refetch);
    expect(refetched).toEqual(expect.arrayContaining(['["hosts"]', '["host","h1"]']));
  });
});
