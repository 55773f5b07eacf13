import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ApiClient, MIXED_FLEET, startStack, Stack, waitFor } from '@hyperplane/testing';
import { CHROMIUM, launchChromium, newPortalContext, screenshot, signIn } from './support/browser';

// CI installs Debian's chromium (.ci/run); elsewhere the suite stands aside without it, unless
// HYPERPLANE_REQUIRE_REAL_DRIVERS=1, which makes a missing tool a failure (as for the real drivers).
const REQUIRE = process.env.HYPERPLANE_REQUIRE_REAL_DRIVERS === '1';
const noBrowser = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set HYPERPLANE_CHROMIUM)`;

// The admin portal in a real Chromium against a real stack (PostgreSQL, Redis, simulated hosts).
describe('the admin portal in a browser', () => {
  if (noBrowser) {
    if (REQUIRE) {
      it('has a Chromium to drive, as HYPERPLANE_REQUIRE_REAL_DRIVERS=1 demands', () => {
        throw new Error(`HYPERPLANE_REQUIRE_REAL_DRIVERS=1 but ${noBrowser}`);
      });
    } else {
      console.warn(`portal.e2e-spec: skipped: ${noBrowser}`);
      it.skip(`drives the portal in Chromium (skipped: ${noBrowser})`, () => undefined);
    }
    return;
  }
  let stack: Stack;
  let admin: ApiClient;
  let browser: Browser;
  let page: Page;
  let viewerToken: string;
  let projectToken: string;

  beforeAll(async () => {
    if (!existsSync(join(__dirname, '..', 'dist', 'portal', 'index.html'))) throw new Error('dist/portal is missing: run npm run build first');
    stack = await startStack({ simHosts: MIXED_FLEET });
    admin = stack.client;
    await stack.waitForHosts(MIXED_FLEET.length);
    expect((await admin.post('/v1/projects', { name: 'team-a' })).status).toBe(201);
    viewerToken = (await admin.post('/v1/tokens', { name: 'auditor', role: 'viewer' })).body.token;
    projectToken = (await admin.post('/v1/tokens', { name: 'team-a operator', role: 'operator', project: 'team-a' })).body.token;
    // Something of another project, and something of team-a, so the project token has a contrast.
    await admin.createAndWait({ name: 'other-app', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } }, 60);
    await admin.createAndWait({ name: 'team-a-web', project: 'team-a', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } }, 60);
    // A fleet with something on it for the overview: containers and VMs of several OSes.
    for (const [namePrefix, count, template, technology, vcpus, memoryMiB] of [
      ['web', 8, 'ubuntu-24.04', 'auto', 2, 2048],
      ['win', 3, 'windows-server-2022', 'vm', 4, 8192],
    ] as const) {
      const r = await admin.post('/v1/instances/batch', { count, namePrefix, spec: { template, technology, resources: { vcpus, memoryMiB, diskGiB: 20 } } });
      expect(r.status).toBe(202);
    }
    browser = await launchChromium();
    page = await (await newPortalContext(browser, stack.url)).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('serves the portal at / with a CSP and its routes, and leaves /v1 and /healthz to the API', async () => {
    const root = await fetch(`${stack.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toMatch(/text\/html/);
    expect(root.headers.get('cache-control')).toBe('no-cache');
    expect(root.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${stack.url}/instances/some-id?state=running`)).status).toBe(200);
    const html = await root.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${stack.url}${asset}`);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    // Never the SPA where the API answers: unknown /v1 paths stay problem+json 404s.
    const v1 = await fetch(`${stack.url}/v1/nothing-here`, { headers: { Authorization: `Bearer ${admin.token}` } });
    expect(v1.status).toBe(404);
    expect(v1.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await fetch(`${stack.url}/healthz`)).headers.get('content-type')).toMatch(/json/);
    expect((await fetch(`${stack.url}/assets/../../package.json`)).status).toBe(404);
  });

  it('signs in with an API token and shows the overview', async () => {
    await page.goto('/');
    await page.getByLabel('API token').waitFor();
    await screenshot(page, '01-sign-in');
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This token is not valid').waitFor();
    await signIn(page, admin.token);
    await page.getByText('Hosts by OS and status').waitFor();
    await page.getByText('Density: containers vs VMs per host').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('hyperplane.token')")).toBe(admin.token);
    expect(await page.evaluate("localStorage.getItem('hyperplane.token')")).toBeNull();
    await page.locator('[data-live="live"]').waitFor();
  });

  it('creates a container and a VM through the wizard and sees each reach running without a reload', async () => {
    for (const [name, technology] of [
      ['wiz-ct', 'Container'],
      ['wiz-vm', 'VM'],
    ] as const) {
      await page.getByRole('link', { name: 'Create' }).first().click();
      await page.locator('[data-page="create"]').waitFor();
      await page.locator('select[name="template"]').selectOption('ubuntu-24.04');
      await page.getByRole('radiogroup', { name: 'Technology' }).getByText(technology, { exact: true }).click();
      await page.locator('input[name="name"]').fill(name);
      await page.locator('[data-testid="preview"][data-ok="true"]').waitFor();
      await page.getByRole('button', { name: 'Create', exact: true }).click();
      await page.locator(`[data-testid="follow"][data-name="${name}"][data-instance-state="running"]`).waitFor({ timeout: 60_000 });
      if (technology === 'VM') await screenshot(page, '05-create');
    }
    const rows = (await admin.get('/v1/instances?limit=500')).body.items;
    expect(rows.find((i: any) => i.name === 'wiz-ct')).toMatchObject({ technology: 'container', state: 'running' });
    expect(rows.find((i: any) => i.name === 'wiz-vm')).toMatchObject({ technology: 'vm', state: 'running' });
  });

  it('explains in the preview why no host can take a request, and names the field the API refuses', async () => {
    // Beyond what any host could have: the API's 400 names the field, shown beside it.
    await page.locator('input[name="vcpus"]').fill('4096');
    await page.locator('[data-field="resources.vcpus"] .field-error').waitFor();
    // Valid, but more than any host has free: the preview says why nothing fits.
    await page.locator('input[name="vcpus"]').fill('400');
    const preview = page.locator('[data-testid="preview"][data-ok="false"]');
    await preview.waitFor();
    const text = await preview.innerText();
    expect(text).toMatch(/Why no host fits/);
    expect(text).toMatch(/6 hosts: lack 400 free vCPUs/);
    await screenshot(page, '06-preview-refused');
    // A name the API refuses: the error stands next to the name field.
    await page.locator('input[name="vcpus"]').fill('1');
    await page.locator('input[name="name"]').fill('Bad_Name');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.locator('[data-field="name"] .field-error').waitFor();
  });

  it('stops an instance from the instances table and follows the operation in the log', async () => {
    await page.getByRole('link', { name: 'Instances' }).click();
    const row = page.locator('[data-instance="wiz-ct"]');
    await row.waitFor();
    await screenshot(page, '03-instances');
    await row.getByRole('button', { name: 'stop wiz-ct' }).click();
    // The table updates from the event stream (no reload).
    await row.locator('[data-state="stopped"]').waitFor({ timeout: 30_000 });
    await page.getByRole('link', { name: 'Operations' }).click();
    await page.locator('tr[data-kind="stop"][data-status="succeeded"]').first().waitFor();
    await screenshot(page, '07-operations');
    const inst = (await admin.get('/v1/instances?limit=500')).body.items.find((i: any) => i.name === 'wiz-ct');
    expect(inst.state).toBe('stopped');
    await page.goto(`/instances/${inst.id}`);
    await page.getByText('Why it is here').waitFor();
    await page.locator('[data-testid="explanation"]').getByText(/scored/).waitFor();
    // A snapshot taken here shows up when its operation is done (from the event stream).
    await page.getByLabel('New snapshot').fill('before-upgrade');
    await page.getByRole('button', { name: 'Take' }).click();
    await page.getByRole('cell', { name: 'before-upgrade' }).waitFor();
    await screenshot(page, '04-instance');
  });

  it("reads a VM's console log on its page, and says when the driver offers none", async () => {
    const rows = (await admin.get('/v1/instances?limit=500')).body.items;
    const vm = rows.find((i: any) => i.name === 'wiz-vm');
    const ct = rows.find((i: any) => i.name === 'wiz-ct');
    await page.goto(`/instances/${vm.id}`);
    await page.locator('pre.console').getByText('wiz-vm login:').waitFor();
    await page.locator('pre.console').scrollIntoViewIfNeeded();
    await screenshot(page, '12-instance-console');
    await page.goto(`/instances/${ct.id}`);
    await page.getByText("This instance's driver offers no console log.").waitFor();
  });

  it('migrates a VM live to a host picked in the dialog, and an instance from its row to where the scheduler chooses', async () => {
    const hosts: any[] = (await admin.get('/v1/hosts')).body.items;
    const hostName = (id: string): string => hosts.find((h) => h.id === id)!.name;
    // A running x86_64 VM moved to lin-x86-2 (which the evacuation below empties), or, when every
    // one is there already (placement varies), wiz-vm from there to lin-x86-1.
    const vms = (await admin.get('/v1/instances?limit=500')).body.items.filter((i: any) => i.technology === 'vm' && i.state === 'running' && i.arch === 'x86_64');
    const away = vms.filter((i: any) => hostName(i.hostId) !== 'lin-x86-2');
    const vm = away.find((i: any) => i.name === 'wiz-vm') ?? away[0] ?? vms.find((i: any) => i.name === 'wiz-vm');
    expect(vm).toBeDefined();
    const to = hosts.find((h) => h.name === (hostName(vm.hostId) === 'lin-x86-2' ? 'lin-x86-1' : 'lin-x86-2'))!;
    await page.goto(`/instances/${vm.id}`);
    await page.getByRole('button', { name: 'Migrate…' }).click();
    const dialog = page.getByTestId('migrate-dialog');
    await dialog.waitFor();
    // A running VM on a driver that can: live by default.
    expect(await dialog.getByLabel('Live migration').isChecked()).toBe(true);
    // The picker offers ready hosts other than its own.
    const options = await dialog.getByLabel('Destination host').locator('option').allInnerTexts();
    expect(options.some((o) => o.startsWith(`${to.name} — `))).toBe(true);
    expect(options.some((o) => o.startsWith(`${hostName(vm.hostId)} — `))).toBe(false);
    await dialog.getByLabel('Destination host').selectOption(to.id);
    await screenshot(page, '16-migrate-dialog');
    await dialog.getByRole('button', { name: 'Migrate', exact: true }).click();
    const ended = dialog.locator('[data-testid="migration"]:is([data-status="succeeded"], [data-status="failed"], [data-status="cancelled"])');
    await ended.or(dialog.getByRole('alert')).first().waitFor({ timeout: 60_000 });
    expect(await dialog.locator('.dialog-body').innerText()).not.toMatch(/Not moved|Cancelled|Conflict|Bad Request/);
    await dialog.getByTestId('move').getByText(`moved from ${hostName(vm.hostId)} to ${to.name} (live)`, { exact: true }).waitFor();
    await screenshot(page, '17-migrated');
    expect((await admin.get(`/v1/instances/${vm.id}`)).body).toMatchObject({ hostId: to.id, state: 'running' });
    await dialog.getByRole('button', { name: 'Close' }).click();
    // The page follows: its host, and the move in its timeline.
    await page.locator('[data-page="instance"] .kv').getByRole('link', { name: to.name }).waitFor();
    await page.getByTestId('timeline-move').getByText(`moved from ${hostName(vm.hostId)} to ${to.name} (live)`).waitFor();

    // From the instances table: the scheduler chooses; a container moves offline (it cannot live).
    // One pinned to lin-x86-1 (placement varies between runs; an arm64 container has nowhere else to go).
    const pinned = hosts.find((h) => h.name === 'lin-x86-1')!;
    await admin.createAndWait({ name: 'mig-ct', template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 }, placement: { hostId: pinned.id } }, 60);
    const ct = (await admin.get('/v1/instances?limit=500')).body.items.find((i: any) => i.name === 'mig-ct');
    expect(ct).toMatchObject({ hostId: pinned.id, state: 'running' });
    await page.goto('/instances');
    await page.locator(`[data-instance="${ct.name}"]`).getByRole('button', { name: `migrate ${ct.name}` }).click();
    const rowDialog = page.getByTestId('migrate-dialog');
    expect(await rowDialog.getByLabel('Live migration').isChecked()).toBe(false);
    expect(await rowDialog.getByLabel('Live migration').isDisabled()).toBe(true);
    await screenshot(page, '23-migrate-from-row');
    await rowDialog.getByRole('button', { name: 'Migrate', exact: true }).click();
    const rowEnded = rowDialog.locator('[data-testid="migration"]:is([data-status="succeeded"], [data-status="failed"], [data-status="cancelled"])');
    await rowEnded.or(rowDialog.getByRole('alert')).first().waitFor({ timeout: 60_000 });
    expect(await rowDialog.locator('.dialog-body').innerText()).not.toMatch(/Not moved|Cancelled|Conflict|Bad Request/);
    const moved = (await admin.get(`/v1/instances/${ct.id}`)).body;
    expect(moved.state).toBe(ct.state);
    expect(moved.hostId).not.toBe(ct.hostId);
    await rowDialog.getByTestId('move').getByText(`moved from ${hostName(ct.hostId)} to ${hostName(moved.hostId)} (offline)`, { exact: true }).waitFor();
    await rowDialog.getByRole('button', { name: 'Close' }).click();
  });

  it('shows per-row results after a bulk start: which were queued, which were refused and why', async () => {
    await page.goto('/instances');
    await page.locator('[data-instance="wiz-ct"]').waitFor();
    await page.getByLabel('Select wiz-ct').check();
    await page.getByLabel('Select web-1').check();
    await page.getByRole('toolbar', { name: 'Bulk actions' }).getByRole('button', { name: 'Start' }).click();
    const results = page.getByRole('status', { name: 'Bulk action results' });
    await results.locator('[data-bulk-row="wiz-ct"][data-outcome="queued"]').waitFor();
    const refused = results.locator('[data-bulk-row="web-1"][data-outcome="refused"]');
    await refused.waitFor();
    expect(await refused.innerText()).toMatch(/409/);
    // The queued one's operation is followed to its end in the same row.
    await results.locator('[data-bulk-row="wiz-ct"] [data-state="succeeded"]').waitFor({ timeout: 30_000 });
    await screenshot(page, '13-bulk-results');
  });

  it("hides columns of the instances table, and the choice outlives a reload; templates' names are whole", async () => {
    await page.goto('/instances');
    await page.locator('[data-instance="win-1"]').waitFor();
    const template = page.locator('[data-instance="win-1"] [data-cell="template"]');
    expect(await template.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
    await page.getByTestId('columns-menu').locator('summary').click();
    await page.getByRole('group', { name: 'Shown columns' }).getByLabel('Project').uncheck();
    expect(await page.locator('[data-column="project"]').count()).toBe(0);
    await page.reload();
    await page.locator('[data-instance="win-1"]').waitFor();
    expect(await page.locator('[data-column="project"]').count()).toBe(0);
    expect(await page.locator('[data-column="host"]').count()).toBe(1);
    await page.getByTestId('columns-menu').locator('summary').click();
    await page.getByRole('group', { name: 'Shown columns' }).getByLabel('Project').check();
    await page.locator('[data-column="project"]').waitFor();
  });

  it("shows a batch's children with their statuses", async () => {
    await page.goto('/operations?kind=batch');
    await page.locator('tr[data-kind="batch"]').first().getByRole('link', { name: 'batch' }).click();
    await page.locator('[data-page="operation"]').waitFor();
    await page.locator('[data-status-count="succeeded"]').waitFor();
    const children = await page.locator('[data-page="operation"] tr[data-operation]').count();
    expect([3, 8]).toContain(children);
    await screenshot(page, '14-batch');
  });

  it("edits a project's placement policy in a form that shows the API's complaint beside the field", async () => {
    await page.goto('/admin?tab=projects&policy=team-a');
    const vcpus = page.locator('[data-field="ratios.vm.vcpus"]');
    await vcpus.locator('input').fill('999');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await vcpus.locator('.field-error').waitFor();
    await vcpus.locator('input').fill('4');
    await page.locator('[data-field="strategy"] select').selectOption('spread');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Saved.').waitFor();
    expect((await admin.get('/v1/projects/team-a/policy')).body.overrides).toEqual({ strategy: 'spread', ratios: { vm: { vcpus: 4 } } });
    await screenshot(page, '15-policy');
    await page.getByRole('tab', { name: 'Edit as JSON' }).click();
    expect(JSON.parse(await page.getByLabel('Policy override (JSON)').inputValue())).toEqual({ strategy: 'spread', ratios: { vm: { vcpus: 4 } } });
  });

  it('drains a host from the hosts page', async () => {
    await page.getByRole('link', { name: 'Hosts' }).click();
    const row = page.locator('tr[data-host="lin-x86-2"]');
    await row.waitFor();
    await row.getByRole('button', { name: 'drain lin-x86-2' }).click();
    const drain = page.getByTestId('drain-dialog');
    await drain.getByLabel('Reason (optional)').fill('firmware update');
    await drain.getByLabel('Minutes until the deadline').fill('30');
    expect(await drain.getByRole('radio').nth(1).isChecked()).toBe(true);
    await screenshot(page, '18-drain-dialog');
    await drain.getByRole('button', { name: 'Drain', exact: true }).click();
    await row.locator('[data-state="draining"]').waitFor();
    // The deadline, as a countdown beside the status.
    expect(await row.getByTestId('drain-deadline').innerText()).toMatch(/^deadline in (29|30) min$/);
    await screenshot(page, '08-hosts');
    const host = (await admin.get('/v1/hosts')).body.items.find((h: any) => h.name === 'lin-x86-2');
    expect(host.status).toBe('draining');
    expect(host.statusReason).toBe('firmware update');
    expect(Date.parse(host.drainDeadline) - Date.now()).toBeGreaterThan(28 * 60_000);
    await page.goto(`/hosts/${host.id}`);
    await page.getByText('Recent operations').waitFor();
    expect(await page.locator('h1').getByTestId('drain-deadline').innerText()).toMatch(/^deadline \S.* \(in (29|30) min\)$/);
    await screenshot(page, '09-host');
    await page.goto('/overview');
    await page.locator('.density-row').first().waitFor();
    await screenshot(page, '02-overview');
    await page.goto('/admin?tab=tokens');
    await page.getByText('Issue a token').waitFor();
    await screenshot(page, '10-admin');
    // An enrollment token's secret is shown once, right after it is made, and never again.
    await page.getByRole('tab', { name: 'Enrollment tokens' }).click();
    await page.locator('input[name="token-name"]').fill('rack-7');
    await page.getByRole('button', { name: 'Issue' }).click();
    const secret = (await page.getByTestId('secret').locator('code').innerText()).trim();
    expect(secret).toMatch(/^\S{20,}$/);
    await page.reload();
    await page.getByRole('cell', { name: 'rack-7' }).waitFor();
    expect(await page.getByTestId('secret').count()).toBe(0);
  });

  it('evacuates a host from its page and shows every move, from → to, as it happens', async () => {
    const hosts: any[] = (await admin.get('/v1/hosts')).body.items;
    const hostName = (id: string): string => hosts.find((h) => h.id === id)!.name;
    const host = hosts.find((h) => h.name === 'lin-x86-2')!;
    const on = (await admin.get(`/v1/instances?host=${host.id}&limit=500`)).body.items.filter((i: any) => i.state === 'running' || i.state === 'stopped');
    // A VM at least (the migration above saw to it): VMs move live, containers offline.
    const vm = on.find((i: any) => i.technology === 'vm');
    expect(vm).toBeDefined();
    await page.goto(`/hosts/${host.id}`);
    await page.getByRole('button', { name: 'evacuate lin-x86-2' }).click();
    const dialog = page.getByTestId('evacuate-dialog');
    await dialog.getByTestId('evacuate-count').getByText(`${on.length === 1 ? '1 instance' : `${on.length} instances`} will move off lin-x86-2`).waitFor();
    await screenshot(page, '19-evacuate-dialog');
    await dialog.getByRole('button', { name: `Move ${on.length} instance${on.length === 1 ? '' : 's'}` }).click();
    const card = page.getByTestId('evacuation');
    await card.locator('tr[data-move]').first().waitFor();
    await screenshot(page, '20-host-evacuating');
    await page.locator('[data-testid="evacuation"][data-status="succeeded"]').waitFor({ timeout: 90_000 });
    // Every instance that was here is in the table, from lin-x86-2 to where the API says it is now.
    for (const i of on) {
      const now = (await admin.get(`/v1/instances/${i.id}`)).body;
      expect(now.hostId).not.toBe(host.id);
      const row = card.locator(`tr[data-move="${i.name}"]`);
      await row.locator('[data-move-from="lin-x86-2"]').waitFor();
      expect(await row.locator('.move').getAttribute('data-move-to')).toBe(hostName(now.hostId));
      expect(await row.getAttribute('data-status')).toBe('succeeded');
      expect(await row.locator('td').nth(2).innerText()).toBe(i.technology === 'vm' ? 'live' : 'offline');
    }
    expect(await card.locator('tr[data-move]').count()).toBe(on.length);
    await page.getByText('No instance runs here.').waitFor();
    await screenshot(page, '21-host-evacuated');
    // The evacuation's own page names the instances and the hosts of its children, not id prefixes.
    const evacuation = await card.getAttribute('data-operation');
    await page.goto(`/operations/${evacuation}`);
    const child = page.locator('[data-page="operation"] tr[data-kind="migrate"]').filter({ hasText: vm.name });
    await child.locator('[data-move-from="lin-x86-2"]').waitFor();
    expect(await child.locator('.move').getAttribute('data-move-to')).toBe(hostName((await admin.get(`/v1/instances/${vm.id}`)).body.hostId));
    await screenshot(page, '22-evacuation-operation');
  });

  it('shows a viewer token no action', async () => {
    const ctx = await newPortalContext(browser, stack.url, 'dark');
    const p = await ctx.newPage();
    try {
      await signIn(p, viewerToken);
      await p.goto('/instances');
      await p.locator('[data-instance="wiz-vm"]').waitFor();
      await screenshot(p, '11-instances-viewer-dark');
      expect(await p.locator('[data-page="instances"] button').count()).toBe(0);
      // No selection boxes (the column menu's boxes choose what is shown, not what to act on).
      expect(await p.locator('[data-page="instances"] [role="table"] input[type="checkbox"]').count()).toBe(0);
      expect(await p.getByRole('toolbar', { name: 'Bulk actions' }).count()).toBe(0);
      expect(await p.getByRole('link', { name: 'Create' }).count()).toBe(0);
      expect(await p.getByRole('link', { name: 'Administration' }).count()).toBe(0);
      await p.goto('/hosts');
      await p.locator('tr[data-host="lin-x86-1"]').waitFor();
      expect(await p.locator('[data-page="hosts"] button').count()).toBe(0);
      // A host's page: its evacuation is shown, but no drain, evacuate or activate.
      await p.locator('tr[data-host="lin-x86-2"]').getByRole('link', { name: 'lin-x86-2' }).click();
      await p.getByTestId('evacuation').waitFor();
      expect(await p.locator('[data-page="host"] button').count()).toBe(0);
    } finally {
      await ctx.close();
    }
  });

  it("shows a project token only its project's instances and no hosts", async () => {
    const ctx = await newPortalContext(browser, stack.url);
    const p = await ctx.newPage();
    try {
      await signIn(p, projectToken);
      await p.getByTestId('who').getByText('project team-a').waitFor();
      await p.goto('/instances');
      await p.locator('[data-instance="team-a-web"]').waitFor();
      expect(await p.locator('[data-instance]').count()).toBe(1);
      expect(await p.getByRole('link', { name: 'Hosts' }).count()).toBe(0);
      // An operator of the project may act on its own instances.
      expect(await p.getByRole('button', { name: 'stop team-a-web' }).count()).toBe(1);
    } finally {
      await ctx.close();
    }
  });

  it('answers /v1/session and /v1/overview with what the token may see', async () => {
    const project = admin.as(projectToken);
    expect((await project.get('/v1/session')).body).toMatchObject({ role: 'operator', fleetWide: false, projects: [{ name: 'team-a' }] });
    const o = (await project.get('/v1/overview')).body;
    expect(o.hosts).toBeNull();
    expect(o.density).toBeNull();
    expect(o.instances.reduce((s: number, r: any) => s + r.count, 0)).toBe(1);
    const all = (await admin.get('/v1/overview')).body;
    expect(all.hosts.reduce((s: number, r: any) => s + r.count, 0)).toBe(MIXED_FLEET.length);
    const vmHost = all.density.find((d: any) => d.vms > 0);
    expect(vmHost.overheadMemoryMiB).toBeGreaterThan(0);
    await waitFor('no operation in flight', async () => (await admin.get('/v1/overview')).body.operationsInFlight.length === 0, 30_000);
  });
});
