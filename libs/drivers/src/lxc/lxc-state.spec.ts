import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupLayout } from './lxc-cgroup';
import { cgroupOfProcess, commandSocketName, LxcStateReader, parseAbstractSockets, stateFromCgroup } from './lxc-state';
import { LxcInfo } from './lxc-tools';

/** /proc/net/unix lines as the kernel prints them (an abstract name starts with `@`). */
function procNetUnix(names: string[]): string {
  const header = 'Num       RefCount Protocol Flags    Type St Inode Path\n';
  const rows = names.map((n, i) => `000000008adef5${String(i).padStart(2, '0')}: 00000002 00000000 00010000 0001 01 ${22000 + i} @${n}`);
  return `${header}0000000011111111: 00000003 00000000 00000000 0001 03 123 /run/systemd/journal/stdout\n${rows.join('\n')}\n`;
}

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

describe('lxc state from the kernel', () => {
  it("names the monitor's command socket as liblxc does: plain when it fits, else an FNV-1a hash", () => {
    // Checked against liblxc 5.0.2 on a real host (abstract names in /proc/net/unix).
    expect(commandSocketName('/tmp/x', 'web')).toBe('/tmp/x/web/command');
    const base = `/tmp/idle-c${'x'.repeat(51)}`;
    const name = '0b7c1a52-1111-4222-8333-44445555106';
    expect(`${base}/${name}/command`).toHaveLength(106);
    expect(commandSocketName(base, name)).toBe('lxc/44151d61b3a0b3f2/command');
    expect(commandSocketName(`/tmp/idle-exp-long-${'a'.repeat(70)}`, '0b7c1a52-1111-4222-8333-444455556666')).toBe('lxc/80f68aac79645581/command');
    const shorter = `/tmp/idle-b${'x'.repeat(50)}`;
    expect(`${shorter}/${name}/command`).toHaveLength(105);
    expect(commandSocketName(shorter, name)).toBe(`${shorter}/${name}/command`);
  });

  it('reads abstract socket names from /proc/net/unix, keeping spaces and skipping path sockets', () => {
    const names = parseAbstractSockets(procNetUnix(['/srv/lxc/a b/command', 'lxc/0123456789abcdef/command']));
    expect([...names]).toEqual(['/srv/lxc/a b/command', 'lxc/0123456789abcdef/command']);
  });

  it('maps freezer.state (v1) and cgroup.events (v2) to LXC states', () => {
    expect(['THAWED\n', 'FROZEN\n', 'FREEZING\n', ''].map((t) => stateFromCgroup('v1', t))).toEqual(['RUNNING', 'FROZEN', 'FREEZING', undefined]);
    expect(stateFromCgroup('v2', 'populated 1\nfrozen 0\n')).toBe('RUNNING');
    expect(stateFromCgroup('v2', 'populated 1\nfrozen 1\n')).toBe('FROZEN');
    expect(stateFromCgroup('v2', 'populated 0\nfrozen 0\n')).toBeUndefined();
  });

  it("finds a process's cgroup in the hierarchy of a controller, or the unified one", () => {
    const text = '6:freezer:/lxc/web\n4:memory:/lxc/web\n1:cpu,cpuacct:/lxc/web\n0::/lxc.payload.web\n';
    expect(cgroupOfProcess(text, 'v1', 'freezer')).toBe('lxc/web');
    expect(cgroupOfProcess(text, 'v1', 'cpuacct')).toBe('lxc/web');
    expect(cgroupOfProcess(text, 'v2', 'freezer')).toBe('lxc.payload.web');
  });

  describe.each(['v1', 'v2'] as const)('a host with cgroup %s (a fake /sys/fs/cgroup and /proc)', (version) => {
    let root: string;
    let lxcPath: string;
    let layout: CgroupLayout;
    let infoCalls: string[];
    let infos: Map<string, LxcInfo>;
    let reader: LxcStateReader;
    const running = randomUUID();
    const frozen = randomUUID();
    const stopped = randomUUID();
    const elsewhere = randomUUID();

    /** A running container: its monitor socket, and its payload cgroup at `rel`. */
    const run = (name: string, state: 'THAWED' | 'FROZEN', rel = `lxc.payload.${name}`) => {
      if (version === 'v1') {
        write(join(root, 'cg', 'freezer', rel, 'freezer.state'), `${state}\n`);
        write(join(root, 'cg', 'memory', rel, 'memory.usage_in_bytes'), '1048576\n');
        write(join(root, 'cg', 'memory', rel, 'memory.limit_in_bytes'), '67108864\n');
        write(join(root, 'cg', 'cpu', rel, 'cpu.shares'), '1024\n');
      } else {
        write(join(root, 'cg', 'unified', rel, 'cgroup.events'), `populated 1\nfrozen ${state === 'FROZEN' ? 1 : 0}\n`);
        write(join(root, 'cg', 'unified', rel, 'memory.current'), '1048576\n');
        write(join(root, 'cg', 'unified', rel, 'memory.max'), '67108864\n');
        write(join(root, 'cg', 'unified', rel, 'cgroup.procs'), '4242\n');
      }
    };

    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), 'hp-lxc-state-'));
      lxcPath = join(root, 'containers');
      for (const name of [running, frozen, stopped, elsewhere]) write(join(lxcPath, name, 'config'), 'lxc.uts.name = x\n');
      mkdirSync(join(lxcPath, 'not-an-instance'), { recursive: true });
      mkdirSync(join(lxcPath, randomUUID()), { recursive: true }); // no config: not a container
      mkdirSync(join(root, 'proc', 'net'), { recursive: true });
      writeFileSync(join(root, 'proc', 'net', 'unix'), procNetUnix([running, frozen, elsewhere].map((n) => commandSocketName(lxcPath, n))));
      run(running, 'THAWED');
      run(frozen, 'FROZEN');
      // Started with lxc.cgroup.dir: its cgroup is not lxc.payload.<name>; lxc-info gives its init.
      run(elsewhere, 'THAWED', `custom/${elsewhere}`);
      write(join(root, 'proc', '4242', 'cgroup'), version === 'v1' ? `6:freezer:/custom/${elsewhere}\n4:memory:/custom/${elsewhere}\n0::/\n` : `0::/custom/${elsewhere}\n`);
      layout =
        version === 'v1'
          ? { version, hybrid: true, controllers: ['cpu', 'freezer', 'memory'], memsw: false, mounts: { cpu: join(root, 'cg', 'cpu'), freezer: join(root, 'cg', 'freezer'), memory: join(root, 'cg', 'memory') } }
          : { version, hybrid: false, controllers: ['cpu', 'memory'], memsw: false, mounts: { unified: join(root, 'cg', 'unified') } };
      infoCalls = [];
      infos = new Map([[elsewhere, { state: 'RUNNING', pid: 4242 }]]);
      reader = new LxcStateReader({
        lxcPath,
        layout: () => Promise.resolve(layout),
        procRoot: join(root, 'proc'),
        info: (name) => {
          infoCalls.push(name);
          return Promise.resolve(infos.get(name));
        },
      });
    });

    afterEach(() => rmSync(root, { recursive: true, force: true }));

    const states = async () => Object.fromEntries((await reader.list()).map((e) => [e.name, e.state]));

    it('reads every container state from files, asking LXC only about the one whose cgroup is elsewhere, once', async () => {
      expect(await states()).toEqual({ [running]: 'RUNNING', [frozen]: 'FROZEN', [stopped]: 'STOPPED', [elsewhere]: 'RUNNING' });
      expect(infoCalls).toEqual([elsewhere]);
      // The next pass reads the learned cgroup: no process at all.
      write(join(root, 'cg', version === 'v1' ? 'freezer' : 'unified', 'custom', elsewhere, version === 'v1' ? 'freezer.state' : 'cgroup.events'), version === 'v1' ? 'FROZEN\n' : 'populated 1\nfrozen 1\n');
      expect(await states()).toEqual({ [running]: 'RUNNING', [frozen]: 'FROZEN', [stopped]: 'STOPPED', [elsewhere]: 'FROZEN' });
      expect(infoCalls).toEqual([elsewhere]);
    });

    it('sees a container stop when its monitor and cgroup go away, and an lxcpath that does not exist as empty', async () => {
      writeFileSync(join(root, 'proc', 'net', 'unix'), procNetUnix([commandSocketName(lxcPath, frozen)]));
      for (const name of [running, elsewhere]) {
        for (const h of ['freezer', 'memory', 'cpu', 'unified']) rmSync(join(root, 'cg', h, `lxc.payload.${name}`), { recursive: true, force: true });
      }
      rmSync(join(root, 'cg', version === 'v1' ? 'freezer' : 'unified', 'custom'), { recursive: true, force: true });
      expect(await states()).toEqual({ [running]: 'STOPPED', [frozen]: 'FROZEN', [stopped]: 'STOPPED', [elsewhere]: 'STOPPED' });
      expect(infoCalls).toEqual([]);
      const empty = new LxcStateReader({ lxcPath: join(root, 'nowhere'), layout: () => Promise.resolve(layout), procRoot: join(root, 'proc'), info: () => Promise.reject(new Error('no')) });
      expect(await empty.list()).toEqual([]);
    });

    it('asks LXC about a container whose cgroup runs but whose monitor socket it cannot see (another network namespace)', async () => {
      writeFileSync(join(root, 'proc', 'net', 'unix'), procNetUnix([]));
      infos.set(running, { state: 'RUNNING', pid: 4243 });
      const seen = await states();
      expect(seen[running]).toBe('RUNNING');
      expect(seen[stopped]).toBe('STOPPED');
      expect(infoCalls).toContain(running);
      expect(infoCalls).not.toContain(stopped);
    });

    it('leaves out a container destroyed while it was being read, and gives up on the pass when LXC cannot say why', async () => {
      const failing = new LxcStateReader({
        lxcPath,
        layout: () => Promise.resolve(layout),
        procRoot: join(root, 'proc'),
        info: (name) => {
          rmSync(join(lxcPath, name), { recursive: true, force: true });
          return Promise.reject(new Error('Failed to load config'));
        },
      });
      expect(Object.keys(Object.fromEntries((await failing.list()).map((e) => [e.name, e.state]))).sort()).toEqual([running, frozen, stopped].sort());
      const broken = new LxcStateReader({ lxcPath, layout: () => Promise.resolve(layout), procRoot: join(root, 'proc'), info: () => Promise.reject(new Error('lxc-info timed out')) });
      write(join(lxcPath, elsewhere, 'config'), 'lxc.uts.name = x\n');
      await expect(broken.list()).rejects.toThrow(/timed out/);
    });

    it('reads cgroup values of a running container directly, and none for one without a cgroup', async () => {
      const keys = version === 'v1' ? ['memory.usage_in_bytes', 'memory.limit_in_bytes', 'cpu.shares', 'pids.max'] : ['memory.current', 'memory.max', 'pids.max'];
      const values = await reader.cgroupValues(running, keys);
      expect(Object.fromEntries(values ?? [])).toEqual(
        version === 'v1' ? { 'memory.usage_in_bytes': '1048576', 'memory.limit_in_bytes': '67108864', 'cpu.shares': '1024' } : { 'memory.current': '1048576', 'memory.max': '67108864' },
      );
      expect(await reader.cgroupValues(stopped, keys)).toBeUndefined();
    });
  });
});
