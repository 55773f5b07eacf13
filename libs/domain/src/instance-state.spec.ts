import { ACTION_RULES, canTransition, statesLeadingTo } from './instance-state';
import { compareVersions } from './template';

describe('instance state machine', () => {
  it('lets every action end in a state reachable from where it starts', () => {
    for (const [action, rule] of Object.entries(ACTION_RULES)) {
      for (const from of rule.from) expect([action, from, canTransition(from, rule.to)]).toEqual([action, from, true]);
    }
  });

  it('never leaves deleted', () => {
    expect(canTransition('deleted', 'running')).toBe(false);
    expect(statesLeadingTo('deleted')).toEqual(expect.arrayContaining(['deleting', 'pending', 'unschedulable']));
    expect(statesLeadingTo('deleted')).not.toContain('running');
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
