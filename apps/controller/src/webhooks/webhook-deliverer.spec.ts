import { verdictFor } from './webhook-deliverer';

describe('what an endpoint\'s answer means', () => {
  it('treats 2xx as delivered and 410 as "disable the webhook"', () => {
    expect(verdictFor(200, undefined)).toEqual({ kind: 'done' });
    expect(verdictFor(204, undefined)).toEqual({ kind: 'done' });
    expect(verdictFor(410, undefined)).toEqual({ kind: 'disable' });
  });

  it('retries 3xx, 4xx, 5xx and no answer at all', () => {
    for (const status of [301, 400, 500, 502, null]) expect(verdictFor(status, undefined)).toEqual({ kind: 'retry', atLeastMs: 0 });
  });

  it('honours Retry-After on 429 (seconds or a date), capped at a day', () => {
    expect(verdictFor(429, '7')).toEqual({ kind: 'retry', atLeastMs: 7000 });
    const soon = verdictFor(429, new Date(Date.now() + 60_000).toUTCString());
    expect(soon.kind === 'retry' && soon.atLeastMs > 50_000 && soon.atLeastMs <= 60_000).toBe(true);
    expect(verdictFor(429, '999999999')).toEqual({ kind: 'retry', atLeastMs: 24 * 3600_000 });
  });
});
