import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@hyperplane/config';
import { HOSTS_CHANNEL, HostRepository, PgListener } from '@hyperplane/db';
import { HeartbeatStore } from '@hyperplane/queue';
import { NOTIFY_LISTENER } from '../notify-listener';
import { PlacementService } from '../placement/placement.service';
import { Rescheduler } from '../placement/rescheduler';

/** How long PostgreSQL's copy of a heartbeat may lag behind Redis's. */
const PERSIST_EVERY_MS = 30_000;

/**
 * Reads every host's last heartbeat (from Redis, falling back to PostgreSQL's older copy),
 * turns hosts that stopped beating `down` and hosts that beat again `ready` — guarded
 * transitions, so any number of controllers can watch at once.
 */
@Injectable()
export class HeartbeatWatcher implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('heartbeats');
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly hosts: HostRepository,
    @Inject(HeartbeatStore) private readonly beats: HeartbeatStore,
    private readonly placement: PlacementService,
    private readonly rescheduler: Rescheduler,
    @Inject(NOTIFY_LISTENER) private readonly listener: PgListener,
  ) {}

  onModuleInit(): void {
    // A host changed status (here, in another controller, or by an admin through the API):
    // decide on the new fleet, and try unschedulable instances again if capacity came back.
    this.listener.on(HOSTS_CHANNEL, () => {
      this.placement.invalidate();
      this.rescheduler.kick();
    });
    const every = Math.max(500, Math.min(5000, (this.config.HYPERPLANE_HEARTBEAT_TIMEOUT_S * 1000) / 4));
    this.timer = setInterval(() => void this.tick(), every);
    void this.tick();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.busy;
  }

  tick(): Promise<void> {
    this.busy ??= this.check()
      .catch((e: unknown) => this.log.warn(`heartbeat check failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (this.busy = null));
    return this.busy;
  }

  private async check(): Promise<void> {
    const now = Date.now();
    const timeoutMs = this.config.HYPERPLANE_HEARTBEAT_TIMEOUT_S * 1000;
    const hosts = await this.hosts.liveness();
    // Each host's beat is read from its own agent's set only.
    const beats = await this.beats.scores(hosts);
    const down: string[] = [];
    const up: string[] = [];
    const persist: { id: string; at: number }[] = [];
    const silentFor = new Map<string, number>();
    for (const h of hosts) {
      const stored = h.lastHeartbeatAt ? new Date(h.lastHeartbeatAt).getTime() : 0;
      const beat = beats.get(h.id) ?? 0;
      const last = Math.max(stored, beat);
      // A host that never beat is measured from its enrollment.
      const silent = now - (last || new Date(h.createdAt).getTime());
      if (beat > stored + PERSIST_EVERY_MS || (beat > stored && h.status !== 'ready')) persist.push({ id: h.id, at: beat });
      if (h.status === 'ready' && silent > timeoutMs) {
        down.push(h.id);
        silentFor.set(h.id, silent);
      } else if ((h.status === 'down' || h.status === 'enrolling') && last > 0 && now - last <= timeoutMs) {
        up.push(h.id);
      }
    }
    await this.hosts.recordHeartbeats(persist);
    if (down.length) {
      const worst = Math.max(...silentFor.values());
      const changed = await this.hosts.setStatus(down, ['ready'], 'down', `no heartbeat for ${Math.round(worst / 1000)} s`);
      if (changed.length) this.log.warn(`${changed.length} host(s) down: ${changed.slice(0, 5).map((h) => h.name).join(', ')}${changed.length > 5 ? ', …' : ''}`);
    }
    if (up.length) {
      const changed = await this.hosts.setStatus(up, ['down', 'enrolling'], 'ready', null);
      if (changed.length) {
        this.log.log(`${changed.length} host(s) ready`);
        // New or returning capacity: unschedulable instances may fit now.
        this.rescheduler.kick();
      }
    }
    if (down.length || up.length) this.placement.invalidate();
  }
}
