import { classifyDockerFailure } from './docker-cli';
import { dockerState, parseContainerInspect, parseDockerInfo, parseImageInspect, parsePs } from './wincontainer-parse';

describe('Docker CLI output, read defensively', () => {
  it('reads the Windows build from docker info, from OSVersion or else KernelVersion', () => {
    expect(parseDockerInfo('{"OSType": "windows", "OSVersion": "10.0.17763.5936", "KernelVersion": "10.0 17763 (17763.1.amd64fre.rs5_release.180914-1434)", "ServerVersion": "24.0.7", "Isolation": "process"}')).toEqual({
      osType: 'windows',
      build: 17763,
      serverVersion: '24.0.7',
      operatingSystem: '',
      defaultIsolation: 'process',
    });
    expect(parseDockerInfo('WARNING: something\n{"OSType": "Windows", "KernelVersion": "10.0 26100 (26100.1.amd64fre.ge_release.240331-1435)"}').build).toBe(26100);
    expect(parseDockerInfo('{"OSType": "linux", "KernelVersion": "6.8.0-45-generic", "OSVersion": null}')).toMatchObject({ osType: 'linux', build: null, serverVersion: 'unknown' });
    expect(() => parseDockerInfo('Cannot connect')).toThrow(/holds no JSON/);
  });

  it('reads an image and a container whatever is missing or of another type', () => {
    expect(parseImageInspect('[{"Id": "sha256:ab", "Os": "windows", "OsVersion": "10.0.20348.2113"}]')).toEqual({ id: 'sha256:ab', os: 'windows', build: 20348 });
    expect(parseImageInspect('[]')).toBeNull();
    const c = parseContainerInspect('[{"Id": "abc", "Name": "/hp-x", "State": {"Status": "Paused", "ExitCode": 0}, "HostConfig": {"Isolation": "hyperv", "NanoCpus": 1500000000, "Memory": 536870912}, "Config": {"Image": "img", "Labels": {"a": "b", "n": 1}}}]');
    expect(c).toEqual({ id: 'abc', name: 'hp-x', status: 'paused', isolation: 'hyperv', cpus: 1.5, memoryMiB: 512, image: 'img', labels: { a: 'b' }, exitCode: 0 });
    expect(parseContainerInspect('[{"Id": "abc", "State": null, "HostConfig": {"Isolation": "default", "NanoCpus": 0}, "Config": {"Labels": null}}]')).toMatchObject({ status: 'unknown', isolation: null, cpus: null, memoryMiB: null, labels: {} });
  });

  it('reads docker ps JSON lines, skipping what is not one', () => {
    const text = 'garbage\n{"ID": "1", "Names": "hp-a", "State": "running", "Labels": "hyperplane.instance=x,k=v=w"}\n{not json\n\n';
    expect(parsePs(text)).toEqual([{ id: '1', name: 'hp-a', state: 'running', labels: { 'hyperplane.instance': 'x', k: 'v=w' } }]);
  });

  it.each([
    ['created', 'stopped', false],
    ['running', 'running', false],
    ['paused', 'suspended', false],
    ['restarting', 'running', true],
    ['removing', 'stopped', true],
    ['exited', 'stopped', false],
    ['dead', 'stopped', false],
    ['something-new', 'stopped', true],
  ] as const)('%s reads as %s (transitional: %s)', (status, state, transitional) => {
    expect(dockerState(status)).toEqual({ state, transitional });
  });

  it.each([
    ['Error response from daemon: No such container: hp-x', 'NotFound', false],
    ['Error response from daemon: No such image: mcr.microsoft.com/windows/servercore:ltsc2025', 'Unavailable', true],
    ['Error response from daemon: hcsshim::CreateComputeSystem abc: The container operating system does not match the host operating system.', 'Unavailable', true],
    ['a Windows version 10.0.20348-based image is incompatible with a 10.0.17763 host', 'Unavailable', true],
    ['Error response from daemon: hcsshim::CreateComputeSystem: The virtual machine could not be started because a required feature is not installed.', 'Unavailable', true],
    ['Error response from daemon: Cannot pause container abc: cannot pause Windows Server Containers', 'Unsupported', false],
    ['Error response from daemon: Conflict. The container name "/hp-x" is already in use by container "abc".', 'Conflict', false],
    ["unknown flag: --bogus\nSee 'docker create --help'.", 'Fatal', false],
    ['Error response from daemon: disk full', 'Fatal', false],
  ])('"%s" is %s (host-specific: %s)', (stderr, code, hostSpecific) => {
    const error = classifyDockerFailure('docker', ['x'], { code: 1, stdout: '', stderr });
    // Host-specific is the code (`Unavailable`), not a flag in the details.
    expect([error.code, error.hostSpecific, 'hostSpecific' in (error.details ?? {})]).toEqual([code, hostSpecific, false]);
  });
});
