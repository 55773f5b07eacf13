import { classifyFailure, messageOf } from './prlctl-cli';
import {
  extractJson,
  parseCtTemplates,
  parseInfo,
  parseLicenseEdition,
  parseList,
  parseServerInfo,
  parseSizeMiB,
  parseSnapshotCreated,
  parseSnapshotInfoText,
  parseSnapshotListJson,
  parseSnapshotListText,
  parseVersion,
} from './prlctl-parse';
import { detectFlavour, templateIdentity } from './prlctl-probe';
import { PRL_STATES, prlState } from './prlctl-state';

describe('prlctl output parsers', () => {
  it('finds the JSON among warnings, progress text and control characters', () => {
    const noisy = 'WARNING: deprecated {not json}\r\n\u0007[{"uuid": "a", "name": "x [1] {y}"}]\nDone.\n';
    expect(extractJson(noisy)).toEqual([{ uuid: 'a', name: 'x [1] {y}' }]);
    expect(extractJson('{"a": {"b": "}"}} trailing {')).toEqual({ a: { b: '}' } });
    expect(() => extractJson('Failed to get VM config')).toThrow(/holds no JSON/);
  });

  it.each([
    ['512Mb', 512],
    ['2048MB', 2048],
    ['4Gb', 4096],
    ['1.5 GB', 1536],
    ['1048576Kb', 1024],
    [' 256 MiB ', 256],
    [1024, 1024],
    ['1024', 1024],
    ['lots', null],
    ['12Pb', null],
    [undefined, null],
  ])('reads the size %j as %j MiB', (raw, mib) => {
    expect(parseSizeMiB(raw)).toBe(mib);
  });

  it('reads versions of both products', () => {
    expect(parseVersion('prlctl version 14.0.1 (45154)')).toBe('14.0.1 (45154)');
    expect(parseVersion('prlctl version 9.0.26\n')).toBe('9.0.26');
    expect(parseVersion('nothing')).toBeNull();
  });

  it('takes the snapshot id from the text both products print', () => {
    expect(parseSnapshotCreated('The snapshot with ID {0A1B2C3D-1111-4222-8333-444455556666} has been successfully created.')).toBe('0a1b2c3d-1111-4222-8333-444455556666');
    expect(parseSnapshotCreated('Creating the snapshot...\nThe snapshot with id {0a1b2c3d-1111-4222-8333-444455556666} has been successfully created.')).toBe('0a1b2c3d-1111-4222-8333-444455556666');
    expect(() => parseSnapshotCreated('The snapshot has been successfully created.')).toThrow(/no snapshot id/);
  });

  it("reads Virtuozzo's snapshot-list table and -i details (it has no JSON)", () => {
    const a = '{11111111-1111-4111-8111-111111111111}';
    const b = '{22222222-2222-4222-8222-222222222222}';
    const table = `PARENT_SNAPSHOT_ID                      SNAPSHOT_ID\n${''.padStart(38)}  ${a}\n${a.padStart(38)} *${b}\n`;
    expect(parseSnapshotListText(table)).toEqual([
      { id: '11111111-1111-4111-8111-111111111111', parent: '', current: false },
      { id: '22222222-2222-4222-8222-222222222222', parent: '11111111-1111-4111-8111-111111111111', current: true },
    ]);
    const info = `ID: ${b}\nName: before upgrade\nDate: 2024-01-02 10:11:12\nCurrent: yes\nState: poweroff\nDescription: \n`;
    expect(parseSnapshotInfoText(info)).toEqual({ id: '22222222-2222-4222-8222-222222222222', name: 'before upgrade', date: '2024-01-02 10:11:12', parent: '', current: true });
    expect(parseSnapshotInfoText('nothing')).toBeNull();
  });

  it("reads Desktop's snapshot-list JSON, an object keyed by {uuid}", () => {
    const json = 'noise\n{"{0A1B2C3D-1111-4222-8333-444455556666}": {"name": "clean", "date": "2024-01-02 10:11:12", "state": "poweroff", "current": true, "parent": ""}}';
    expect(parseSnapshotListJson(json)).toEqual([{ id: '0a1b2c3d-1111-4222-8333-444455556666', name: 'clean', date: '2024-01-02 10:11:12', parent: '', current: true }]);
    expect(parseSnapshotListJson('{}')).toEqual([]);
  });

  it('reads list rows whatever the key case and the braces', () => {
    const rows = parseList('[{"uuid": "{AAAAAAAA-1111-4222-8333-444455556666}", "status": "running", "type": "CT", "name": "hp-x"}, {"name": "no uuid"}, {"ID": "bbbbbbbb-1111-4222-8333-444455556666", "State": "stopped"}]');
    expect(rows).toEqual([
      { uuid: 'aaaaaaaa-1111-4222-8333-444455556666', status: 'running', type: 'CT', name: 'hp-x' },
      { uuid: 'bbbbbbbb-1111-4222-8333-444455556666', status: 'stopped', type: 'VM', name: '' },
    ]);
  });

  it('reads list --info: sizes as strings, nested hardware, macOS guest types', () => {
    const info = parseInfo('[{"ID": "{AAAAAAAA-1111-4222-8333-444455556666}", "Name": "mac", "State": "suspended", "Type": "APPLE_VZ_VM", "OS": "macosx", "Home": "/x.macvm/", "Template": "no", "Hardware": {"cpu": {"cpus": "4"}, "memory": {"size": "8192Mb"}}}]');
    expect(info).toEqual({ uuid: 'aaaaaaaa-1111-4222-8333-444455556666', name: 'mac', state: 'suspended', type: 'VM', rawType: 'APPLE_VZ_VM', os: 'macosx', cpus: 4, memoryMiB: 8192, home: '/x.macvm/', template: false });
    expect(parseInfo('[{"ID": "x", "Type": "CT"}]')).toMatchObject({ type: 'CT', cpus: null, memoryMiB: null, state: 'unknown' });
  });

  it('reads the server version, the Desktop edition and the OS templates', () => {
    expect(parseServerInfo('{"ID": "x", "Hostname": "h", "Version": "Desktop 19.4.1-54985", "OS": "Mac OS X"}')).toEqual({ version: 'Desktop 19.4.1-54985', os: 'Mac OS X', hostname: 'h' });
    expect(parseLicenseEdition('{"status": "ACTIVE", "edition": "Pro"}')).toBe('pro');
    expect(parseLicenseEdition('{"status": "ACTIVE"}')).toBeNull();
    expect(parseCtTemplates('[{"Name": "debian-12-x86_64", "Type": "os", "Arch": "x86_64", "Cached": "yes"}, {"name": "long-name~", "type": "app"}]')).toEqual([
      { name: 'debian-12-x86_64', type: 'os', arch: 'x86_64', cached: true },
      { name: 'long-name', type: 'app', arch: '', cached: false },
    ]);
  });

  it('names the flavour from the server version, else from the host OS', () => {
    expect(detectFlavour('Desktop 19.4.1-54985', 'linux')).toBe('desktop');
    expect(detectFlavour('Server 7.0.13-1029', 'macos')).toBe('virtuozzo');
    expect(detectFlavour('', 'macos')).toBe('desktop');
    expect(detectFlavour('', 'linux')).toBe('virtuozzo');
  });

  it.each([
    ['debian-12', { distribution: 'debian', version: '12', os: 'linux' }],
    ['ubuntu-24.04-x86_64', { distribution: 'ubuntu', version: '24.04', os: 'linux' }],
    ['windows-server-2022', { distribution: 'windows-server', version: '2022', os: 'windows' }],
    ['macos-15', { distribution: 'macos', version: '15', os: 'macos' }],
    ['my template', null],
    ['debian', null],
  ])('takes %j as a template of %j', (name, identity) => {
    expect(templateIdentity(name)).toEqual(identity);
  });
});

describe('prlctl states', () => {
  it('maps every state prlctl can print, transitional ones included', () => {
    const all = ['stopped', 'starting', 'restoring', 'running', 'paused', 'resetting', 'pausing', 'suspending', 'stopping', 'compacting', 'suspended', 'snapshoting', 'continuing', 'migrating', 'del_snapshot', 'resuming', 'syncing', 'invalid', 'reconnecting', 'mounted', 'unknown'];
    for (const s of all) expect(Object.hasOwn(PRL_STATES, s)).toBe(true);
    expect(all.filter((s) => !prlState(s).transitional)).toEqual(['stopped', 'running', 'paused', 'suspended', 'invalid', 'mounted']);
  });

  it.each([
    ['running', 'stopped', 'running'],
    ['paused', 'stopped', 'suspended'],
    ['starting', 'stopped', 'running'],
    ['stopping', 'running', 'stopped'],
    ['suspending', 'running', 'suspended'],
    ['snapshoting', 'running', 'running'],
    ['snapshoting', 'stopped', 'stopped'],
    ['RUNNING', 'stopped', 'running'],
    ['something-new', 'running', 'running'],
  ] as const)('%s (was %s) reads as %s', (raw, previous, state) => {
    expect(prlState(raw, previous).state).toBe(state);
  });

  it('marks states that mean a broken bundle', () => {
    expect(prlState('invalid')).toMatchObject({ state: 'stopped', broken: true });
    expect(prlState('something-new')).toMatchObject({ transitional: true, broken: true });
  });
});

describe('prlctl failures', () => {
  const result = (code: number, stderr: string) => ({ code, stdout: '', stderr });
  it.each([
    [255, 'The 1234 virtual machine does not exist.', 'NotFound'],
    [255, 'Failed to get VM config: The virtual machine could not be found.', 'NotFound'],
    [254, 'Failed to start the VM: frozen', 'Fatal'],
    [1, 'Unrecognized option: --bogus', 'Fatal'],
    [255, 'Failed to start the VM: no space left', 'Fatal'],
  ])('exit %i "%s" is %s', (code, stderr, kind) => {
    expect(classifyFailure('prlctl', ['start', 'x'], result(code, stderr)).code).toBe(kind);
  });

  it("drops Virtuozzo's deprecation notice from the message", () => {
    const stderr = 'WARNING: You are using a deprecated CLI component that will be dropped in the next major release. Please use virsh instead\nFailed to start the VM: boom\n';
    expect(messageOf(result(255, stderr))).toBe('Failed to start the VM: boom');
  });
});
