import { HostSnapshot, PlacementPolicy, PlacementRequest } from './placement.types';
import { DEFAULT_POLICY } from './placement-policy';
import { FilterCode } from './filter-codes';
import { place } from './scheduler';
import {
  ALPINE_3_20,
  DEBIAN_12,
  MACOS_15,
  VM_OVERHEAD,
  WINDOWS_SERVER_2022,
  hyperv,
  linuxHost,
  lxc,
  macHost,
  offer,
  prlctl,
  probe,
  qemu,
  request,
  windowsHost,
} from '../test/fixtures';

interface Rule {
  rule: string;
  request: PlacementRequest;
  passes: HostSnapshot;
  fails: HostSnapshot;
  code: FilterCode;
  policy?: PlacementPolicy;
}

const vm = (template = DEBIAN_12, extra: Partial<PlacementRequest> = {}): PlacementRequest =>
  request(template, { technology: 'vm', ...extra });
const full = (extra: Partial<HostSnapshot['allocated']>): HostSnapshot['allocated'] => ({
  vcpus: 0,
  memoryMiB: 0,
  diskGiB: 0,
  instances: 0,
  ...extra,
});
const withGroups = (groups: Record<string, number>) => ({ groups });

const RULES: Rule[] = [
  {
    rule: 'a Linux container needs a Linux host, not a Windows one',
    request: request(DEBIAN_12),
    passes: linuxHost('pass'),
    fails: windowsHost('fail'),
    code: 'os',
  },
  {
    rule: 'macOS hosts take no containers, even with a container-capable driver',
    request: request(ALPINE_3_20),
    passes: linuxHost('pass'),
    fails: macHost('fail', { drivers: [probe('prlctl', [offer('container', [{ os: 'linux', archs: ['arm64'] }])])] }),
    code: 'os',
  },
  {
    rule: 'a Windows container needs a Windows host',
    request: request(WINDOWS_SERVER_2022),
    passes: windowsHost('pass'),
    fails: linuxHost('fail'),
    code: 'os',
  },
  {
    rule: 'a Windows container needs the host build the template names',
    request: request(WINDOWS_SERVER_2022),
    passes: windowsHost('pass', { osVersion: '10.0.20348', kernel: '10.0.20348' }),
    fails: windowsHost('fail', { osVersion: '10.0.17763', kernel: '10.0.17763' }),
    code: 'windows-build',
  },
  {
    rule: 'a Linux container needs a kernel at least the template minKernel',
    request: request(DEBIAN_12),
    passes: linuxHost('pass', { kernel: '5.10.0' }),
    fails: linuxHost('fail', { kernel: '4.19.0' }),
    code: 'kernel',
  },
  {
    rule: "a Linux container needs a container offer listing the template's distribution and version",
    request: request(DEBIAN_12),
    passes: linuxHost('pass', {
      drivers: [probe('lxc', [offer('container', [{ os: 'linux', archs: ['x86_64'], distributions: { debian: ['12'] } }])])],
    }),
    fails: linuxHost('fail', {
      drivers: [probe('lxc', [offer('container', [{ os: 'linux', archs: ['x86_64'], distributions: { debian: ['11'] } }])])],
    }),
    code: 'guest',
  },
  {
    rule: "versions ['*'] take any version of the distribution",
    request: request(DEBIAN_12),
    passes: linuxHost('pass', {
      drivers: [probe('lxc', [offer('container', [{ os: 'linux', archs: ['x86_64'], distributions: { debian: ['*'] } }])])],
    }),
    fails: linuxHost('fail', {
      drivers: [probe('lxc', [offer('container', [{ os: 'linux', archs: ['x86_64'], distributions: { ubuntu: ['*'] } }])])],
    }),
    code: 'guest',
  },
  {
    rule: 'a VM offer must list the guest OS',
    request: vm(WINDOWS_SERVER_2022),
    passes: linuxHost('pass', { drivers: [qemu()] }),
    fails: linuxHost('fail', { drivers: [probe('qemu', [offer('vm', [{ os: 'linux', archs: ['x86_64'] }])], { accelerator: 'kvm' })] }),
    code: 'guest',
  },
  {
    rule: 'a VM offer that restricts distributions must list the distribution',
    request: vm(DEBIAN_12),
    passes: linuxHost('pass', { drivers: [qemu()] }),
    fails: linuxHost('fail', {
      drivers: [
        probe('qemu', [offer('vm', [{ os: 'linux', archs: ['x86_64'], distributions: { ubuntu: ['*'] } }])], {
          accelerator: 'kvm',
        }),
      ],
    }),
    code: 'guest',
  },
  {
    rule: 'a macOS guest runs only on a macOS host',
    request: vm(MACOS_15),
    passes: macHost('pass'),
    fails: linuxHost('fail', { arch: 'arm64', drivers: [prlctl()] }),
    code: 'os',
  },
  {
    rule: 'an arm64 guest on an x86_64 host needs a driver that emulates arm64',
    request: vm(DEBIAN_12, { arch: 'arm64' }),
    passes: linuxHost('pass', { drivers: [qemu('kvm', { emulates: ['arm64'] })] }),
    fails: linuxHost('fail', { drivers: [qemu('kvm')] }),
    code: 'arch',
  },
  {
    rule: "a container's arch must equal the host's, emulation or not",
    request: request(DEBIAN_12, { arch: 'arm64' }),
    passes: linuxHost('pass', { arch: 'arm64' }),
    fails: linuxHost('fail', { arch: 'x86_64', drivers: [lxc(), qemu('kvm', { emulates: ['arm64'] })] }),
    code: 'arch',
  },
  {
    rule: 'hyperv serves only on Windows hosts',
    request: vm(DEBIAN_12),
    passes: windowsHost('pass', { drivers: [hyperv()] }),
    fails: linuxHost('fail', { drivers: [hyperv()] }),
    code: 'driver',
  },
  {
    rule: 'qemu with kvm serves only on Linux hosts; on macOS it needs another accelerator',
    request: vm(DEBIAN_12, { arch: 'arm64' }),
    passes: macHost('pass', { drivers: [qemu('hvf')] }),
    fails: macHost('fail', { drivers: [qemu('kvm')] }),
    code: 'driver',
  },
  {
    rule: 'qemu with whpx serves on Windows hosts',
    request: vm(DEBIAN_12),
    passes: windowsHost('pass', { drivers: [qemu('whpx')] }),
    fails: linuxHost('fail', { drivers: [qemu('whpx')] }),
    code: 'driver',
  },
  {
    rule: 'prlctl serves on Linux, Windows and macOS, but a driver must be installed',
    request: vm(DEBIAN_12),
    passes: windowsHost('pass', { drivers: [prlctl()] }),
    fails: linuxHost('fail', { drivers: [{ ...prlctl(), installed: false }] }),
    code: 'driver',
  },
  {
    rule: 'template.drivers restricts which drivers may serve',
    request: vm({ ...DEBIAN_12, drivers: ['prlctl'] }),
    passes: linuxHost('pass', { drivers: [prlctl()] }),
    fails: linuxHost('fail', { drivers: [qemu()] }),
    code: 'template-drivers',
  },
  {
    rule: 'the driver must offer every capability the request needs',
    request: vm(DEBIAN_12, { capabilities: ['snapshot', 'liveMigrate'] }),
    passes: linuxHost('pass', { drivers: [qemu()] }),
    fails: linuxHost('fail', { drivers: [qemu('kvm', { capabilities: ['snapshot', 'suspend'] })] }),
    code: 'capabilities',
  },
  {
    rule: 'a draining host takes nothing',
    request: request(DEBIAN_12),
    passes: linuxHost('pass'),
    fails: linuxHost('fail', { status: 'draining' }),
    code: 'status',
  },
  {
    rule: 'a down host takes nothing',
    request: request(DEBIAN_12),
    passes: linuxHost('pass'),
    fails: linuxHost('fail', { status: 'down' }),
    code: 'status',
  },
  {
    rule: 'hosts in maintenance or still enrolling take nothing',
    request: request(DEBIAN_12),
    passes: linuxHost('pass'),
    fails: linuxHost('fail', { status: 'enrolling' }),
    code: 'status',
  },
  {
    rule: 'the request zone must match',
    request: request(DEBIAN_12, { zone: 'eu-1' }),
    passes: linuxHost('pass', { zone: 'eu-1' }),
    fails: linuxHost('fail', { zone: 'eu-2' }),
    code: 'zone',
  },
  {
    rule: 'every required label must match',
    request: request(DEBIAN_12, { requiredLabels: { rack: 'a', ssd: 'true' } }),
    passes: linuxHost('pass', { labels: { rack: 'a', ssd: 'true', extra: 'x' } }),
    fails: linuxHost('fail', { labels: { rack: 'a', ssd: 'false' } }),
    code: 'labels',
  },
  {
    rule: 'a pinned request goes only to its host',
    request: request(DEBIAN_12, { hostId: 'pass' }),
    passes: linuxHost('pass'),
    fails: linuxHost('fail'),
    code: 'pinned',
  },
  {
    rule: "a VM claims its request plus the driver's overhead",
    request: vm(DEBIAN_12, { resources: { vcpus: 1, memoryMiB: 4096, diskGiB: 10 } }),
    // usable memory for a VM = 65536 × 1; the claim is 4096 + 256.
    passes: linuxHost('pass', { allocated: full({ memoryMiB: 65536 - 4096 - VM_OVERHEAD.memoryMiB }) }),
    fails: linuxHost('fail', { allocated: full({ memoryMiB: 65536 - 4096 - VM_OVERHEAD.memoryMiB + 1 }) }),
    code: 'memory',
  },
  {
    rule: 'container vCPUs are overcommitted by the container ratio (16 per core)',
    request: request(DEBIAN_12, { resources: { vcpus: 16, memoryMiB: 512, diskGiB: 1 } }),
    passes: linuxHost('pass', { capacity: { vcpus: 1, memoryMiB: 4096, diskGiB: 100, instances: 0 } }),
    fails: linuxHost('fail', {
      capacity: { vcpus: 1, memoryMiB: 4096, diskGiB: 100, instances: 0 },
      allocated: full({ vcpus: 1 }),
    }),
    code: 'vcpus',
  },
  {
    rule: 'VM vCPUs are overcommitted by the VM ratio (4 per core), not the container one',
    request: vm(DEBIAN_12, { resources: { vcpus: 5, memoryMiB: 512, diskGiB: 1 } }),
    passes: linuxHost('pass', { capacity: { vcpus: 2, memoryMiB: 4096, diskGiB: 100, instances: 0 } }),
    fails: linuxHost('fail', { capacity: { vcpus: 1, memoryMiB: 4096, diskGiB: 100, instances: 0 } }),
    code: 'vcpus',
  },
  {
    rule: 'container memory is overcommitted 1.5× and reserved memory is kept back',
    request: request(DEBIAN_12, { resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 1 } }),
    policy: { ...DEFAULT_POLICY, reserved: { vcpus: 0, memoryMiB: 512, diskGiB: 0 } },
    // floor(1024 × 1.5) − 512 = 1024 usable
    passes: linuxHost('pass', { capacity: { vcpus: 4, memoryMiB: 1024, diskGiB: 100, instances: 0 } }),
    fails: linuxHost('fail', { capacity: { vcpus: 4, memoryMiB: 1023, diskGiB: 100, instances: 0 } }),
    code: 'memory',
  },
  {
    rule: 'disk must fit too',
    request: request(DEBIAN_12, { resources: { vcpus: 1, memoryMiB: 512, diskGiB: 100 } }),
    passes: linuxHost('pass', { allocated: full({ diskGiB: 900 }) }),
    fails: linuxHost('fail', { allocated: full({ diskGiB: 901 }) }),
    code: 'disk',
  },
  {
    rule: "a host's own density cap is kept",
    request: request(DEBIAN_12),
    passes: linuxHost('pass', { capacity: { vcpus: 16, memoryMiB: 65536, diskGiB: 1000, instances: 10 }, allocated: full({ instances: 9 }) }),
    fails: linuxHost('fail', { capacity: { vcpus: 16, memoryMiB: 65536, diskGiB: 1000, instances: 10 }, allocated: full({ instances: 10 }) }),
    code: 'density',
  },
  {
    rule: "the policy's density cap bounds hosts that declare none or a higher one",
    request: request(DEBIAN_12),
    policy: { ...DEFAULT_POLICY, maxInstancesPerHost: 3 },
    passes: linuxHost('pass', { allocated: full({ instances: 2 }) }),
    fails: linuxHost('fail', {
      capacity: { vcpus: 16, memoryMiB: 65536, diskGiB: 1000, instances: 100 },
      allocated: full({ instances: 3 }),
    }),
    code: 'density',
  },
  {
    rule: 'hard anti-affinity avoids hosts that already run a member',
    request: request(DEBIAN_12, { group: { id: 'g', name: 'web', policy: 'anti-affinity', strict: true } }),
    passes: linuxHost('pass', withGroups({ g: 0, other: 3 })),
    fails: linuxHost('fail', withGroups({ g: 1 })),
    code: 'anti-affinity',
  },
  {
    rule: 'hard affinity keeps to hosts that run a member once one exists',
    request: request(DEBIAN_12, { group: { id: 'g', name: 'db', policy: 'affinity', strict: true } }),
    passes: linuxHost('pass', withGroups({ g: 1 })),
    fails: linuxHost('fail', withGroups({ other: 1 })),
    code: 'affinity',
  },
  {
    rule: 'maxPerHost rejects hosts with that many members',
    request: request(DEBIAN_12, { group: { id: 'g', name: 'web', policy: 'affinity', strict: false, maxPerHost: 2 } }),
    passes: linuxHost('pass', withGroups({ g: 1 })),
    fails: linuxHost('fail', withGroups({ g: 2 })),
    code: 'group-max',
  },
];

describe('placement filters', () => {
  it.each(RULES)('$rule (rejected as $code)', ({ request: req, passes, fails, code, policy }) => {
    const decision = place(req, [fails, passes], policy ?? DEFAULT_POLICY);
    expect(decision.ok && decision.hostId).toBe('pass');
    expect(decision.explanation.rejections.map((r) => [r.code, r.count])).toEqual([[code, 1]]);
  });

  it.each(RULES.filter((r) => r.code !== 'affinity'))(
    'finds no host when only the failing one exists: $rule',
    ({ request: req, fails, code, policy }) => {
      const decision = place(req, [fails], policy ?? DEFAULT_POLICY);
      expect(decision.ok).toBe(false);
      expect(decision.explanation.rejections.map((r) => r.code)).toEqual([code]);
    },
  );

  it('lets the first member of a hard-affinity group go to any host', () => {
    const req = request(DEBIAN_12, { group: { id: 'g', name: 'db', policy: 'affinity', strict: true } });
    const decision = place(req, [linuxHost('a'), linuxHost('b', withGroups({ other: 2 }))]);
    expect(decision.ok).toBe(true);
  });

  it('runs prlctl VMs on Linux, Windows and macOS hosts', () => {
    for (const h of [linuxHost('l', { drivers: [prlctl()] }), windowsHost('w', { drivers: [prlctl()] }), macHost('m')]) {
      const decision = place(vm(ALPINE_3_20, { arch: h.arch }), [h]);
      expect([h.id, decision.ok && decision.driver]).toEqual([h.id, 'prlctl']);
    }
  });

  it('refuses a technology the template does not offer', () => {
    const decision = place(request(MACOS_15, { technology: 'container' }), [macHost('m'), linuxHost('l')]);
    expect(decision.ok).toBe(false);
    expect(decision.explanation.rejections).toEqual([expect.objectContaining({ code: 'template-technology', count: 2 })]);
  });

  it('refuses an arch the template has no image for', () => {
    const decision = place(vm(WINDOWS_SERVER_2022, { arch: 'arm64' }), [windowsHost('w', { arch: 'arm64' })]);
    expect(decision.explanation.rejections).toEqual([expect.objectContaining({ code: 'template-arch', count: 1 })]);
  });

  it('counts a host under the filter its furthest driver reached', () => {
    // lxc lacks the distribution (guest), the simulator has it but the host kernel is too old.
    const h = linuxHost('h', {
      kernel: '4.19',
      drivers: [
        probe('lxc', [offer('container', [{ os: 'linux', archs: ['x86_64'], distributions: { ubuntu: ['*'] } }])]),
        probe('sim', [offer('container', [{ os: 'linux', archs: ['x86_64'] }])]),
      ],
    });
    expect(place(request(DEBIAN_12), [h]).explanation.rejections.map((r) => r.code)).toEqual(['kernel']);
  });

  it('falls back to a driver without overhead when the preferred one does not fit', () => {
    const h = linuxHost('h', {
      capacity: { vcpus: 4, memoryMiB: 4096, diskGiB: 100, instances: 0 },
      drivers: [qemu(), probe('sim', [offer('vm', [{ os: 'linux', archs: ['x86_64'] }], { overhead: { vcpus: 0, memoryMiB: 0, diskGiB: 0 } })])],
    });
    const decision = place(vm(DEBIAN_12, { resources: { vcpus: 1, memoryMiB: 4096, diskGiB: 10 } }), [h]);
    expect(decision.ok && [decision.driver, decision.claim]).toEqual(['sim', { vcpus: 1, memoryMiB: 4096, diskGiB: 10 }]);
  });

  it('prefers the native arch and a real driver, and claims the overhead', () => {
    const h = linuxHost('h', { drivers: [probe('sim', [offer('vm', [{ os: 'linux', archs: ['x86_64'] }])]), qemu('kvm', { emulates: ['arm64'] })] });
    const decision = place(vm(DEBIAN_12), [h]);
    expect(decision.ok && [decision.driver, decision.arch, decision.claim]).toEqual([
      'qemu',
      'x86_64',
      { vcpus: 1, memoryMiB: 1024 + 256, diskGiB: 11 },
    ]);
  });
});
