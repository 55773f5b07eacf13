import { AuthThrottle } from './auth-throttle';

describe('AuthThrottle', () => {
  it('lets a source fail up to the limit, then makes it wait until its minute ends', () => {
    let now = 1_000_000;
    const t = new AuthThrottle(3, () => now);
    for (let i = 0; i < 3; i++) {
      expect(t.retryAfterS('a')).toBe(0);
      t.fail('a');
    }
    expect(t.retryAfterS('a')).toBe(60);
    expect(t.retryAfterS('b')).toBe(0);
    now += 45_500;
    expect(t.retryAfterS('a')).toBe(15);
    now += 14_500;
    expect(t.retryAfterS('a')).toBe(0);
    t.fail('a');
    expect(t.retryAfterS('a')).toBe(0);
  });

  it('never throttles with a limit of 0', () => {
    const t = new AuthThrottle(0);
    for (let i = 0; i < 100; i++) t.fail('a');
    expect(t.retryAfterS('a')).toBe(0);
  });
});
