import { drainBody, localInputValue, moveOf, moveText, untilText } from './moves';
import type { Operation } from './types';

const op = (o: Partial<Operation>): Operation =>
  ({ id: 'op', kind: 'migrate', status: 'running', progress: 0, step: '', error: null, instanceId: 'i', projectId: 'p', parentId: null, requestedBy: 't', result: null, createdAt: '', startedAt: null, finishedAt: null, updatedAt: '', ...o });

describe('a migrate operation read for display', () => {
  it("prefers the DTO's fromHostId/toHostId and live, then the result's from/to/mode, else null", () => {
    const none = { fromName: null, toName: null };
    expect(moveOf(op({ fromHostId: 'a', fromHostName: 'lin-1', toHostId: 'b', toHostName: 'lin-2', live: true }))).toEqual({ from: 'a', to: 'b', fromName: 'lin-1', toName: 'lin-2', mode: 'live' });
    expect(moveOf(op({ fromHostId: 'a', toHostId: null, live: false, result: { to: 'b' } }))).toEqual({ from: 'a', to: 'b', ...none, mode: 'offline' });
    expect(moveOf(op({ status: 'succeeded', result: { from: 'a', to: 'b', mode: 'offline' } }))).toEqual({ from: 'a', to: 'b', ...none, mode: 'offline' });
    expect(moveOf(op({ mode: 'live' }))).toEqual({ from: null, to: null, ...none, mode: 'live' });
    // What is not there yet, or not a host id, is unknown rather than "[object Object]".
    expect(moveOf(op({ result: { explanation: {}, from: 3, mode: 'sideways' } }))).toEqual({ from: null, to: null, ...none, mode: null });
  });

  it('says it in words with host names, an id prefix where no name is known', () => {
    const names = new Map([['host-a', 'lin-1']]);
    const name = (id: string): string | undefined => names.get(id);
    expect(moveText({ from: 'host-a', to: '0123456789ab', fromName: null, toName: null, mode: 'live' }, name, true)).toBe('moved from lin-1 to 01234567 (live)');
    // A host this browser does not know (removed since): the name the operation recorded.
    expect(moveText({ from: 'gone', to: 'host-a', fromName: 'old-7', toName: 'lin-1', mode: null }, name, true)).toBe('moved from old-7 to lin-1');
    expect(moveText({ from: 'host-a', to: null, fromName: null, toName: null, mode: null }, name, false)).toBe('moving from lin-1 to a host the scheduler picks');
  });
});

describe("a drain's body", () => {
  it('leaves out what is not set, sends minutes as deadlineS and a local time as an ISO deadline', () => {
    expect(drainBody('  ', { kind: 'none' })).toEqual({});
    expect(drainBody(' kernel upgrade ', { kind: 'in', minutes: '15' })).toEqual({ reason: 'kernel upgrade', deadlineS: 900 });
    const local = '2026-12-05T14:30';
    expect(drainBody('', { kind: 'at', local })).toEqual({ deadline: new Date(local).toISOString() });
  });

  it('sends what does not parse as typed, for the API to name the field', () => {
    expect(drainBody('', { kind: 'in', minutes: 'soon' })).toEqual({ deadlineS: 'soon' });
    expect(drainBody('', { kind: 'in', minutes: '' })).toEqual({ deadlineS: '' });
    expect(drainBody('', { kind: 'at', local: '' })).toEqual({ deadline: '' });
  });
});

describe('a deadline from now', () => {
  const now = Date.parse('2026-12-05T12:00:00Z');
  it('counts down in seconds, minutes, hours and days, and says when it passed', () => {
    expect(untilText('2026-12-05T12:00:40Z', now)).toBe('in 40 s');
    expect(untilText('2026-12-05T12:12:30Z', now)).toBe('in 12 min');
    expect(untilText('2026-12-05T13:05:00Z', now)).toBe('in 1 h 05 min');
    expect(untilText('2026-12-07T15:00:00Z', now)).toBe('in 2 d 3 h');
    expect(untilText('2026-12-05T11:57:00Z', now)).toBe('passed 3 min ago');
    expect(untilText('not a date', now)).toBe('');
  });

  it("gives a datetime-local input's value in local time", () => {
    const t = new Date(2026, 11, 5, 9, 7).getTime();
    expect(localInputValue(t)).toBe('2026-12-05T09:07');
  });
});
