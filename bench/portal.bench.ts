// The portal in Chromium over a fleet of 10,000 instances: time to first render of the
// overview and of the instances table (first rows, then every row loaded), frame times while
// scrolling the whole table, and the bundle's size gzipped. Not a test. Usage:
//   npm run bench:portal -- [--instances 10000] [--hosts 100]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { simFleet } from '@hyperplane/agent';
import { ADMIN, call, startBenchStack } from './bench-stack';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function bundleSizes(): { raw: number; gzip: number } {
  const dir = join(__dirname, '..', 'portal', 'assets');
  let raw = 0;
  let gzip = 0;
  for (const f of readdirSync(dir)) {
    const body = readFileSync(join(dir, f));
    raw += body.length;
    gzip += gzipSync(body, { level: 9 }).length;
  }
  return { raw, gzip };
}

// Runs in the page (as a string: this file is compiled without the DOM's types).
const SCROLL = `(async () => {
  const el = document.querySelector('[data-testid="instances-scroll"]');
  const out = [];
  let last = performance.now();
  while (el.scrollTop + el.clientHeight < el.scrollHeight) {
    el.scrollTop += 600;
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    out.push(now - last);
    last = now;
  }
  return out;
})()`;

async function main(): Promise<void> {
  const instances = arg('instances', 10_000);
  const hosts = arg('hosts', 100);
  const size = bundleSizes();
  console.log(`bundle js+css raw_kb=${(size.raw / 1024).toFixed(1)} gzip_kb=${(size.gzip / 1024).toFixed(1)}`);
  const stack = await startBenchStack({ hosts: simFleet(hosts), timeScale: 0 });
  const browser = await chromium.launch({
    executablePath: process.env.HYPERPLANE_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    for (let k = 0; k * 10_000 < instances; k++) {
      const r = await call(stack.url, 'POST', '/v1/instances/batch', {
        count: Math.min(10_000, instances - k * 10_000),
        namePrefix: `p${k}`,
        spec: { template: k % 2 ? 'alpine-3.20' : 'ubuntu-24.04', technology: 'auto', resources: { vcpus: 1, memoryMiB: 128, diskGiB: 1 } },
      });
      if (r.status !== 202) throw new Error(`batch: ${r.status} ${JSON.stringify(r.body)}`);
    }
    for (;;) {
      const o = await call(stack.url, 'GET', '/v1/overview');
      const settled = (o.body.instances as { state: string; count: number }[]).filter((r) => r.state === 'running').reduce((s, r) => s + r.count, 0);
      if (settled >= instances && o.body.operationsInFlight.length === 0) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const page = await (await browser.newContext({ baseURL: stack.url, viewport: { width: 1440, height: 900 } })).newPage();
    await page.goto('/');
    await page.getByLabel('API token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-page="overview"]').waitFor();

    const timeTo = async (path: string, selector: string): Promise<number> => {
      const t0 = performance.now();
      await page.goto(path);
      await page.locator(selector).first().waitFor({ timeout: 120_000 });
      return performance.now() - t0;
    };
    for (let run = 0; run < 2; run++) {
      const overview = await timeTo('/overview', '[data-page="overview"] .stat');
      const t0 = performance.now();
      await page.goto('/instances');
      await page.locator('[data-instance]').first().waitFor({ timeout: 120_000 });
      const firstRows = performance.now() - t0;
      await page.getByText(`${instances} of ${instances}`).waitFor({ timeout: 120_000 });
      const allRows = performance.now() - t0;
      console.log(`run=${run + 1} overview_first_render_ms=${overview.toFixed(0)} instances_first_rows_ms=${firstRows.toFixed(0)} instances_all_${instances}_loaded_ms=${allRows.toFixed(0)}`);
    }
    // Scroll the whole table, 600 px a frame, and keep every frame's duration.
    const frames: number[] = await page.evaluate<number[]>(SCROLL);
    frames.sort((a, b) => a - b);
    const p = (q: number): string => (frames[Math.min(frames.length - 1, Math.floor(q * frames.length))] ?? NaN).toFixed(1);
    console.log(`scroll frames=${frames.length} p50_ms=${p(0.5)} p95_ms=${p(0.95)} max_ms=${frames[frames.length - 1]?.toFixed(1)} rows_in_dom=${await page.locator('[data-instance]').count()}`);
  } finally {
    await browser.close();
    await stack.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
