import { applyFilter, filterFromSearch, searchFromFilter, type FilterContext } from './filters';
import type { Instance } from './types';

function inst(over: Partial<Instance>): Instance {
  return {
    id: 'id', name: 'n', projectId: 'p1', template: 'debian-12', requestedTechnology: 'auto', technology: 'container', driver: 'lxc', arch: 'x86_64', hostId: 'h1',
    state: 'running', desiredState: 'running', stateReason: null, resources: { vcpus: 1, memoryMiB: 512, diskGiB: 1 }, limits: null, isolation: null, placement: {},
    placementExplanation: null, createdAt: '', updatedAt: '', ...over,
  };
}

describe('the instances table filters', () => {
  const rows = [
    inst({ id: 'a', name: 'web-1' }),
    inst({ id: 'b', name: 'web-2', state: 'stopped', hostId: 'h2', technology: 'vm', template: 'windows-server-2022' }),
    inst({ id: 'c', name: 'db-1', projectId: 'p2', hostId: null, technology: null, requestedTechnology: 'vm', state: 'pending', template: 'macos-15' }),
  ];
  const ctx: FilterContext = {
    hosts: new Map([
      ['h1', { os: 'linux', name: 'lin-1' }],
      ['h2', { os: 'windows', name: 'win-1' }],
    ]),
    projects: new Map([
      ['p1', 'default'],
      ['p2', 'team-a'],
    ]),
    templateOs: new Map([['macos-15', 'macos']]),
  };
  const ids = (f: string): string[] => applyFilter(rows, filterFromSearch(f), ctx).map((r) => r.id);

  it('round-trips through the URL', () => {
    const f = filterFromSearch('?state=running&q=web&host=h1');
    expect(f).toMatchObject({ state: 'running', q: 'web', host: 'h1', os: '' });
    expect(searchFromFilter(f)).toBe('?q=web&state=running&host=h1');
    expect(searchFromFilter({})).toBe('');
  });

  it('filters by state, technology (asked for when not placed), host, project, OS and template', () => {
    expect(ids('')).toEqual(['a', 'b', 'c']);
    expect(ids('?state=stopped')).toEqual(['b']);
    expect(ids('?technology=vm')).toEqual(['b', 'c']);
    expect(ids('?host=h2')).toEqual(['b']);
    expect(ids('?host=lin-1')).toEqual(['a']);
    expect(ids('?project=team-a')).toEqual(['c']);
    expect(ids('?os=windows')).toEqual(['b']);
    expect(ids('?os=macos')).toEqual(['c']);
    expect(ids('?template=debian-12')).toEqual(['a']);
  });

  it('searches name, id, template, host and project names, ignoring case', () => {
    expect(ids('?q=WEB')).toEqual(['a', 'b']);
    expect(ids('?q=win-1')).toEqual(['b']);
    expect(ids('?q=team-a')).toEqual(['c']);
    expect(ids('?q=web&state=running')).toEqual(['a']);
  });
});
