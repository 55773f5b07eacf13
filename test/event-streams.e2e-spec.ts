import { readFileSync } from 'node:fs';
import { createConnection, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { EventRepository } from '@hyperplane/db';
import { ADMIN_TOKEN, followEvents, freePort, freshDatabase, Proc, REDIS_URL, spawnApp, startStack, Stack, dropRedisPrefix, waitFor } from '@hyperplane/testing';

// /v1/events must not let its clients exhaust the API: replay reads in SQL only what the token
// may see, a page at a time; readers that stop reading are dropped; a token holds a bounded
// number of streams; event ids out of range are 400s.

const MiB = 1024 * 1024;

/** Resident memory of a process, from /proc. */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/** The kernel's TCP table (this network namespace): local and remote port, state, bytes waiting to be read. */
function tcpTable(): { localPort: number; remotePort: number; state: string; rxQueue: number }[] {
  const rows = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 5) continue;
      const port = (address: string): number => parseInt(address.split(':')[1]!, 16);
      rows.push({ localPort: port(cols[1]!), remotePort: port(cols[2]!), state: cols[3]!, rxQueue: parseInt(cols[4]!.split(':')[1]!, 16) });
    }
  }
  return rows;
}

/** Connections the server holds on `port` in state ESTABLISHED. */
const establishedOn = (port: number): number => tcpTable().filter((r) => r.localPort === port && r.state === '01').length;
/** Client connections to `port` with data waiting, unread, in their socket. */
const unreadFrom = (port: number): number => tcpTable().filter((r) => r.remotePort === port && r.rxQueue > 0).length;

/** A client that asks for a replay and then never reads. */
function stalledReader(port: number, path: string): Socket {
  const socket = createConnection({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined); // a reset after being dropped is expected
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nAccept: text/event-stream\r\n\r\n`);
  socket.pause();
  return socket;
}

/** Opens a stream and reads only the status and headers; `close()` hangs up. */
async function openStream(url: string, token: string, query = '', headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any; close: () => void }> {
  const controller = new AbortController();
  const res = await fetch(`${url}/v1/events${query}`, { headers: { Authorization: `Bearer ${token}`, ...headers }, signal: controller.signal });
  const body = res.status === 200 ? null : await res.json();
  return { status: res.status, headers: res.headers, body, close: () => controller.abort() };
}

describe('event streams cannot exhaust the API', () => {
  describe('fifty readers that ask for a replay and never read', () => {
    const EVENTS = 6000;
    const READERS = 50;
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    let api: Proc;
    let port: number;
    let url: string;
    const prefix = `hpt${randomBytes(4).toString('hex')}`;
    const sockets: Socket[] = [];

    beforeAll(async () => {
      db = await freshDatabase();
      const { Client } = await import('pg');
      const sql = new Client({ connectionString: db.url });
      await sql.connect();
      // About 1 KiB each: one full replay is some 7 MiB, far more than the kernel's socket buffers hold.
      await sql.query(
        `INSERT INTO events (type, subject_type, subject_id, project_id, data)
         SELECT 'host.status', 'host', gen_random_uuid(), NULL, jsonb_build_object('n', n, 'pad', repeat('x', 1000)) FROM generate_series(1, $1) n`,
        [EVENTS],
      );
      await sql.end();
      port = await freePort();
      url = `http://127.0.0.1:${port}`;
      api = spawnApp('api', {
        DATABASE_URL: db.url,
        REDIS_URL,
        HYPERPLANE_REDIS_PREFIX: prefix,
        PORT: String(port),
        HYPERPLANE_BIND: '127.0.0.1',
        HYPERPLANE_ADMIN_TOKEN: ADMIN_TOKEN,
        HYPERPLANE_MIGRATE: 'false',
        HYPERPLANE_EVENTS_MAX_PER_TOKEN: String(READERS + 5),
        HYPERPLANE_EVENTS_STALL_S: '5',
      });
      await waitFor(`the api to answer (it said: ${api.output()})`, async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok, 30_000);
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await api?.stop();
      await dropRedisPrefix(REDIS_URL, prefix).catch(() => undefined);
      await db?.drop();
    });

    it('keeps the memory of the API bounded, answers /healthz promptly, and drops them', async () => {
      // A reader that reads: the whole replay arrives (and warms the process up before measuring).
      const reading = followEvents(url, ADMIN_TOKEN, '?since=0');
      await waitFor('a full replay', async () => reading.events.length >= EVENTS, 60_000);
      reading.stop();
      const before = rss(api.child.pid!);

      for (let i = 0; i < READERS; i++) sockets.push(stalledReader(port, '/v1/events?since=0'));
      let peak = before;
      const sample = setInterval(() => (peak = Math.max(peak, rss(api.child.pid!))), 100);
      try {
        // Every reader has its replay coming (the first bytes wait, unread, in its socket).
        await waitFor('every reader to be sent its replay', async () => unreadFrom(port) >= READERS, 30_000);

        const latencies: number[] = [];
        for (let i = 0; i < 5; i++) {
          const t0 = Date.now();
          expect((await fetch(`${url}/healthz`)).status).toBe(200);
          latencies.push(Date.now() - t0);
        }
        // Measured 0.2 to 0.7 s on a loaded 2-core machine; unbounded, the API stalled for seconds.
        expect(Math.max(...latencies)).toBeLessThan(2000);

        // The server hangs up on readers that took nothing for HYPERPLANE_EVENTS_STALL_S.
        await waitFor('the stalled readers to be dropped', async () => establishedOn(port) === 0, 60_000, 200);
      } finally {
        clearInterval(sample);
      }
      // Unbounded, each reader held its whole replay: the process grew by some 650 MiB (145 to
      // 793 MiB) and never let go. Bounded, it grows by about 120 MiB at the peak, most of it
      // garbage of the pages the kernel's socket buffers took before the readers stalled.
      expect((peak - before) / MiB).toBeLessThan(250);

      // From the readers' side: once they read again, what was sent ends, short of the replay.
      const received = await Promise.all(
        sockets.map(
          (s) =>
            new Promise<number>((resolve) => {
              let bytes = 0;
              s.on('data', (d: Buffer) => (bytes += d.length));
              s.on('close', () => resolve(bytes));
              s.resume();
            }),
        ),
      );
      for (const bytes of received) expect(bytes).toBeLessThan(EVENTS * 1000);
      // And the API still streams to a reader that reads.
      const after = followEvents(url, ADMIN_TOKEN, '?since=0');
      await waitFor('a full replay after the drops', async () => after.events.length >= EVENTS, 60_000);
      after.stop();
    });
  });

  describe('limits and replay by project', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ noAgent: true, noController: true, config: { HYPERPLANE_EVENTS_MAX_PER_TOKEN: 3, HYPERPLANE_EVENTS_BUFFER_KB: 64, HYPERPLANE_EVENTS_STALL_S: 2 } });
    });
    afterAll(() => stack.stop());

    const token = async (name: string, project?: string): Promise<string> => {
      const r = await stack.client.post('/v1/tokens', { name, role: 'viewer', ...(project ? { project } : {}) });
      expect(r.status).toBe(201);
      return r.body.token;
    };

    it.each([
      ['since', '-1'],
      ['since', '1.5'],
      ['since', 'abc'],
      ['since', '9223372036854775808'],
      ['since', '99999999999999999999'],
      ['Last-Event-ID', '-1'],
      ['Last-Event-ID', '1e3'],
      ['Last-Event-ID', '9223372036854775808'],
    ])('refuses %s=%s with a 400 naming the field', async (field, value) => {
      const r = field === 'since' ? await openStream(stack.url, stack.client.token, `?since=${encodeURIComponent(value)}`) : await openStream(stack.url, stack.client.token, '', { 'Last-Event-ID': value });
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(r.body.errors.map((e: any) => e.field)).toEqual([field]);
    });

    it('accepts the largest event id', async () => {
      const r = await openStream(stack.url, stack.client.token, '?since=9223372036854775807');
      r.close();
      expect(r.status).toBe(200);
    });

    it('refuses a token more streams than it may hold with a 429 and Retry-After, and counts each token apart', async () => {
      const viewer = await token('three streams');
      const open = [await openStream(stack.url, viewer), await openStream(stack.url, viewer), await openStream(stack.url, viewer)];
      try {
        expect(open.map((o) => o.status)).toEqual([200, 200, 200]);
        const refused = await openStream(stack.url, viewer);
        expect(refused.status).toBe(429);
        expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(refused.body.detail).toMatch(/already holds 3 event streams/);
        // Another token is not affected.
        const other = await openStream(stack.url, stack.client.token);
        other.close();
        expect(other.status).toBe(200);
        // A stream that ends gives its place back.
        open.shift()!.close();
        const again = await waitFor('a place to free up', async () => {
          const r = await openStream(stack.url, viewer);
          if (r.status === 200) return r;
          expect(r.status).toBe(429);
          return null;
        });
        open.push(again);
      } finally {
        for (const o of open) o.close();
      }
    });

    it('drops a live reader that falls behind and stops reading, and keeps one that reads, every event once', async () => {
      const port = Number(new URL(stack.url).port);
      const reading = followEvents(stack.url, stack.client.token);
      const stalled = createConnection({ port, host: '127.0.0.1' });
      stalled.on('error', () => undefined);
      try {
        stalled.write(`GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n\r\n`);
        stalled.pause();
        await reading.ready;
        await waitFor('the stalled reader to be connected', async () => stalled.localPort !== undefined && unreadFrom(port) > 0);
        const serverSide = (): boolean => tcpTable().some((r) => r.localPort === port && r.remotePort === stalled.localPort && r.state === '01');
        expect(serverSide()).toBe(true);
        // 10,000 events of about 1 KiB: far more than the kernel's buffers and the 64 KiB bound.
        for (let i = 0; i < 10; i++) {
          await stack.sql.query(
            `INSERT INTO events (type, subject_type, subject_id, project_id, data)
             SELECT 'host.status', 'host', gen_random_uuid(), NULL, jsonb_build_object('live', n, 'pad', repeat('y', 1000)) FROM generate_series(1, 1000) n`,
          );
        }
        await waitFor('the stalled live reader to be dropped', async () => !serverSide(), 30_000);
        // The reader that reads fell behind too (1,000 events come at once), caught up from the table.
        await waitFor('the reading client to get every event', async () => reading.events.filter((e) => e.data.live !== undefined).length >= 10_000, 30_000);
        const ids = reading.events.map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toEqual([...ids].sort((x, y) => Number(BigInt(x) - BigInt(y))));
      } finally {
        reading.stop();
        stalled.destroy();
      }
    });

    it("replays to a project's token only its project's events, read in SQL", async () => {
      for (const name of ['replay-a', 'replay-b']) expect((await stack.client.post('/v1/projects', { name })).status).toBe(201);
      const projects = (await stack.client.get('/v1/projects')).body.items;
      const a = projects.find((p: any) => p.name === 'replay-a').id;
      const b = projects.find((p: any) => p.name === 'replay-b').id;
      // 3,000 events of which one in ten is project a's; the others are b's or the fleet's.
      await stack.sql.query(
        `INSERT INTO events (type, subject_type, subject_id, project_id, data)
         SELECT CASE WHEN n % 2 = 0 THEN 'instance.state' ELSE 'operation.status' END, CASE WHEN n % 2 = 0 THEN 'instance' ELSE 'operation' END,
                gen_random_uuid(), CASE WHEN n % 10 = 0 THEN $1::uuid WHEN n % 10 < 8 THEN $2::uuid ELSE NULL END, jsonb_build_object('n', n)
         FROM generate_series(1, 3000) n`,
        [a, b],
      );
      await stack.sql.query(`INSERT INTO events (type, subject_type, subject_id, project_id, data) VALUES ('host.status', 'host', gen_random_uuid(), NULL, '{}')`);
      await stack.sql.query(`INSERT INTO events (type, subject_type, subject_id, project_id, data) VALUES ('instance.state', 'instance', gen_random_uuid(), $1, '{"last":true}')`, [a]);
      const expected = (await stack.sql.query('SELECT id::text AS id FROM events WHERE project_id = $1 ORDER BY events.id', [a])).rows.map((r) => r.id);
      expect(expected.length).toBe(301);

      const mine = followEvents(stack.url, await token('viewer of replay-a', 'replay-a'), '?since=0');
      try {
        await waitFor('the replay to reach the last event of the project', async () => mine.events.some((e) => e.data.last === true));
        expect(mine.events.map((e) => e.id)).toEqual(expected);
      } finally {
        mine.stop();
      }

      // The repository's page: only project a's rows leave the database, in pages by id.
      const repo = stack.api.get(EventRepository);
      const upTo = (await stack.sql.query('SELECT max(id)::text AS id FROM events')).rows[0].id;
      const paged: string[] = [];
      for (let after = '0'; ; ) {
        const page = await repo.page({ afterId: after, upTo, projectIds: [a], subjects: ['instance', 'operation', 'host'], limit: 40 });
        expect(page.every((e) => e.projectId === a)).toBe(true);
        paged.push(...page.map((e) => e.id));
        if (page.length < 40) break;
        after = page[page.length - 1]!.id;
      }
      expect(paged).toEqual(expected);
      const instancesOnly = await repo.page({ afterId: '0', upTo, projectIds: [a], subjects: ['instance'], limit: 1000 });
      expect(instancesOnly.length).toBeGreaterThan(0);
      expect(instancesOnly.every((e) => e.subjectType === 'instance' && e.projectId === a)).toBe(true);
    });
  });
});
