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

describe('compareVersions', () => {
  it('orders dotted versions numerically', () => {
    expect(compareVersions('6.1.0', '5.10')).toBe(1);
    expect(compareVersions('5.4', '5.10')).toBe(-1);
    expect(compareVersions('10.0.20348', '10.0.20348')).toBe(0);
  });
});
