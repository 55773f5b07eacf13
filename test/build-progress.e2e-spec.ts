import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_SPAN, DriverContext, InstanceSpec, LxcTemplateCache, TemplateRecipe } from '@hyperplane/drivers';
import { simHost, Stack, startStack, waitFor, writeFakeDebootstrap } from '@hyperplane/testing';

// A first debian-12 container builds its root filesystem with debootstrap for a minute or more.
// What debootstrap does (downloading, extracting, unpacking, configuring, how many packages) is
// reported as the driver's progress and shown on the operation. debootstrap itself is faked
// here: Debian's mirrors may be out of reach, and the point is what its output becomes.
const RECIPE: TemplateRecipe = { key: 'debian-12-x86_64', kind: 'debian', boot: { init: '/sbin/init', haltSignal: 'SIGRTMIN+3', rebootSignal: 'SIGTERM', includes: [] }, buildTimeoutMs: 60_000 };

describe('progress of a root filesystem build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hp-build-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function cache(name: string, pauseS = 0): LxcTemplateCache {
    return new LxcTemplateCache({ dir: join(dir, name), hostArch: 'x86_64', debianMirror: 'http://mirror.invalid/debian', debootstrapPath: writeFakeDebootstrap(mkdtempSync(join(dir, 'bin-')), pauseS) });
  }

  it('reports each phase of debootstrap, counting packages, within the build span of a create', async () => {
    const seen: { percent: number; step: string }[] = [];
    const built = await cache('direct').ensure(RECIPE, { progress: (percent, step) => seen.push({ percent, step }) });
    expect(built.manifest.kind).toBe('debian');
    const steps = seen.map((s) => s.step);
    expect(steps[0]).toBe('building template debian-12-x86_64');
    for (const expected of [
      'building debian-12-x86_64: downloading the package index',
      'building debian-12-x86_64: downloading packages (6 so far)',
      'building debian-12-x86_64: extracting packages (6 of ~6)',
      'building debian-12-x86_64: unpacking packages (3 of ~6)',
      'building debian-12-x86_64: configuring packages (6 of ~6)',
      'building debian-12-x86_64: root filesystem installed',
    ]) {
      expect(steps).toContain(expected);
    }
    const percents = seen.map((s) => s.percent);
    for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThanOrEqual(percents[i - 1]!);
    expect(Math.min(...percents)).toBe(BUILD_SPAN[0]);
    expect(Math.max(...percents)).toBe(BUILD_SPAN[1]);
  });

  describe('through the agent and the controller to the operation', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ simHosts: [simHost('builder', 'linux', 'x86_64')] });
    });
    afterAll(() => stack?.stop());

    it("shows debootstrap's phase and count as the operation's step, with its progress", async () => {
      const hostId = stack.agent!.hostIds[0]!;
      // The simulated host builds a root filesystem (with the fake debootstrap) before it creates.
      const sim = stack.agent!.driver(hostId, 'sim')!;
      const inner = sim.create.bind(sim);
      const templates = cache('agent', 1);
      sim.create = async (spec: InstanceSpec, ctx?: DriverContext) => {
        await templates.ensure(RECIPE, ctx);
        return inner(spec, ctx);
      };

      const post = await stack.client.post('/v1/instances', { name: 'deb', template: 'debian-12', technology: 'container', resources: { vcpus: 1, memoryMiB: 512, diskGiB: 2 } });
      expect(post.status).toBe(202);
      const seen: { progress: number; step: string }[] = [];
      const watch = async (pattern: RegExp) =>
        waitFor(`a step like ${pattern}`, async () => {
          const op = (await stack.client.get(`/v1/operations/${post.body.id}`)).body;
          seen.push({ progress: op.progress, step: op.step });
          return pattern.test(op.step) && op;
        }, 20_000, 50);
      const downloading = await watch(/^building debian-12-x86_64: downloading packages \(\d+ so far\)$/);
      expect(downloading.status).toBe('running');
      const later = await watch(/^building debian-12-x86_64: (extracting|unpacking|configuring) packages \(\d+ of ~6\)$/);
      // The host's part is 10–99 % of the operation: a build is past the dispatch's 10 %.
      expect(later.progress).toBeGreaterThan(downloading.progress);
      expect(downloading.progress).toBeGreaterThan(10);
      const done = await stack.client.waitOp(post.body.id, 30);
      expect(done).toMatchObject({ status: 'succeeded', progress: 100 });
    });
  });
});
