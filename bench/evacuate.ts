// Evacuation at fleet scale: N instances (half VMs, moved live; half containers, moved offline)
// on one simulated host, then POST /v1/hosts/{id}/actions/evacuate onto H others. Prints the
// evacuation's wall time and moves per second. Not a test. Usage:
//   npm run bench:evacuate -- [--instances 200] [--hosts 4] [--time-scale 0.01]
import { SimHostSpec } from '@hyperplane/agent';
import { call, startBenchStack } from './bench-stack';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function host(key: string): SimHostSpec {
  return { key, os: 'linux', arch: 'x86_64', osVersion: 'Debian GNU/Linux 12 (bookworm)', kernel: '6.1.0-25-amd64', capacity: { vcpus: 2048, memoryMiB: 2_097_152, diskGiB: 100_000 } };
}

async function wait(url: string, id: string): Promise<any> {
  for (;;) {
    const r = await call(url, 'GET', `/v1/operations/${id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(r.body.status)) return r.body;
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function main(): Promise<void> {
  const instances = arg('instances', 200);
  const others = arg('hosts', 4);
  const timeScale = arg('time-scale', 0.01);
  const stack = await startBenchStack({ hosts: [host('src'), ...Array.from({ length: others }, (_, i) => host(`dst-${i + 1}`))], timeScale });
  try {
    let hosts: any[] = [];
    while (hosts.length < others + 1) {
      hosts = (await call(stack.url, 'GET', '/v1/hosts?limit=100')).body.items.filter((h: any) => h.status === 'ready');
      await new Promise((res) => setTimeout(res, 200));
    }
    const src = hosts.find((h) => h.name === 'src').id as string;
    const vms = Math.floor(instances / 2);
    for (const [prefix, count, spec] of [
      ['vm', vms, { template: 'debian-12', technology: 'vm' }],
      ['ct', instances - vms, { template: 'alpine-3.20', technology: 'container' }],
    ] as const) {
      const r = await call(stack.url, 'POST', '/v1/instances/batch', { count, namePrefix: prefix, spec: { ...spec, resources: { vcpus: 1, memoryMiB: 256, diskGiB: 2 }, placement: { hostId: src } } });
      if (r.status !== 202) throw new Error(`batch ${prefix}: ${r.status} ${JSON.stringify(r.body)}`);
      const done = await wait(stack.url, r.body.id);
      if (done.status !== 'succeeded') throw new Error(`batch ${prefix} ${done.status}: ${JSON.stringify(done.error)}`);
    }
    const t0 = performance.now();
    const r = await call(stack.url, 'POST', `/v1/hosts/${src}/actions/evacuate`);
    if (r.status !== 202) throw new Error(`evacuate: ${r.status} ${JSON.stringify(r.body)}`);
    const parent = await wait(stack.url, r.body.id);
    const seconds = (performance.now() - t0) / 1000;
    const moved = Number(parent.result?.succeeded ?? 0);
    console.log(
      `evacuate instances=${instances} hosts=${others} time_scale=${timeScale} status=${parent.status} moved=${moved} failed=${parent.result?.failed ?? 0} ` +
        `seconds=${seconds.toFixed(1)} moves_per_s=${(moved / seconds).toFixed(1)} requeued_as_stalled=${stack.requeued()}`,
    );
  } finally {
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
