import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIXED_FLEET, startStack, Stack } from '@hyperplane/testing';

// An agent whose host stands in for a Windows Server 2025 (build 26100) with the Hyper-V role,
// the fake `docker` named by HYPERPLANE_DOCKER, enrolls beside the simulated fleet (Server 2022
// and 2019 hosts). Windows containers land on it by the build rule, with the isolation the rule
// picks, run their lifecycle through the wincontainer driver, and the fake's state agrees.
const FAKE_DOCKER = join(__dirname, '..', 'libs', 'drivers', 'test', 'fakes', 'wincontainer', 'docker');
const LTSC2022 = 'mcr.microsoft.com/windows/servercore:ltsc2022';
const LTSC2025 = 'mcr.microsoft.com/windows/servercore:ltsc2025';

interface FakeContainer {
  name: string;
  isolation: string;
  status: string;
  nanoCpus: number;
  memory: number;
}

describe('a Windows host through the API (fake docker, wincontainer driver)', () => {
  let stack: Stack;
  let fakeState: string;
  let localId: string;
  const keys = ['HYPERPLANE_DOCKER', 'HYPERPLANE_DOCKER_ISOLATION', 'FAKE_DOCKER_STATE', 'FAKE_DOCKER_BUILD', 'FAKE_DOCKER_HYPERV', 'FAKE_DOCKER_IMAGES'] as const;
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));

  const fake = (id: string): FakeContainer | undefined => {
    const state = JSON.parse(readFileSync(join(fakeState, 'state.json'), 'utf8')) as { containers: Record<string, FakeContainer> };
    return Object.values(state.containers).find((c) => c.name === `hp-${id}`);
  };

  async function change(method: 'post' | 'delete', path: string, body?: unknown): Promise<void> {
    const r = method === 'post' ? await stack.client.post(path, body) : await stack.client.delete(path);
    expect(r.status).toBe(202);
    const op = await stack.client.waitOp(r.body.id, 60);
    expect([op.status, op.error]).toEqual(['succeeded', null]);
  }

  beforeAll(async () => {
    fakeState = mkdtempSync(join(tmpdir(), 'hp-fake-docker-e2e-'));
    // The agent runs in this process: its drivers see this environment.
    Object.assign(process.env, {
      HYPERPLANE_DOCKER: FAKE_DOCKER,
      HYPERPLANE_DOCKER_ISOLATION: 'process,hyperv',
      FAKE_DOCKER_STATE: fakeState,
      FAKE_DOCKER_BUILD: '26100',
      FAKE_DOCKER_HYPERV: '1',
      FAKE_DOCKER_IMAGES: `${LTSC2022}=20348,${LTSC2025}=26100`,
    });
    stack = await startStack({ local: true, simHosts: MIXED_FLEET, agent: { localHostAs: { os: 'windows', osVersion: '10.0.26100', kernel: '10.0.26100' } } });
    const hosts = (await stack.client.get('/v1/hosts?limit=500')).body.items as any[];
    localId = hosts.find((h) => h.drivers.some((d: any) => d.name === 'wincontainer' && d.installed)).id;
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    rmSync(fakeState, { recursive: true, force: true });
  });

  it('enrolls as a Windows host offering the images it has, in both isolation modes', async () => {
    const host = (await stack.client.get(`/v1/hosts/${localId}`)).body;
    expect([host.os, host.kernel]).toEqual(['windows', '10.0.26100']);
    const driver = host.drivers.find((d: any) => d.name === 'wincontainer');
    expect(driver).toMatchObject({ installed: true, details: { hostBuild: 26100, isolation: ['process', 'hyperv'] } });
    expect(driver.offers[0]).toMatchObject({ technology: 'container', windowsIsolation: ['process', 'hyperv'], guests: [{ os: 'windows', distributions: { 'windows-server': ['2022', '2025'] } }] });
  });

  it('places an auto windows-server-2025 request on the only 26100 host, process-isolated, and runs its lifecycle; the fake agrees', async () => {
    const { op, instance } = await stack.client.createAndWait({ name: 'ws25', template: 'windows-server-2025', technology: 'auto', resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 20 } });
    expect([op.status, instance.state, instance.hostId, instance.technology, instance.driver]).toEqual(['succeeded', 'running', localId, 'container', 'wincontainer']);
    expect(instance.placementExplanation.chosen).toMatchObject({ isolation: 'process' });
    expect(instance.placementExplanation.rejections).toContainEqual(expect.objectContaining({ code: 'windows-build', count: 2 }));
    expect(fake(instance.id)).toMatchObject({ isolation: 'process', status: 'running', nanoCpus: 2e9, memory: 2048 * 1024 * 1024 });
    await change('post', `/v1/instances/${instance.id}/actions/stop`);
    expect(fake(instance.id)!.status).toBe('exited');
    await change('post', `/v1/instances/${instance.id}/actions/start`);
    expect(fake(instance.id)!.status).toBe('running');
    await change('delete', `/v1/instances/${instance.id}`);
    expect(fake(instance.id)).toBeUndefined();
  });

  it('gives a strict windows-server-2022 container Hyper-V isolation on the newer host, and runs its lifecycle', async () => {
    const { op, instance } = await stack.client.createAndWait({
      name: 'ws22-strict',
      template: 'windows-server-2022',
      technology: 'container',
      isolation: { security: 'strict' },
      placement: { hostId: localId },
      resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 20 },
    });
    expect([op.status, instance.state, instance.driver, op.result.details.isolation]).toEqual(['succeeded', 'running', 'wincontainer', 'hyperv']);
    expect(fake(instance.id)).toMatchObject({ isolation: 'hyperv', status: 'running' });
    // `docker pause` works for Hyper-V isolated containers only: a host that also runs
    // process-isolated ones does not offer suspend, and the API says so before any command.
    const suspend = await stack.client.post(`/v1/instances/${instance.id}/actions/suspend`);
    expect([suspend.status, JSON.stringify(suspend.body)]).toEqual([409, expect.stringContaining('suspend')]);
    expect(fake(instance.id)!.status).toBe('running');
    await change('post', `/v1/instances/${instance.id}/actions/restart`);
    expect(fake(instance.id)).toMatchObject({ isolation: 'hyperv', status: 'running' });
    await change('delete', `/v1/instances/${instance.id}`);
    expect(fake(instance.id)).toBeUndefined();
  });
});
