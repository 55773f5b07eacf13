import { parseTimeouts } from './operation-interrupts';

describe('per-kind operation timeouts', () => {
  it('reads kind=seconds pairs', () => {
    expect([...parseTimeouts('create=1800,stop=300').entries()]).toEqual([
      ['create', 1800],
      ['stop', 300],
    ]);
    expect(parseTimeouts('').size).toBe(0);
  });

  it('refuses a kind that does not exist (the controller does not boot)', () => {
    expect(() => parseTimeouts('create=10,migrat=5')).toThrow(/migrat, which is not an operation kind/);
  });
});
