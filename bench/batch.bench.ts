// End to end at fleet scale: N instances through POST /v1/instances/batch onto H simulated
// hosts (one agent process standing in for all of them). Prints how fast placements are
// persisted (children leaving `queued`, with their host claimed) and how long until every
// instance runs. Not a test. Usage:
//   npm run bench:batch -- [--hosts 10000] [--instances 100000] [--progress]
import { existsSync, readFileSync } from 'node:fs';
import { Client } from 'pg';
import { simFleet } from '@hyperplane/agent';
import { call, startBenchStack } from './bench-stack';

/** CPU seconds the whole machine has spent so far (user + system, every process), or NaN off Linux. */
function machineCpuSeconds(): number {
  if (!existsSync('/proc/stat')) return NaN;
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / 100; // USER_HZ
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const hosts = arg('hosts', 10_000);
  const instances = arg('instances', 100_000);
  const perBatch = Math.min(10_000, instances);
  const progress = process.argv.includes('--progress');
  const t00 = performance.now();
  const stack = await startBenchStack({ hosts: simFleet(hosts), timeScale: 0 });
  console.log(`fleet hosts=${hosts} ready_s=${((performance.now() - t00) / 1000).toFixed(1)}`);
  const pg = new Client({ connectionString: stack.config.DATABASE_URL });
  await pg.connect();
  try {
    const t0 = performance.now();
    const cpu0 = machineCpuSeconds();
    // Requests are sent one after another, as a provider's automation would; placement of the
    // first batches overlaps the acceptance of the later ones.
    for (let k = 0; k * perBatch < instances; k++) {
      const r = await call(stack.url, 'POST', '/v1/instances/batch', {
        count: Math.min(perBatch, instances - k * perBatch),
        namePrefix: `b${k}`,
        spec: { template: k % 3 === 2 ? 'alpine-3.20' : 'ubuntu-24.04', technology: k % 4 === 3 ? 'vm' : 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } },
      });
      if (r.status !== 202) throw new Error(`batch ${k}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const accepted = performance.now();
    let placedAt = 0;
    let firstPlacedAt = 0;
    let lastPrinted = 0;
    for (;;) {
      // Only the active rows (a partial index holds them): the monitor must not load the database it measures.
      const { rows } = await pg.query<{ queued: number; active: number }>(
        `SELECT count(*) FILTER (WHERE status = 'queued')::int AS queued, count(*)::int AS active
         FROM operations WHERE status IN ('queued', 'running') AND parent_id IS NOT NULL`,
      );
      const { queued, active } = rows[0]!;
      const now = performance.now();
      if (progress && now - lastPrinted >= 1000) {
        lastPrinted = now;
        console.log(`t=${((now - t0) / 1000).toFixed(1)}s queued=${queued} active=${active}`);
      }
      if (!firstPlacedAt && queued < instances) firstPlacedAt = now;
      if (!placedAt && queued === 0) placedAt = now;
      if (active === 0 && placedAt) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const done = performance.now();
    const cpu = machineCpuSeconds() - cpu0;
    const { rows: states } = await pg.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM instances GROUP BY state ORDER BY state`);
    // The figures depend on it: with the default 128 MB the working set does not fit.
    const { rows: buffers } = await pg.query<{ shared_buffers: string }>('SHOW shared_buffers');
    const { rows: drift } = await pg.query<{ n: number }>(`
      SELECT count(*)::int AS n FROM (
        SELECT h.id FROM hosts h LEFT JOIN instances i ON i.host_id = h.id GROUP BY h.id
        HAVING h.alloc_memory_mib <> COALESCE(SUM(i.claim_memory_mib), 0) OR h.alloc_instances <> COUNT(i.id)) d`);
    console.log(
      `batch hosts=${hosts} instances=${instances} accept_per_s=${(instances / ((accepted - t0) / 1000)).toFixed(0)}` +
        ` placements_persisted_per_s=${(instances / ((placedAt - t0) / 1000)).toFixed(0)}` +
        ` placement_window_per_s=${(instances / ((placedAt - firstPlacedAt) / 1000)).toFixed(0)}` +
        ` all_running_s=${((done - t0) / 1000).toFixed(1)} machine_cpu_ms_per_instance=${((cpu * 1000) / instances).toFixed(3)}` +
        ` hosts_with_allocation_drift=${drift[0]!.n} requeued_as_stalled=${stack.requeued()} states=${JSON.stringify(states)} pg_shared_buffers=${buffers[0]!.shared_buffers}`,
    );
  } finally {
    await pg.end();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
