import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../exec/run-command';
import { CgroupLayout } from './lxc-cgroup';
import { commandSocketName } from './lxc-state';
import { LxcDriver } from './lxc.driver';

// Every lxc-* tool goes through runCommand: a fake one counts the processes a listing would start.
jest.mock('../exec/run-command', () => ({
  runCommand: jest.fn(() => Promise.resolve({ code: 0, stdout: '', stderr: '' })),
}));
const run = runCommand as jest.MockedFunction<typeof runCommand>;

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

describe('lxc driver: listing a full host', () => {
  const N = 40;
  let root: string;
  let driver: LxcDriver;
  const running = Array.from({ length: N }, () => randomUUID());
  const stopped = Array.from({ length: 5 }, () => randomUUID());

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'hp-lxc-sync-'));
    const lxcPath = join(root, 'lxc');
    const cg = join(root, 'cg');
    const sockets: string[] = [];
    for (const id of [...running, ...stopped]) write(join(lxcPath, id, 'config'), 'lxc.cgroup.memory.limit_in_bytes = 67108864\n');
    for (const id of running) {
      sockets.push(`00000000: 00000002 00000000 00010000 0001 01 1 @${commandSocketName(lxcPath, id)}`);
      write(join(cg, 'freezer', `lxc.payload.${id}`, 'freezer.state'), 'THAWED\n');
      write(join(cg, 'memory', `lxc.payload.${id}`, 'memory.limit_in_bytes'), '67108864\n');
      write(join(cg, 'memory', `lxc.payload.${id}`, 'memory.usage_in_bytes'), '1048576\n');
      write(join(cg, 'cpu', `lxc.payload.${id}`, 'cpu.shares'), '1024\n');
    }
    write(join(root, 'proc', 'net', 'unix'), `Num       RefCount Protocol Flags    Type St Inode Path\n${sockets.join('\n')}\n`);
    driver = new LxcDriver({ stateDir: join(root, 'state'), lxcPath, hostOs: 'linux', hostArch: 'x86_64', procRoot: join(root, 'proc') });
    const layout: CgroupLayout = {
      version: 'v1',
      hybrid: true,
      controllers: ['cpu', 'freezer', 'memory'],
      memsw: false,
      mounts: { cpu: join(cg, 'cpu'), freezer: join(cg, 'freezer'), memory: join(cg, 'memory') },
    };
    driver.layout = () => Promise.resolve(layout);
    run.mockClear();
  });

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it(`observes ${N} running containers without starting a single process`, async () => {
    const seen = await driver.observe();
    expect(seen).toHaveLength(N + stopped.length);
    expect(seen.filter((s) => s.state === 'running').map((s) => s.id).sort()).toEqual([...running].sort());
    expect(run).not.toHaveBeenCalled();
  });

  it(`lists ${N} running containers with their limits and usage from the cgroup files, without a process`, async () => {
    const listed = await driver.list();
    expect(listed).toHaveLength(N + stopped.length);
    const one = listed.find((s) => s.id === running[0]);
    expect(one).toMatchObject({ state: 'running', resources: { memoryMiB: 64 }, details: { limitsSource: 'cgroup', memoryUsageBytes: 1048576 } });
    expect(listed.find((s) => s.id === stopped[0])).toMatchObject({ state: 'stopped', resources: { memoryMiB: 64 } });
    expect(run).not.toHaveBeenCalled();
  });
});
