// Live migration of the tiny-linux VM between two "hosts" on this machine: two QemuDrivers with
// separate state directories (nothing shared but the template image directory). Boots one VM on
// host A, then moves it A→B→A… `--rounds` times through the four driver steps the agents run
// (prepare on the destination, send from the source, finish on the destination, clean up on the
// source), and prints per round: total time (the source's send), QEMU's measured downtime, the
// bytes sent, and the whole four-step round trip. Needs qemu-system-x86_64, qemu-img and the
// tiny-linux image (scripts/build-tiny-linux.sh). Everything it starts is killed and removed.
// Usage: npm run bench:migration [-- --rounds 3 --memory 256 --bandwidth-mib 0 --downtime-ms 0]
import { mkdtemp, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceSpec, QemuDriver, TINY_LINUX_TEMPLATE, resolveImageDir } from '@hyperplane/drivers';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const ROUNDS = Number(flag('rounds', '3'));
const MEMORY_MIB = Number(flag('memory', '256'));
const BANDWIDTH_MIB = Number(flag('bandwidth-mib', '0'));
const DOWNTIME_MS = Number(flag('downtime-ms', '0'));
const MiB = 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'hp-bench-mig-'));
  const tuning = { ...(BANDWIDTH_MIB > 0 ? { maxBandwidth: BANDWIDTH_MIB * MiB } : {}), ...(DOWNTIME_MS > 0 ? { downtimeLimitMs: DOWNTIME_MS } : {}) };
  const hosts = ['a', 'b'].map((h) => new QemuDriver({ stateDir: join(root, h), hostOs: 'linux', hostArch: 'x86_64', imageDir: resolveImageDir(), migration: tuning }));
  const spec: InstanceSpec = { id: randomUUID(), name: 'bench-migrant', template: TINY_LINUX_TEMPLATE, technology: 'vm', arch: 'x86_64', resources: { vcpus: 1, memoryMiB: MEMORY_MIB, diskGiB: 1 } };
  const rows: { total: number; downtime: number; mib: number; round: number }[] = [];
  try {
    const t0 = Date.now();
    await hosts[0]!.create(spec);
    const booted = await hosts[0]!.start(spec.id);
    console.log(`tiny-linux ${MEMORY_MIB} MiB booted on host a in ${Date.now() - t0} ms (${String(booted.details?.accelerator)})`);
    for (let r = 0; r < ROUNDS; r++) {
      const [from, to] = r % 2 === 0 ? [hosts[0]!, hosts[1]!] : [hosts[1]!, hosts[0]!];
      const start = Date.now();
      const target = await to.migrateReceive(spec, { mode: 'live' });
      const stats = await from.migrateSend(spec.id, target);
      const finished = await to.migrateFinish(spec.id);
      await from.migrateCleanup(spec.id);
      const round = Date.now() - start;
      if (finished.state !== 'running') throw new Error(`round ${r + 1}: the VM is ${finished.state} on the destination`);
      rows.push({ total: stats.totalMs, downtime: stats.downtimeMs ?? NaN, mib: (stats.transferredBytes ?? 0) / MiB, round });
      console.log(
        `round ${r + 1} ${r % 2 === 0 ? 'a→b' : 'b→a'}: send ${stats.totalMs} ms, downtime ${stats.downtimeMs} ms, ${((stats.transferredBytes ?? 0) / MiB).toFixed(1)} MiB; prepare+send+finish+cleanup ${round} ms`,
      );
    }
    console.log(
      `live migration of tiny-linux (${MEMORY_MIB} MiB, ${ROUNDS} rounds): median total ${median(rows.map((x) => x.total))} ms, median downtime ${median(rows.map((x) => x.downtime))} ms, median round trip ${median(rows.map((x) => x.round))} ms`,
    );
  } finally {
    for (const h of hosts) for (const s of await h.list().catch(() => [])) await h.destroy(s.id).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
