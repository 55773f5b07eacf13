import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand, RunResult } from '../exec/run-command';
import { CgroupLayout, CgroupVersion } from './lxc-cgroup';
import { canReachMonitor, notifyMonitor, serveStateRequest } from './lxc-monitor';
import { commandSocketName, FreezerFiles, isContainerInit, LxcStateReader } from './lxc-state';
import { LxcInfo } from './lxc-tools';
import { LxcDriver } from './lxc.driver';

// Every lxc-* tool goes through runCommand: a fake one counts them and answers for LXC.
jest.mock('../exec/run-command', () => ({ runCommand: jest.fn() }));
const run = runCommand as jest.MockedFunction<typeof runCommand>;
/** The lxc-* tools run, but lxc-cgroup: limits are read with it when the cgroup is not found, as before. */
const tools = () => run.mock.calls.map((c) => c[0]).filter((t) => t !== 'lxc-cgroup');

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

/** The process that tells LXC's monitor when this runtime cannot reach its socket (Node 20: libuv 1.46). */
const NOTIFIER = (tool: string) => (canReachMonitor() ? [] : [tool]);

/**
 * A monitor's command socket answering LXC_CMD_SERVE_STATE_CLIENTS as liblxc does (ret 0, no
 * data), keeping the requests. `answer` replaces the answer; null never answers.
 */
function fakeMonitor(socketName: string, answer: Buffer | null = Buffer.alloc(16)): Promise<{ server: Server; requests: Buffer[] }> {
  const requests: Buffer[] = [];
  const server = createServer((conn) => {
    conn.on('data', (req: Buffer) => {
      requests.push(req);
      if (answer) conn.end(answer);
    });
    conn.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen({ path: `\0${socketName}` }, () => resolve({ server, requests })));
}

const INIT = 4242;
const status = (nspid: string, state = 'S (sleeping)') => `Name:\tinit\nState:\t${state}\nTgid:\t${INIT}\nNSpid:\t${nspid}\n`;

/** A host with one container: its lxcpath entry, monitor socket, payload cgroup and init in a fake /proc and /sys/fs/cgroup. */
class FakeHost {
  readonly root = mkdtempSync(join(tmpdir(), 'hp-lxc-freeze-'));
  readonly lxcPath = join(this.root, 'lxc');
  readonly procRoot = join(this.root, 'proc');
  readonly id = randomUUID();
  readonly layout: CgroupLayout;
  monitor?: { server: Server; requests: Buffer[] };

  constructor(readonly version: CgroupVersion) {
    const cg = join(this.root, 'cg');
    this.layout =
      version === 'v1'
        ? { version, hybrid: true, controllers: ['cpu', 'freezer', 'memory'], memsw: false, mounts: { cpu: join(cg, 'cpu'), freezer: join(cg, 'freezer'), memory: join(cg, 'memory') } }
        : { version, hybrid: false, controllers: ['cpu', 'memory'], memsw: false, mounts: { unified: join(cg, 'unified') } };
    write(join(this.lxcPath, this.id, 'config'), 'lxc.cgroup.memory.limit_in_bytes = 67108864\n');
    write(join(this.procRoot, 'net', 'unix'), 'Num       RefCount Protocol Flags    Type St Inode Path\n');
  }

  /** The directory freezing happens in: v1 freezer, v2 the unified hierarchy. */
  dir(rel = `lxc.payload.${this.id}`): string {
    return join(this.layout.mounts![this.version === 'v1' ? 'freezer' : 'unified']!, rel);
  }

  /** Its monitor's command socket (only reachable where the runtime connects to exact abstract names). */
  async startMonitor(): Promise<void> {
    this.monitor = await fakeMonitor(commandSocketName(this.lxcPath, this.id));
  }

  start(rel = `lxc.payload.${this.id}`): this {
    write(join(this.procRoot, 'net', 'unix'), `Num       RefCount Protocol Flags    Type St Inode Path\n00000000: 00000002 00000000 00010000 0001 01 1 @${commandSocketName(this.lxcPath, this.id)}\n`);
    if (this.version === 'v1') {
      write(join(this.dir(rel), 'freezer.state'), 'THAWED\n');
      write(join(this.layout.mounts!.memory!, rel, 'memory.limit_in_bytes'), '67108864\n');
    } else {
      write(join(this.dir(rel), 'cgroup.freeze'), '0\n');
      write(join(this.dir(rel), 'cgroup.events'), 'populated 1\nfrozen 0\n');
      write(join(this.dir(rel), 'memory.max'), '67108864\n');
    }
    write(join(this.dir(rel), 'cgroup.procs'), `${INIT}\n${INIT + 7}\n`);
    write(join(this.procRoot, String(INIT), 'status'), status(`${INIT}\t1`));
    write(join(this.procRoot, String(INIT), 'cgroup'), this.version === 'v1' ? `7:freezer:/${rel}\n4:memory:/${rel}\n0::/\n` : `0::/${rel}\n`);
    write(join(this.procRoot, String(INIT + 7), 'status'), status(`${INIT + 7}\t8`));
    return this;
  }

  stop(): void {
    write(join(this.procRoot, 'net', 'unix'), 'Num       RefCount Protocol Flags    Type St Inode Path\n');
    rmSync(join(this.root, 'cg'), { recursive: true, force: true });
    rmSync(join(this.procRoot, String(INIT)), { recursive: true, force: true });
  }

  /** What the freezer says: v1 freezer.state, v2 `frozen` of cgroup.events. */
  frozen(rel?: string): string {
    if (this.version === 'v1') return readFileSync(join(this.dir(rel), 'freezer.state'), 'utf8').trim();
    return /^frozen (\d)$/m.exec(readFileSync(join(this.dir(rel), 'cgroup.events'), 'utf8'))?.[1] === '1' ? 'FROZEN' : 'THAWED';
  }

  /**
   * The kernel's side of v2 for plain files: mirrors cgroup.freeze into cgroup.events (what the
   * kernel does once every task is frozen) until stopped. v1 needs none: freezer.state is one file.
   */
  kernel(): () => void {
    if (this.version === 'v1') return () => undefined;
    let on = true;
    void (async () => {
      while (on) {
        for (const file of [join(this.dir(), 'cgroup.freeze'), ...(this.learnedRel ? [join(this.dir(this.learnedRel), 'cgroup.freeze')] : [])]) {
          try {
            const want = readFileSync(file, 'utf8').trim() === '1' ? '1' : '0';
            const events = join(file, '..', 'cgroup.events');
            if (!readFileSync(events, 'utf8').includes(`frozen ${want}`)) writeFileSync(events, `populated 1\nfrozen ${want}\n`);
          } catch {
            // not there (stopped, or elsewhere)
          }
        }
        await sleep(1);
      }
    })();
    return () => (on = false);
  }

  learnedRel?: string;

  cleanup(): void {
    this.monitor?.server.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * The kernel's freezer as a model: a freeze completes after `settle` reads of the state file
 * (v1 FREEZING until then, v2 `frozen 0`); `settle` Infinity never does.
 */
class ModelKernel implements FreezerFiles {
  readonly writes: string[] = [];
  reads = 0;
  private frozen = false;
  private readsSinceFreeze = 0;

  constructor(
    private readonly version: CgroupVersion,
    private readonly settle: number,
  ) {}

  write(path: string, value: string): Promise<void> {
    this.writes.push(value);
    const freeze = value === 'FROZEN' || value === '1';
    if (freeze && !this.frozen) this.readsSinceFreeze = 0;
    this.frozen = freeze;
    writeFileSync(path, `${value}\n`); // the control file (v1: the same file, overwritten on read)
    return Promise.resolve();
  }

  read(path: string): Promise<string> {
    this.reads++;
    const done = !this.frozen || ++this.readsSinceFreeze > this.settle;
    if (this.version === 'v2') return Promise.resolve(`populated 1\nfrozen ${this.frozen && done ? 1 : 0}\n`);
    const state = !this.frozen ? 'THAWED' : done ? 'FROZEN' : 'FREEZING';
    writeFileSync(path, `${state}\n`);
    return Promise.resolve(`${state}\n`);
  }
}

const lxcInfoOut = (info: LxcInfo): RunResult => ({ code: 0, stdout: `State:          ${info.state}\n${info.pid ? `PID:            ${info.pid}\n` : ''}`, stderr: '' });

describe('an init in /proc', () => {
  it("is a live process that is pid 1 one namespace below ours, not a zombie, not a nested container's init", () => {
    expect(isContainerInit(status('4242\t1'))).toBe(true);
    expect(isContainerInit(status('4243\t2'))).toBe(false);
    expect(isContainerInit(status('4242\t7\t1'))).toBe(false);
    expect(isContainerInit(status('4242'))).toBe(false);
    expect(isContainerInit(status('4242\t1', 'Z (zombie)'))).toBe(false);
    expect(isContainerInit('Name:\tinit\n')).toBe(false);
  });
});

describe.each(['v1', 'v2'] as const)('freezing through the cgroup files (%s, a fake /sys/fs/cgroup and /proc)', (version) => {
  let host: FakeHost;
  let infoCalls: string[];
  let lxcAnswer: LxcInfo | undefined;
  const reader = (extra: Partial<ConstructorParameters<typeof LxcStateReader>[0]> = {}) =>
    new LxcStateReader({
      lxcPath: host.lxcPath,
      procRoot: host.procRoot,
      layout: () => Promise.resolve(host.layout),
      info: (name) => {
        infoCalls.push(name);
        return Promise.resolve(lxcAnswer);
      },
      ...extra,
    });

  beforeEach(() => {
    host = new FakeHost(version);
    infoCalls = [];
    lxcAnswer = undefined;
  });
  afterEach(() => host.cleanup());

  it('reads a running, a frozen and a stopped container with its init from the files, without asking LXC', async () => {
    const r = reader();
    host.start();
    expect(await r.info(host.id)).toEqual({ state: 'RUNNING', pid: INIT });
    write(join(host.dir(), version === 'v1' ? 'freezer.state' : 'cgroup.events'), version === 'v1' ? 'FROZEN\n' : 'populated 1\nfrozen 1\n');
    expect(await r.info(host.id)).toEqual({ state: 'FROZEN', pid: INIT });
    host.stop();
    expect(await r.info(host.id)).toEqual({ state: 'STOPPED' });
    expect(infoCalls).toEqual([]);
  });

  it('asks LXC when its init is not in its cgroup (starting or stopping), and when the init it knew is gone', async () => {
    const r = reader();
    host.start();
    expect(await r.info(host.id)).toEqual({ state: 'RUNNING', pid: INIT });
    // Init exited, the monitor cleans up: the cgroup still reads THAWED, LXC says STOPPING.
    write(join(host.procRoot, String(INIT), 'status'), status(`${INIT}\t1`, 'Z (zombie)'));
    lxcAnswer = { state: 'STOPPING' };
    expect(await r.info(host.id)).toEqual({ state: 'STOPPING' });
    write(join(host.dir(), 'cgroup.procs'), '');
    expect(await r.info(host.id)).toEqual({ state: 'STOPPING' });
    expect(infoCalls).toEqual([host.id, host.id]);
  });

  it('freezes and thaws by writing the freezer file, waiting for the kernel to say it is done', async () => {
    const r = reader();
    host.start();
    const stopKernel = host.kernel();
    try {
      expect(await r.setFrozen(host.id, true, 5_000)).toBe(true);
      expect(host.frozen()).toBe('FROZEN');
      if (version === 'v2') expect(readFileSync(join(host.dir(), 'cgroup.freeze'), 'utf8')).toBe('1');
      expect(await r.info(host.id)).toEqual({ state: 'FROZEN', pid: INIT });
      expect(await r.setFrozen(host.id, false, 5_000)).toBe(true);
      expect(host.frozen()).toBe('THAWED');
      expect(await r.info(host.id)).toEqual({ state: 'RUNNING', pid: INIT });
    } finally {
      stopKernel();
    }
    expect(infoCalls).toEqual([]);
  });

  it('waits while the kernel is still freezing (v1 FREEZING, v2 frozen 0), writing FROZEN again on v1 as lxc-freeze does', async () => {
    host.start();
    const kernel = new ModelKernel(version, 4);
    expect(await reader({ freezerFiles: kernel }).setFrozen(host.id, true, 10_000)).toBe(true);
    expect(kernel.reads).toBe(5);
    expect(kernel.writes).toEqual(version === 'v1' ? ['FROZEN', 'FROZEN', 'FROZEN', 'FROZEN', 'FROZEN'] : ['1']);
  });

  it('gives up with a Transient error when the freeze does not finish in time, and thaws what it froze', async () => {
    host.start();
    const kernel = new ModelKernel(version, Infinity);
    await expect(reader({ freezerFiles: kernel }).setFrozen(host.id, true, 30)).rejects.toMatchObject({ code: 'Transient', message: expect.stringMatching(/did not freeze within 30 ms.*thawed it again/) });
    expect(kernel.writes[kernel.writes.length - 1]).toBe(version === 'v1' ? 'THAWED' : '0');
    expect(host.frozen()).toBe('THAWED');
  });

  it('says it cannot when there is no freezer file to write: no cgroup there, or no freezer hierarchy', async () => {
    host.start(`elsewhere/${host.id}`);
    expect(await reader().setFrozen(host.id, true, 1_000)).toBe(false);
    const noFreezer = reader({ layout: () => Promise.resolve({ ...host.layout, mounts: {} }) });
    expect(await noFreezer.setFrozen(host.id, true, 1_000)).toBe(false);
    expect(host.frozen(`elsewhere/${host.id}`)).toBe('THAWED');
  });

  it('freezes a container whose cgroup is not the default once LXC has told where its init is', async () => {
    const rel = `custom/${host.id}`;
    host.start(rel);
    host.learnedRel = rel;
    lxcAnswer = { state: 'RUNNING', pid: INIT };
    const r = reader();
    expect(await r.info(host.id)).toEqual({ state: 'RUNNING', pid: INIT });
    expect(infoCalls).toEqual([host.id]);
    const stopKernel = host.kernel();
    try {
      expect(await r.setFrozen(host.id, true, 5_000)).toBe(true);
    } finally {
      stopKernel();
    }
    expect(host.frozen(rel)).toBe('FROZEN');
    // Known now: read from the files, init included.
    expect(await r.info(host.id)).toEqual({ state: 'FROZEN', pid: INIT });
    expect(infoCalls).toEqual([host.id]);
  });
});

describe("telling LXC's monitor", () => {
  it('sends LXC_CMD_SERVE_STATE_CLIENTS with the state in the pointer, as liblxc lays out struct lxc_cmd_req', () => {
    // Checked against LXC 5.0.2 (python sent these bytes): the monitor answers ret 0 and lxc-info then reports the state.
    if (process.arch === 'x64' || process.arch === 'arm64') expect(serveStateRequest('FROZEN').toString('hex')).toBe('0c000000000000000600000000000000');
    expect(serveStateRequest('THAWED').readInt32LE(8)).toBe(7);
  });

  it("takes the monitor's ret 0 as done, and anything else (an error, no answer, no monitor) as not done", async () => {
    const lxcPath = `hp-test-${randomUUID()}`;
    const ok = await fakeMonitor(commandSocketName(lxcPath, 'ok'));
    const failing = await fakeMonitor(commandSocketName(lxcPath, 'failing'), Buffer.from('f2ffffff000000000000000000000000', 'hex'));
    const silent = await fakeMonitor(commandSocketName(lxcPath, 'silent'), null);
    try {
      expect(await notifyMonitor(lxcPath, 'ok', 'FROZEN', { reachable: true })).toBe(true);
      expect(ok.requests.map((r) => r.toString('hex'))).toEqual([serveStateRequest('FROZEN').toString('hex')]);
      expect(await notifyMonitor(lxcPath, 'failing', 'THAWED', { reachable: true })).toBe(false);
      expect(await notifyMonitor(lxcPath, 'silent', 'THAWED', { reachable: true, timeoutMs: 50 })).toBe(false);
      expect(await notifyMonitor(lxcPath, 'nobody', 'THAWED', { reachable: true })).toBe(false);
      // Where the runtime cannot reach the socket it does not try.
      expect(await notifyMonitor(lxcPath, 'ok', 'THAWED', { reachable: false })).toBe(false);
      expect(ok.requests).toHaveLength(1);
    } finally {
      for (const m of [ok, failing, silent]) m.server.close();
    }
  });

  it('knows that libuv before 1.48 (Node 20) cannot reach an abstract socket by its exact name', () => {
    expect([canReachMonitor('1.46.0'), canReachMonitor('1.48.0'), canReachMonitor('1.51.0'), canReachMonitor('2.0.0')]).toEqual([false, process.platform === 'linux', process.platform === 'linux', process.platform === 'linux']);
  });
});

describe.each(['v1', 'v2'] as const)('lxc driver suspend and resume (%s, fake files, no LXC)', (version) => {
  let host: FakeHost;
  let driver: LxcDriver;
  /** What lxc-info says when asked. */
  let lxcState: LxcInfo;

  beforeEach(() => {
    host = new FakeHost(version);
    driver = new LxcDriver({ stateDir: join(host.root, 'state'), lxcPath: host.lxcPath, hostOs: 'linux', hostArch: 'x86_64', procRoot: host.procRoot });
    driver.layout = () => Promise.resolve(host.layout);
    lxcState = { state: 'RUNNING', pid: INIT };
    run.mockReset();
    run.mockImplementation((tool) => {
      if (tool === 'lxc-info') return Promise.resolve(lxcInfoOut(lxcState));
      if (tool === 'lxc-freeze') lxcState = { ...lxcState, state: 'FROZEN' };
      if (tool === 'lxc-unfreeze') lxcState = { ...lxcState, state: 'RUNNING' };
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    });
  });
  afterEach(() => host.cleanup());

  it('suspends and resumes a running container through its files, telling the monitor, and again (idempotent)', async () => {
    host.start();
    await host.startMonitor();
    const stopKernel = host.kernel();
    try {
      expect(await driver.suspend(host.id)).toMatchObject({ state: 'suspended', details: { pid: INIT, lxcState: 'FROZEN', limitsSource: 'cgroup' }, resources: { memoryMiB: 64 } });
      expect(host.frozen()).toBe('FROZEN');
      // No lxc-info, no lxc-wait; lxc-freeze only to tell the monitor where this runtime cannot.
      expect(tools()).toEqual(NOTIFIER('lxc-freeze'));
      expect((await driver.suspend(host.id)).state).toBe('suspended');
      expect((await driver.inspect(host.id)).state).toBe('suspended');
      expect(tools()).toEqual(NOTIFIER('lxc-freeze'));
      run.mockClear();
      expect(await driver.resume(host.id)).toMatchObject({ state: 'running', details: { pid: INIT, lxcState: 'RUNNING' } });
      expect(host.frozen()).toBe('THAWED');
      expect((await driver.resume(host.id)).state).toBe('running');
      expect(tools()).toEqual(NOTIFIER('lxc-unfreeze'));
    } finally {
      stopKernel();
    }
    expect(host.monitor!.requests.map((r) => r.readInt32LE(8))).toEqual(canReachMonitor() ? [6, 7] : []);
  });

  it('refuses to suspend or resume a stopped container (Conflict), and an unknown one is NotFound', async () => {
    await expect(driver.suspend(host.id)).rejects.toMatchObject({ code: 'Conflict' });
    await expect(driver.resume(host.id)).rejects.toMatchObject({ code: 'Conflict' });
    await expect(driver.suspend(randomUUID())).rejects.toMatchObject({ code: 'NotFound' });
    expect(tools()).toEqual([]);
  });

  it('falls back to lxc-freeze, lxc-wait and lxc-unfreeze when there is no freezer file it can find', async () => {
    // Its cgroup is elsewhere and its init's /proc entry does not say where: nothing learned.
    host.start(`elsewhere/${host.id}`);
    rmSync(join(host.procRoot, String(INIT), 'cgroup'));
    expect((await driver.suspend(host.id)).state).toBe('suspended');
    expect(tools()).toEqual(['lxc-info', 'lxc-freeze', 'lxc-wait']);
    expect(run.mock.calls.find((c) => c[0] === 'lxc-freeze')![1]).toEqual(['-P', host.lxcPath, '-n', host.id]);
    run.mockClear();
    expect((await driver.suspend(host.id)).state).toBe('suspended');
    expect(tools()).toEqual(['lxc-info']);
    run.mockClear();
    expect((await driver.resume(host.id)).state).toBe('running');
    expect(tools()).toEqual(['lxc-info', 'lxc-unfreeze']);
    expect(host.frozen(`elsewhere/${host.id}`)).toBe('THAWED');
  });

  it('falls back to LXC on a host whose freezer hierarchy is not known', async () => {
    host.start();
    driver.layout = () => Promise.resolve({ ...host.layout, mounts: {} });
    expect((await driver.suspend(host.id)).state).toBe('suspended');
    expect(tools()).toContain('lxc-freeze');
    expect(host.frozen()).toBe('THAWED');
  });
});
