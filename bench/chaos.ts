// The long chaos run: `npm run bench:chaos -- --faults 1000 [--seed N] [--hosts 100]`. Prints
// faults by kind, operations accepted and how they ended, the time to quiesce after the last
// fault, and every invariant (exit code 1 when one is violated). The seed it prints replays the
// same fault and workload sequences (timings on a shared machine still vary).
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { createBenchDatabase } from './bench-stack';
import { formatReport, runChaos } from './chaos-harness';
import { startRedisServer } from './processes';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const seed = arg('seed', Number(process.env.CHAOS_SEED ?? randomBytes(4).readUInt32LE() % 1_000_000));
  const faults = arg('faults', 1000);
  console.log(`chaos bench: seed ${seed} (replay with --seed ${seed}), ${faults} faults`);
  const db = await createBenchDatabase('chaos');
  const redis = await startRedisServer();
  const started = Date.now();
  try {
    const report = await runChaos({
      seed,
      faults,
      database: { url: db.url, name: db.name },
      redisUrl: redis.url,
      hosts: arg('hosts', 100),
      timeScale: arg('time-scale', 0.05),
      gapMs: [arg('gap-min', 150), arg('gap-max', 700)],
      quiesceTimeoutMs: arg('quiesce-timeout', 300) * 1000,
      kindWaitMs: arg('kind-wait', 5) * 1000,
      log: (l) => console.log(`${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s  ${l}`),
    });
    console.log(formatReport(report));
    if (report.crashOutput.length) console.log(`\nwhat the processes that died by themselves said last:\n${report.crashOutput.join('\n')}`);
    console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
    process.exitCode = report.ok ? 0 : 1;
  } finally {
    await redis.stop();
    await db.drop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
