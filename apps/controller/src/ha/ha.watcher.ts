import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@hyperplane/config';
import { HostRepository, InstanceRepository } from '@hyperplane/db';
import { HeartbeatStore, LeaseStore } from '@hyperplane/queue';
import { HaRecovery } from './ha-recovery';

/** A lease seen held: when (this controller's clock) and until when at the latest. */
interface Seen {
  at: number;
  expiresBy: number;
}

/**
 * Host failure, after the fence (README.md here has the timing argument). Every tick it:
 * - watches the leases of hosts whose heartbeats are late, remembering until when each was held;
 * - for each `down` host, notes (in Redis, shared by controllers) the earliest time its HA
 *   instances may run elsewhere: the lease's expiry plus HYPERPLANE_HA_RESTART_MARGIN_MS, or,
 *   when the lease was already gone before this controller saw it held, a whole lease from now
 *   plus the margin (it may have been renewed just before Redis lost it);
 * - once that time has passed and the lease is still gone, recovers the host's HA instances
 *   elsewhere (HaRecovery), highest priority first, and shows the others `unknown`.
 * Any number of controllers may run it: every change is a guarded transition.
 */
@Injectable()
export class HaWatcher implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('ha');
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;
  private readonly seen = new Map<string, Seen>();
  private lastTick = 0;
  readonly leases: LeaseStore;

  constructor(
    private readonly config: AppConfig,
    private readonly hosts: HostRepository,
    private readonly instances: InstanceRepository,
    @Inject(HeartbeatStore) private readonly beats: HeartbeatStore,
    @Inject(LeaseStore) leases: LeaseStore,
    private readonly recovery: HaRecovery,
  ) {
    this.leases = leases;
  }

  /** How often it looks: several times a lease, so a lease held is seen before it can expire unseen. */
  get everyMs(): number {
    return Math.max(200, Math.min(2000, Math.floor(this.config.HYPERPLANE_HA_LEASE_MS / 5)));
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.tick(), this.everyMs);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.busy;
  }

  tick(): Promise<void> {
    this.busy ??= this.check()
      .catch((e: unknown) => this.log.warn(`HA check failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (this.busy = null));
    return this.busy;
  }

  private async check(): Promise<void> {
    const leaseMs = this.config.HYPERPLANE_HA_LEASE_MS;
    const marginMs = this.config.HYPERPLANE_HA_RESTART_MARGIN_MS;
    const now = Date.now();
    // Ticks further apart than a lease (a paused process): a lease may have been renewed and
    // expired unseen in between, so what was seen before says nothing any more.
    if (this.lastTick && now - this.lastTick >= leaseMs) this.seen.clear();
    this.lastTick = now;
    const hosts = await this.hosts.liveness();
    const beats = await this.beats.scores(hosts);
    const lateMs = Math.max(1000, 2 * this.config.HYPERPLANE_HEARTBEAT_INTERVAL_S * 1000);
    const watched = hosts.filter((h) => h.status === 'down' || now - (beats.get(h.id) ?? 0) > lateMs);
    const watchedIds = new Set(watched.map((h) => h.id));
    for (const id of this.seen.keys()) if (!watchedIds.has(id)) this.seen.delete(id);
    // A note belongs to one loss: a host back up (or removed) drops it, so a later loss starts afresh.
    const downIds = new Set(hosts.filter((h) => h.status === 'down').map((h) => h.id));
    const back = (await this.leases.notedHosts()).filter((id) => !downIds.has(id));
    await this.leases.clearRestartAfter(back);
    if (watched.length === 0) return;
    const left = await this.leases.remaining(watched);
    const observedAt = Date.now(); // after the answer: expiries computed from it err late, the safe way
    const down = watched.filter((h) => h.status === 'down');
    const due: typeof down = [];
    const noted = await this.leases.restartAfter(down.map((h) => h.id));
    for (const h of watched) {
      const ttl = left.get(h.id);
      if (ttl !== null && ttl !== undefined) {
        const expiresBy = observedAt + (ttl < 0 ? leaseMs : ttl);
        this.seen.set(h.id, { at: observedAt, expiresBy });
        // Held again (a partition that healed, a Redis that came back): any earlier note is too early.
        if (noted.has(h.id)) await this.leases.raiseRestartAfter(h.id, expiresBy + marginMs);
        continue;
      }
      if (h.status !== 'down') continue;
      let restartAfter = noted.get(h.id);
      if (restartAfter === undefined) {
        const last = this.seen.get(h.id);
        // Seen held one tick ago and gone now: no renewal since (it would hold a whole lease
        // past this tick), so it expired by `expiresBy`. Otherwise the expiry is not known:
        // count a whole lease from now.
        const expiry = last && observedAt - last.at < leaseMs ? last.expiresBy : observedAt + leaseMs;
        restartAfter = await this.leases.noteRestartAfter(h.id, expiry + marginMs);
        this.log.warn(`host ${h.name} lost its lease; its HA instances may run elsewhere after ${new Date(restartAfter).toISOString()}`);
      }
      if (observedAt >= restartAfter) due.push(h);
    }
    if (down.length === 0) return;
    // Every down host's instances: HA ones on due hosts are recovered, the others shown unknown.
    const dueIds = new Set(due.map((h) => h.id));
    const byId = new Map(down.map((h) => [h.id, h]));
    const notedAll = await this.leases.restartAfter(due.map((h) => h.id));
    const onDown = await this.instances.onHosts(down.map((h) => h.id));
    // Beats read again now: a host that beats again may have reported its instances since the
    // first read (its agent beats before it reports), and must not have them shown unknown.
    const silent = new Set(down.map((h) => h.id));
    const fresh = await this.beats.scores(down.filter((h) => onDown.some((i) => i.hostId === h.id && !i.ha?.restart && i.state !== 'unknown')));
    for (const [id, beat] of fresh) if (Date.now() - beat <= lateMs) silent.delete(id);
    for (const instance of onDown) {
      const host = byId.get(instance.hostId!)!;
      if (instance.ha?.restart) {
        if (dueIds.has(host.id)) await this.recovery.recover(instance, host, notedAll.get(host.id) ?? observedAt);
      } else if (instance.state !== 'unknown' && silent.has(host.id)) {
        await this.recovery.markUnknown(instance, host);
      }
    }
  }
}
