import { needsHypervIsolation, windowsBuildNumber, windowsContainerIsolation } from './windows-build';

describe('Windows builds', () => {
  it.each([
    ['10.0.20348', 20348],
    ['10.0.17763.5936', 17763],
    // Docker's KernelVersion on Windows.
    ['10.0 26100 (26100.1.amd64fre.ge_release.240331-1435)', 26100],
    ['Microsoft Windows Server 2022 Datacenter 10.0.20348', 20348],
    ['20348', 20348],
    ['Windows Server 2022 Datacenter', null],
    ['2022 Datacenter', null],
    ['6.8.0-45-generic', null],
    [undefined, null],
  ])('reads %j as build %j', (text, build) => {
    expect(windowsBuildNumber(text)).toBe(build);
  });

  // Microsoft's version-compatibility page: process isolation needs the same build, Hyper-V
  // isolation the same or an older image; nothing runs a newer image.
  it.each([
    [20348, 20348, ['process'], false, { ok: true, isolation: 'process' }],
    [20348, 20348, ['process', 'hyperv'], false, { ok: true, isolation: 'process' }],
    [20348, 20348, ['process', 'hyperv'], true, { ok: true, isolation: 'hyperv' }],
    [20348, 20348, ['process'], true, { ok: false, why: 'no-hyperv' }],
    [17763, 20348, ['process'], false, { ok: false, why: 'no-hyperv' }],
    [17763, 20348, ['process', 'hyperv'], false, { ok: true, isolation: 'hyperv' }],
    [26100, 20348, ['process', 'hyperv'], false, { ok: false, why: 'build' }],
    [20348, 20348, undefined, false, { ok: true, isolation: 'process' }],
    [20348, 20348, ['hyperv'], false, { ok: true, isolation: 'hyperv' }],
  ] as const)('image %i on host %i with %j (own kernel: %s) → %j', (image, host, modes, hyperv, verdict) => {
    expect(windowsContainerIsolation(image, host, modes, hyperv)).toEqual(verdict);
  });

  it('takes Hyper-V isolation for a dedicated kernel or strict security only', () => {
    expect(needsHypervIsolation({ security: 'strict' })).toBe(true);
    expect(needsHypervIsolation({ kernel: 'dedicated' })).toBe(true);
    expect(needsHypervIsolation({ kernel: 'shared', security: 'standard' })).toBe(false);
    expect(needsHypervIsolation(undefined)).toBe(false);
  });
});
