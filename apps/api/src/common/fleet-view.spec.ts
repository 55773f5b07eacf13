import { eventDataForProject, NO_HOST_FITS, operationForProject, stepForProject } from './fleet-view';

describe("what a project's token sees of the scheduler's reasons", () => {
  const full = {
    summary: '0 of 3 hosts fit: 2 do not run Windows; 1 lacks 4096 MiB of free memory',
    hostsConsidered: 3,
    rejections: [
      { code: 'os', count: 2, message: 'do not run Windows' },
      { code: 'memory', count: 1, message: 'lacks 4096 MiB of free memory' },
    ],
    alternatives: [],
  };

  it('rebuilds an unschedulable error from the explanation, without counts', () => {
    const shown = operationForProject({ code: 'unschedulable', message: full.summary }, { explanation: full });
    expect(shown.error).toEqual({ code: 'unschedulable', message: 'no host fits: hosts do not run Windows; a host lacks 4096 MiB of free memory' });
    expect(JSON.stringify(shown.result)).not.toMatch(/count|hostsConsidered|0 of 3/);
  });

  it('falls back to a pointer where only the text was kept (a batch child), and leaves other errors alone', () => {
    expect(operationForProject({ code: 'unschedulable', message: full.summary }, null).error!.message).toBe(NO_HOST_FITS);
    const other = { code: 'driver-error', message: 'disk full' };
    expect(operationForProject(other, { details: { diskLimit: 'none' } })).toEqual({ error: other, result: { details: { diskLimit: 'none' } } });
  });

  it("replaces an unschedulable reason in events, and nothing else", () => {
    expect(eventDataForProject('instance.state', { name: 'a', state: 'unschedulable', reason: full.summary }).reason).toBe(NO_HOST_FITS);
    expect(eventDataForProject('operation.status', { status: 'failed', error: { code: 'unschedulable', message: full.summary } }).error).toEqual({ code: 'unschedulable', message: NO_HOST_FITS });
    const running = { name: 'a', state: 'running', reason: null, hostId: 'x' };
    expect(eventDataForProject('instance.state', running)).toBe(running);
  });

  it('names no host in a step or in a result\'s details', () => {
    expect(stepForProject('provisioning on sim-linux-04')).toBe('provisioning');
    expect(stepForProject('waiting for the guest to boot')).toBe('waiting for the guest to boot');
    expect(operationForProject(null, { details: { simulated: true, host: 'sim-linux-04' } }).result).toEqual({ details: { simulated: true } });
    const event = eventDataForProject('operation.status', { status: 'running', step: 'provisioning on sim-linux-04', error: null });
    expect(event).toEqual({ status: 'running', step: 'provisioning', error: null });
  });
});
