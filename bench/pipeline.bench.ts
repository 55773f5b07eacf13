// The whole pipeline on simulated hosts: HTTP → PostgreSQL + outbox → relay → BullMQ →
// placement + capacity claim → host queue → agent (sim driver) → results → guarded transition.
// Prints figures; it is not a test. Usage: npm run bench:pipeline [-- --quick]
import { cpus } from 'node:os';
import { simFleet } from '@hyperplane/agent';
import { call, percentile, pool, startBenchStack } from './bench-stack';

const quick = process.argv.includes('--quick');

async function latency(timeScale: number, count: number): Promise<void> {
  const stack = await startBenchStack({ hosts: simFleet(20), timeScale });
  try {
    const times: number[] = [];
    const steps: number[] = [];
    // 10 requests in flight: a steady trickle, not a flood.
    await pool(count, 10, async (i) => {
      const t0 = performance.now();
      const post = await call(stack.url, 'POST', '/v1/instances', {
        name: `lat-${i}`,
        template: 'debian-12',
        technology: 'container',
        resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 },
      });
      if (post.status !== 202) throw new Error(`POST: ${post.status} ${JSON.stringify(post.body)}`);
      steps.push(performance.now() - t0);
      const done = await call(stack.url, 'GET', `/v1/operations/${post.body.id}/wait?timeoutS=60`);
      if (done.body.status !== 'succeeded') throw new Error(`operation ${post.body.id}: ${JSON.stringify(done.body)}`);
      times.push(performance.now() - t0);
    });
    times.sort((a, b) => a - b);
    steps.sort((a, b) => a - b);
    console.log(
      `post_to_running container sim_time_scale=${timeScale} n=${count} p50_ms=${percentile(times, 50).toFixed(1)} p99_ms=${percentile(times, 99).toFixed(1)} max_ms=${times[times.length - 1]!.toFixed(1)} post_202_p50_ms=${percentile(steps, 50).toFixed(1)} requeued_as_stalled=${stack.requeued()}`,
    );
  } finally {
    await stack.stop();
  }
}

async function throughput(hosts: number, ops: number, width: number): Promise<void> {
  const stack = await startBenchStack({ hosts: simFleet(hosts), timeScale: 0 });
  try {
    const ids: string[] = [];
    const t0 = performance.now();
    await pool(ops, width, async (i) => {
      const post = await call(stack.url, 'POST', '/v1/instances', {
        name: `tp-${i}`,
        template: i % 3 === 0 ? 'windows-server-2022' : 'ubuntu-24.04',
        technology: i % 2 ? 'vm' : 'container',
        resources: { vcpus: 1, memoryMiB: 512, diskGiB: 5 },
      });
      if (post.status !== 202) throw new Error(`POST: ${post.status} ${JSON.stringify(post.body)}`);
      ids.push(post.body.id);
    });
    const accepted = performance.now() - t0;
    let succeeded = 0;
    await pool(ids.length, 50, async (i) => {
      const done = await call(stack.url, 'GET', `/v1/operations/${ids[i]}/wait?timeoutS=300`);
      if (done.body.status === 'succeeded') succeeded++;
    });
    const total = performance.now() - t0;
    console.log(
      `pipeline hosts=${hosts} creates=${ops} http_width=${width} succeeded=${succeeded} accepted_per_s=${((ops / accepted) * 1000).toFixed(0)} completed_ops_per_s=${((succeeded / total) * 1000).toFixed(0)} wall_s=${(total / 1000).toFixed(1)} requeued_as_stalled=${stack.requeued()}`,
    );
  } finally {
    await stack.stop();
  }
}

async function main(): Promise<void> {
  console.log(`node=${process.version} cpus=${cpus().length}`);
  await latency(1, quick ? 50 : 200);
  await latency(0, quick ? 50 : 200);
  await throughput(100, quick ? 500 : 3000, 32);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
