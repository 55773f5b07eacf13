import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Arch, TemplateSpec } from '@hyperplane/domain';
import { InstanceSpec } from '../driver';
import { LxcDriver } from './lxc.driver';

// Offline migration between two "hosts" on this machine: two LxcDrivers with separate state
// directories and lxcpaths; the archive travels over the agents' authenticated TCP transfer.

const ARCH: Arch = process.arch === 'arm64' ? 'arm64' : 'x86_64';
const BUSYBOX: TemplateSpec = { name: 'busybox', osFamily: 'linux', distribution: 'busybox', version: '1', archs: [ARCH], technologies: ['container'], drivers: ['lxc'] };
const TOOLS = ['lxc-start', 'lxc-stop', 'lxc-info', 'lxc-ls', 'lxc-wait', 'lxc-destroy', 'tar'];

function whyNotRunnable(): string | undefined {
  if (process.platform !== 'linux') return `this is ${process.platform}`;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  const missing = TOOLS.filter((t) => !dirs.some((d) => d && existsSync(join(d, t))));
  if (missing.length) return `${missing.join(', ')} not installed (apt-get install lxc busybox-static)`;
  if (!['/bin/busybox', '/usr/bin/busybox'].some((p) => existsSync(p))) return 'busybox-static is not installed';
  if (process.getuid?.() !== 0) return 'the tests need root (privileged containers)';
  return undefined;
}

function spec(): InstanceSpec {
  const id = randomUUID();
  return { id, name: `m-${id.slice(0, 8)}`, template: BUSYBOX, technology: 'container', arch: ARCH, resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } };
}

function lxcState(lxcPath: string, id: string): string | undefined {
  try {
    return /^State:\s+(\S+)/m.exec(execFileSync('lxc-info', ['-P', lxcPath, '-n', id, '-s'], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] }))?.[1];
  } catch {
    return undefined;
  }
}

const notRunnable = whyNotRunnable();

if (notRunnable) {
  describe('LxcDriver offline migration on this host', () => {
    it('is runnable, as HYPERPLANE_REQUIRE_REAL_DRIVERS=1 demands', () => {
      if (process.env.HYPERPLANE_REQUIRE_REAL_DRIVERS === '1') throw new Error(`HYPERPLANE_REQUIRE_REAL_DRIVERS=1 but LXC cannot run here: ${notRunnable}`);
      console.warn(`lxc-migration.spec: real-host tests not run: ${notRunnable}`);
    });
  });
} else {
  describe('LxcDriver offline migration between two lxcpaths', () => {
    jest.setTimeout(180_000);
    const root = mkdtempSync('/tmp/hp-lxc-mig-');
    const a = new LxcDriver({ stateDir: join(root, 'a'), hostOs: 'linux', hostArch: ARCH });
    const b = new LxcDriver({ stateDir: join(root, 'b'), hostOs: 'linux', hostArch: ARCH });

    afterAll(async () => {
      for (const d of [a, b]) {
        for (const s of await d.list().catch(() => [])) await d.destroy(s.id).catch(() => undefined);
        for (const name of existsSync(d.lxcPath) ? readdirSync(d.lxcPath) : []) {
          try {
            execFileSync('lxc-destroy', ['-P', d.lxcPath, '-n', name, '-f'], { stdio: 'ignore', timeout: 30_000 });
          } catch {
            // a staging directory, removed below
          }
        }
      }
      rmSync(root, { recursive: true, force: true });
    });

    it('moves a running container with its files: stopped on A, running on B from B\'s lxcpath, A removed', async () => {
      const s = spec();
      await a.create(s);
      await a.start(s.id);
      writeFileSync(join(a.lxcPath, s.id, 'rootfs', 'root', 'moved.txt'), 'written on A\n');
      const target = await b.migrateReceive(s, { mode: 'offline' });
      expect(target).toMatchObject({ mode: 'offline', host: '127.0.0.1', port: expect.any(Number), token: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const stats = await a.migrateSend(s.id, target);
      expect(stats).toMatchObject({ mode: 'offline', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(lxcState(a.lxcPath, s.id)).toBe('STOPPED');
      await expect(a.start(s.id)).rejects.toMatchObject({ code: 'Conflict' }); // handed over: not to be started here
      const finished = await b.migrateFinish(s.id);
      expect(finished).toMatchObject({ state: 'running', details: { lxcPath: b.lxcPath } });
      expect(lxcState(b.lxcPath, s.id)).toBe('RUNNING');
      expect(readFileSync(join(b.lxcPath, s.id, 'config'), 'utf8')).toContain(join(b.lxcPath, s.id, 'rootfs'));
      expect(readFileSync(join(b.lxcPath, s.id, 'config'), 'utf8')).not.toContain(a.lxcPath);
      expect(readFileSync(join(b.lxcPath, s.id, 'rootfs', 'root', 'moved.txt'), 'utf8')).toBe('written on A\n');
      await a.migrateCleanup(s.id);
      expect(existsSync(join(a.lxcPath, s.id))).toBe(false);
      await expect(b.migrateAbort(s.id, 'destination')).rejects.toMatchObject({ code: 'Conflict' }); // committed
      console.log(`lxc offline migration (busybox): ${stats.totalMs} ms, down ${stats.downtimeMs} ms before the handover, ${stats.transferredBytes} bytes`);
      await b.destroy(s.id);
    });

    it('refuses a wrong token, keeps the source, and an abort on both sides leaves it running on A only', async () => {
      const s = spec();
      await a.create(s);
      await a.start(s.id);
      const target = await b.migrateReceive(s, { mode: 'offline' });
      const forged = { ...target, token: target.token!.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) };
      await expect(a.migrateSend(s.id, forged)).rejects.toMatchObject({ message: expect.stringMatching(/bad token/) });
      expect(lxcState(a.lxcPath, s.id)).toBe('RUNNING'); // a failed send starts it again
      await b.migrateAbort(s.id, 'destination');
      expect(readdirSync(join(root, 'b', 'migrations'))).toEqual([]);
      expect(await a.migrateAbort(s.id, 'source')).toMatchObject({ state: 'running' });
      await expect(a.migrateCleanup(s.id)).rejects.toMatchObject({ code: 'Conflict' }); // never removes the only copy
      await a.destroy(s.id);
    });

    it('a failure after the send: abort destination (received archive removed), then source (started again)', async () => {
      const s = spec();
      await a.create(s);
      await a.start(s.id);
      const target = await b.migrateReceive(s, { mode: 'offline' });
      await a.migrateSend(s.id, target);
      expect(lxcState(a.lxcPath, s.id)).toBe('STOPPED');
      await b.migrateAbort(s.id, 'destination');
      expect(existsSync(join(b.lxcPath, s.id))).toBe(false);
      expect(await a.migrateAbort(s.id, 'source')).toMatchObject({ state: 'running' });
      expect(lxcState(a.lxcPath, s.id)).toBe('RUNNING');
      expect(lxcState(b.lxcPath, s.id)).toBeUndefined();
      await a.destroy(s.id);
    });
  });
}
