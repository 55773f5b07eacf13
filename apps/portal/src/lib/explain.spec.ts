import { explanationView } from './explain';
import type { Explanation } from './types';

describe('the placement explanation in words', () => {
  const placed: Explanation = {
    summary: 'A container on lin-1 (score 0.81, lxc): the best of 3 fitting hosts out of 5',
    technology: { chosen: 'container', reason: 'a container: the workload can share the host kernel' },
    hostsConsidered: 5,
    fitting: 3,
    rejections: [
      { code: 'os', count: 1, message: 'run windows' },
      { code: 'memory', count: 2, message: 'lack 4 GiB free memory' },
    ],
    chosen: { hostId: 'h1', hostName: 'lin-1', driver: 'lxc', technology: 'container', score: 0.81 },
    alternatives: [{ hostId: 'h2', hostName: 'lin-2', driver: 'lxc', technology: 'container', score: 0.6 }],
  };

  it('says where it went, why, what came next and who was turned away (most first)', () => {
    const v = explanationView(placed);
    expect(v.tone).toBe('ok');
    expect(v.headline).toBe('Container on lin-1 with lxc');
    expect(v.because).toEqual(['Technology: a container: the workload can share the host kernel', 'lin-1 scored 0.810, the best of 3 fitting hosts (of 5 considered)']);
    expect(v.nextBest).toEqual(['lin-2 (score 0.600, Container with lxc)']);
    expect(v.refusals).toEqual(['2 hosts: lack 4 GiB free memory', '1 host: run windows']);
  });

  it('explains a refusal, with what the other technology would have met', () => {
    const v = explanationView(
      {
        summary: '0 of 6 hosts fit: 6 lack 400 free vCPUs',
        hostsConsidered: 6,
        rejections: [{ code: 'vcpus', count: 6, message: 'lack 400 free vCPUs' }],
        alternatives: [],
        otherTechnology: { technology: 'container', rejections: [{ code: 'vcpus', count: 6, message: 'lack 400 free vCPUs' }] },
      },
      { ok: false },
    );
    expect(v.tone).toBe('bad');
    expect(v.headline).toBe('0 of 6 hosts fit: 6 lack 400 free vCPUs');
    expect(v.refusals).toEqual(['6 hosts: lack 400 free vCPUs', 'As a Container: 6 hosts: lack 400 free vCPUs']);
    expect(v.nextBest).toEqual([]);
  });

  it("reads a project's explanation, which has no hosts and no counts", () => {
    const v = explanationView({ summary: 'No host of the fleet can take it', rejections: [{ code: 'memory', message: 'not enough free memory' }] }, { ok: false });
    expect(v.refusals).toEqual(['not enough free memory']);
  });

  it('has a line for an instance not placed yet', () => {
    expect(explanationView(null).headline).toBe('No placement yet');
  });
});
