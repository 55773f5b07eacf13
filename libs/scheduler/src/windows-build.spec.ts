import { TemplateSpec, WindowsIsolation } from '@hyperplane/domain';
import { WINDOWS_SERVER_2022, hyperv, offer, probe, request, windowsHost } from '../test/fixtures';
import { explanationForProject } from './explanation';
import { HostSnapshot, PlacementRequest } from './placement.types';
import { Scheduler, place } from './scheduler';

// The Windows build rule (Microsoft's container version-compatibility page): process isolation
// shares the host kernel, so the image build must equal the host's; Hyper-V isolation runs an
// image of the same or an older build; a newer image runs nowhere. Strict isolation takes
// Hyper-V isolation. Each case: the hosts, the request, where it lands (with which isolation)
// or the refusal with its explanation.
const WS2019: TemplateSpec = { ...WINDOWS_SERVER_2022, name: 'windows-server-2019', version: '2019', windowsBuild: '17763' };
const HYPERV_OVERHEAD = { vcpus: 0, memoryMiB: 512, diskGiB: 0 };

const win = (name: string, build: number, modes: WindowsIsolation[] = ['process'], versions = ['2019', '2022', '2025']): HostSnapshot =>
  windowsHost(name, {
    osVersion: `10.0.${build}`,
    kernel: `10.0.${build}`,
    drivers: [
      probe('wincontainer', [
        offer('container', [{ os: 'windows', archs: ['x86_64'], distributions: { 'windows-server': versions } }], {
          windowsIsolation: modes,
          hypervOverhead: HYPERV_OVERHEAD,
        }),
      ]),
      hyperv(),
    ],
  });

const WS2022_CT: PlacementRequest = request(WINDOWS_SERVER_2022);
const STRICT = { isolation: { security: 'strict' as const } };

interface Case {
  name: string;
  hosts: HostSnapshot[];
  request?: PlacementRequest;
  /** [host, technology, isolation] chosen, or null for a refusal. */
  chosen: [string, 'container' | 'vm', WindowsIsolation | undefined] | null;
  /** The refusal's summary, or (placed) a rejection message or the technology reason it must contain. */
  explanation?: string;
}

const CASES: Case[] = [
  { name: 'a host of the same build runs it with process isolation', hosts: [win('w-2022', 20348)], chosen: ['w-2022', 'container', 'process'] },
  {
    name: 'an older host refuses a newer image, naming the host and the builds',
    hosts: [win('w-2019', 17763)],
    chosen: null,
    explanation: '0 of 1 hosts fit: 1 is a Windows host of another build: host w-2019 runs build 17763; a windows-server-2022 container needs 20348 for process isolation, or 20348 or newer with Hyper-V isolation',
  },
  {
    name: 'Hyper-V isolation does not run a newer image on an older host either',
    hosts: [win('w-2019', 17763, ['process', 'hyperv'])],
    chosen: null,
    explanation: '0 of 1 hosts fit: 1 is a Windows host of another build: host w-2019 runs build 17763; a windows-server-2022 container needs 20348 for process isolation, or 20348 or newer with Hyper-V isolation',
  },
  {
    name: 'a host whose driver lists only the images it can run is refused for its build, not for a missing image',
    hosts: [win('w-2019', 17763, ['process', 'hyperv'], ['2019'])],
    chosen: null,
    explanation: '0 of 1 hosts fit: 1 is a Windows host of another build: host w-2019 runs build 17763; a windows-server-2022 container needs 20348 for process isolation, or 20348 or newer with Hyper-V isolation',
  },
  { name: 'a newer host runs an older image with Hyper-V isolation', hosts: [win('w-2025', 26100, ['process', 'hyperv'])], chosen: ['w-2025', 'container', 'hyperv'] },
  {
    name: 'a newer host without Hyper-V isolation refuses an older image',
    hosts: [win('w-2025', 26100)],
    chosen: null,
    explanation: '0 of 1 hosts fit: 1 has no Hyper-V isolation: host w-2025 runs build 26100; a windows-server-2022 container needs 20348 for process isolation, and Hyper-V isolation on any newer build',
  },
  {
    name: 'a windows-server-2019 container goes Hyper-V isolated on a 2022 host',
    hosts: [win('w-2022', 20348, ['process', 'hyperv'])],
    request: request(WS2019),
    chosen: ['w-2022', 'container', 'hyperv'],
  },
  {
    name: 'hosts of several builds are grouped by build, the first few named',
    hosts: [win('w-a', 17763), win('w-b', 17763), win('w-c', 14393), win('w-d', 17763), win('w-e', 17763)],
    chosen: null,
    explanation: '0 of 5 hosts fit: 5 are Windows hosts of another build: host w-c runs build 14393, hosts w-a, w-b, w-d and 1 more run build 17763; a windows-server-2022 container needs 20348 for process isolation, or 20348 or newer with Hyper-V isolation',
  },
  {
    name: 'the wrong-build host is named among the rejections when another host takes it',
    hosts: [win('w-2019', 17763), win('w-2022', 20348)],
    chosen: ['w-2022', 'container', 'process'],
    explanation: 'is a Windows host of another build: host w-2019 runs build 17763; a windows-server-2022 container needs 20348 for process isolation, or 20348 or newer with Hyper-V isolation',
  },
  {
    name: 'strict isolation under auto: a container with Hyper-V isolation, the middle point',
    hosts: [win('w-2022', 20348, ['process', 'hyperv'])],
    request: request(WINDOWS_SERVER_2022, { technology: 'auto', ...STRICT }),
    chosen: ['w-2022', 'container', 'hyperv'],
    explanation:
      'a container with Hyper-V isolation: the request asks for strict security isolation, which a Windows container gets from a utility VM with its own kernel (a middle point between a container and a VM), and 1 Windows host can run windows-server-2022 containers that way',
  },
  {
    name: 'strict isolation under auto where no host has Hyper-V isolation: a VM, saying why',
    hosts: [win('w-2022', 20348)],
    request: request(WINDOWS_SERVER_2022, { technology: 'auto', ...STRICT }),
    chosen: ['w-2022', 'vm', undefined],
    explanation:
      "a VM: the request asks for strict security isolation, and no host can take a windows-server-2022 container with Hyper-V isolation: 1 has no Hyper-V isolation: host w-2022 runs build 20348; the request's isolation needs take Hyper-V isolation (a kernel of its own)",
  },
  {
    name: 'an explicit container with a dedicated kernel needs Hyper-V isolation, and is refused without it',
    hosts: [win('w-2022', 20348)],
    request: request(WINDOWS_SERVER_2022, { isolation: { kernel: 'dedicated' } }),
    chosen: null,
    explanation: "0 of 1 hosts fit: 1 has no Hyper-V isolation: host w-2022 runs build 20348; the request's isolation needs take Hyper-V isolation (a kernel of its own)",
  },
  {
    name: 'strict isolation and an older host: Hyper-V isolation still needs the same build or newer',
    hosts: [win('w-2019', 17763, ['process', 'hyperv'])],
    request: request(WINDOWS_SERVER_2022, STRICT),
    chosen: null,
    explanation: '0 of 1 hosts fit: 1 is a Windows host of another build: host w-2019 runs build 17763; a windows-server-2022 container with Hyper-V isolation needs 20348 or newer',
  },
  {
    name: 'a host with Hyper-V isolation only (a Windows client) runs a same-build image that way',
    hosts: [win('w-client', 20348, ['hyperv'])],
    chosen: ['w-client', 'container', 'hyperv'],
  },
];

describe('the Windows build rule', () => {
  it.each(CASES)('$name', ({ hosts, request: req, chosen, explanation }) => {
    const decision = place(req ?? WS2022_CT, hosts);
    expect(decision.ok ? [decision.hostId, decision.technology, decision.windowsIsolation] : null).toEqual(chosen);
    if (!decision.ok) {
      expect(decision.explanation.summary).toBe(explanation);
      return;
    }
    if (explanation) {
      const texts = [decision.explanation.technology?.reason, ...decision.explanation.rejections.map((r) => r.message)];
      expect(texts).toContain(explanation);
    }
  });

  it('says the isolation in the summary and charges the utility VM to a Hyper-V isolated container', () => {
    const decision = place(WS2022_CT, [win('w-2025', 26100, ['process', 'hyperv'])]);
    if (!decision.ok) throw new Error(decision.reason);
    expect(decision.explanation.summary).toMatch(/^A container \(Hyper-V isolation\) on w-2025 /);
    expect(decision.claim.memoryMiB).toBe(WS2022_CT.resources.memoryMiB + HYPERV_OVERHEAD.memoryMiB);
    const same = place(WS2022_CT, [win('w-2022', 20348, ['process', 'hyperv'])]);
    expect(same.ok && [same.windowsIsolation, same.claim.memoryMiB]).toEqual(['process', WS2022_CT.resources.memoryMiB]);
  });

  it('keeps the rule in cached classes: a host that changes build is judged again', () => {
    const scheduler = new Scheduler([win('w-1', 17763)]);
    expect(scheduler.place(WS2022_CT).ok).toBe(false);
    scheduler.updateHost(win('w-1', 20348));
    const after = scheduler.place(WS2022_CT);
    expect(after.ok && after.windowsIsolation).toBe('process');
    expect(after.explanation.rejections).toEqual([]);
    scheduler.updateHost(win('w-1', 17763));
    const again = scheduler.place(WS2022_CT);
    expect(again.ok ? null : again.reason).toMatch(/host w-1 runs build 17763/);
  });

  it("tells a project why without naming the fleet's hosts", () => {
    const decision = place(WS2022_CT, [win('secret-host', 17763)]);
    const seen = explanationForProject(decision.explanation, null);
    expect(seen.summary).toBe('no host fits: a Windows host runs another build; a windows-server-2022 container needs 20348 for process isolation, or 20348 or newer with Hyper-V isolation');
    expect(JSON.stringify(seen)).not.toContain('secret-host');
  });
});
