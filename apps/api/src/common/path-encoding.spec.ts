import { malformedSegmentField } from './path-encoding';

const ROUTES = ['/v1/instances', '/v1/instances/:id', '/v1/instances/:id/snapshots/:name', '/v1/projects/:name/policy'];

describe('malformedSegmentField', () => {
  it.each([
    ['/v1/instances/abc', null],
    ['/v1/instances/%E0%A4%A', 'id'],
    ['/V1/INSTANCES/%ZZ', 'id'],
    ['/v1/instances/x/snapshots/%C3%28', 'name'],
    ['/v1/projects/%/policy', 'name'],
    ['/v1/%ZZ', 'path'],
  ])('%s → %s', (path, field) => {
    expect(malformedSegmentField(ROUTES, path)).toBe(field);
  });
});
