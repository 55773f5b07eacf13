import { INSTANCE_STATES, InstanceState, OPERATION_STATUSES, OperationStatus } from './enums';
import { ACTION_RULES, canOperationTransition, canTransition, DELETABLE_STATES, guardFrom, guardOperationFrom, statesLeadingTo } from './instance-state';
import { compareVersions } from './template';

// Every pair of instance states, written out: `x` allowed, `.` refused, `=` staying (always
// allowed, a no-op guard). Rows are the state an instance is in, columns the state it goes to,
// both in INSTANCE_STATES order. A change of the table must change this grid too.
const INSTANCE_GRID = `
                 pe sc pr ru st su mi de dd un er uk
pending          =  x  x  .  .  .  .  x  x  x  x  .
scheduling       x  =  x  .  .  .  .  x  x  x  x  .
provisioning     x  .  =  x  x  .  .  x  .  .  x  x
running          x  .  .  =  x  x  x  x  .  x  x  x
stopped          x  .  .  x  =  .  x  x  .  x  x  x
suspended        x  .  .  x  x  =  .  x  .  x  x  x
migrating        .  .  .  x  x  .  =  .  .  .  x  .
deleting         .  .  .  .  .  .  .  =  x  .  x  .
deleted          .  .  .  .  .  .  .  .  =  .  .  .
unschedulable    .  x  .  .  .  .  .  x  x  =  .  .
error            x  .  .  x  x  .  .  x  .  x  =  x
unknown          x  .  .  x  x  x  .  x  x  x  x  =
`;

// The same for operation statuses; an operation never "moves" to its own status.
const OPERATION_GRID = `
            qu ru su fa ca
queued      .  x  x  x  x
running     .  .  x  x  x
succeeded   .  .  .  .  .
failed      .  .  .  .  .
cancelled   .  .  .  .  .
`;

function pairs<S extends string>(grid: string, states: readonly S[]): [S, S, boolean][] {
  const rows = grid.trim().split('\n').slice(1);
  expect(rows.map((r) => r.trim().split(/\s+/)[0])).toEqual([...states]);
  return rows.flatMap((row, i) => {
    const cells = row.trim().split(/\s+/).slice(1);
    expect(cells).toHaveLength(states.length);
    return cells.map((cell, j): [S, S, boolean] => [states[i]!, states[j]!, cell !== '.']);
  });
}

describe('instance state machine', () => {
  const all = pairs(INSTANCE_GRID, INSTANCE_STATES);

  it.each(all)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
    // A guarded UPDATE from `from` to `to` keeps `from` only when the table allows the move.
    expect(guardFrom([from], to)).toEqual(allowed ? [from] : []);
    expect(statesLeadingTo(to).includes(from)).toBe(allowed);
  });

  it('covers every pair of states', () => {
    expect(all).toHaveLength(INSTANCE_STATES.length ** 2);
  });

  it('lets every action end in a state reachable from where it starts', () => {
    for (const [action, rule] of Object.entries(ACTION_RULES)) {
      for (const from of rule.from) expect([action, from, canTransition(from, rule.to)]).toEqual([action, from, true]);
    }
  });

  it('lets every deletable state start deleting', () => {
    for (const from of DELETABLE_STATES) expect([from, canTransition(from, 'deleting')]).toEqual([from, true]);
  });

  it('filters a guard down to what the table allows', () => {
    const from: InstanceState[] = ['running', 'deleted', 'unschedulable', 'error'];
    expect(guardFrom(from, 'error')).toEqual(['running', 'error']);
    expect(guardFrom(['deleted'], 'running')).toEqual([]);
  });
});

describe('operation status machine', () => {
  const all = pairs(OPERATION_GRID, OPERATION_STATUSES);

  it.each(all)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canOperationTransition(from, to)).toBe(allowed);
    expect(guardOperationFrom([from], to)).toEqual(allowed ? [from] : []);
  });

  it('never leaves a terminal status', () => {
    const terminal: OperationStatus[] = ['succeeded', 'failed', 'cancelled'];
    for (const from of terminal) expect(guardOperationFrom(OPERATION_STATUSES, 'running').includes(from)).toBe(false);
  });
});

describe('host failure (HA)', () => {
  it('shows an instance of a down host unknown, and the host\'s report settles it again', () => {
    for (const from of ['provisioning', 'running', 'stopped', 'suspended', 'error'] as const) expect([from, canTransition(from, 'unknown')]).toEqual([from, true]);
    for (const to of ['running', 'stopped', 'suspended', 'error', 'deleting', 'deleted'] as const) expect([to, canTransition('unknown', to)]).toEqual([to, true]);
    expect(canTransition('deleting', 'unknown')).toBe(false);
  });

  it('places an HA instance of a lost host again from any state that holds a host, but not one being deleted', () => {
    expect(statesLeadingTo('pending')).toEqual(expect.arrayContaining(['provisioning', 'running', 'stopped', 'suspended', 'error', 'unknown']));
    expect(statesLeadingTo('pending')).not.toContain('deleting');
    expect(statesLeadingTo('pending')).not.toContain('deleted');
  });
});

describe('compareVersions', () => {
  it('orders dotted versions numerically', () => {
    expect(compareVersions('6.1.0', '5.10')).toBe(1);
    expect(compareVersions('5.4', '5.10')).toBe(-1);
    expect(compareVersions('10.0.20348', '10.0.20348')).toBe(0);
  });
});
