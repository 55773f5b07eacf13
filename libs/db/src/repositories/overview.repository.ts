import { fromMilliVcpus } from '@hyperplane/domain';
import { Database } from '../database';

export interface CountRow {
  key: string;
  sub: string;
  count: number;
}

export interface UsageRow {
  technology: string;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  count: number;
}

export interface DensityRow {
  hostId: string;
  hostName: string;
  os: string;
  status: string;
  containers: number;
  vms: number;
  /** Memory claimed on the host beyond what its instances asked for: driver (VM) overheads. */
  overheadMemoryMiB: number;
  capMemoryMiB: number;
  allocMemoryMiB: number;
}

export interface FleetCapacity {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  allocVcpus: number;
  allocMemoryMiB: number;
  allocDiskGiB: number;
}

/** Aggregates for the portal's overview; project-limited callers pass their project ids. */
export class OverviewRepository {
  constructor(private readonly db: Database) {}

  async instancesByTechnologyAndState(projectIds: string[] | null): Promise<CountRow[]> {
    const rows: { key: string | null; sub: string; count: string }[] = await this.db.manager.query(
      `SELECT COALESCE(technology, requested_technology) AS key, state AS sub, count(*) AS count
         FROM instances WHERE state <> 'deleted' AND ($1::uuid[] IS NULL OR project_id = ANY($1))
        GROUP BY 1, 2`,
      [projectIds],
    );
    return rows.map((r) => ({ key: r.key ?? 'auto', sub: r.sub, count: Number(r.count) }));
  }

  async usageByTechnology(projectIds: string[] | null): Promise<UsageRow[]> {
    const rows: { technology: string; vcpus: string; mem: string; disk: string; count: string }[] = await this.db.manager.query(
      `SELECT technology, sum(vcpus) AS vcpus, sum(memory_mib) AS mem, sum(disk_gib) AS disk, count(*) AS count
         FROM instances WHERE host_id IS NOT NULL AND technology IS NOT NULL AND state <> 'deleted'
          AND ($1::uuid[] IS NULL OR project_id = ANY($1))
        GROUP BY 1`,
      [projectIds],
    );
    return rows.map((r) => ({ technology: r.technology, vcpus: fromMilliVcpus(Number(r.vcpus)), memoryMiB: Number(r.mem), diskGiB: Number(r.disk), count: Number(r.count) }));
  }

  async operationsByKindAndStatus(projectIds: string[] | null): Promise<CountRow[]> {
    const rows: { key: string; sub: string; count: string }[] = await this.db.manager.query(
      `SELECT kind AS key, status AS sub, count(*) AS count FROM operations
        WHERE status IN ('queued', 'running') AND ($1::uuid[] IS NULL OR project_id = ANY($1))
        GROUP BY 1, 2`,
      [projectIds],
    );
    return rows.map((r) => ({ key: r.key, sub: r.sub, count: Number(r.count) }));
  }

  async hostsByOsAndStatus(): Promise<CountRow[]> {
    const rows: { key: string; sub: string; count: string }[] = await this.db.manager.query(
      `SELECT os AS key, status AS sub, count(*) AS count FROM hosts GROUP BY 1, 2`,
    );
    return rows.map((r) => ({ key: r.key, sub: r.sub, count: Number(r.count) }));
  }

  async fleetCapacity(): Promise<FleetCapacity> {
    const [r]: Record<string, string | null>[] = await this.db.manager.query(
      `SELECT sum(cap_vcpus) AS v, sum(cap_memory_mib) AS m, sum(cap_disk_gib) AS d,
              sum(alloc_vcpus) AS av, sum(alloc_memory_mib) AS am, sum(alloc_disk_gib) AS ad
         FROM hosts WHERE status <> 'down'`,
    );
    const n = (k: string): number => Number(r?.[k] ?? 0);
    return { vcpus: fromMilliVcpus(n('v')), memoryMiB: n('m'), diskGiB: n('d'), allocVcpus: fromMilliVcpus(n('av')), allocMemoryMiB: n('am'), allocDiskGiB: n('ad') };
  }

  /** The hosts with the most instances: containers vs VMs and what the VMs' overhead costs. */
  async density(limit: number): Promise<DensityRow[]> {
    const rows: Record<string, string>[] = await this.db.manager.query(
      `SELECT h.id, h.name, h.os, h.status, h.cap_memory_mib AS cap, h.alloc_memory_mib AS alloc,
              count(*) FILTER (WHERE i.technology = 'container') AS containers,
              count(*) FILTER (WHERE i.technology = 'vm') AS vms,
              COALESCE(sum(i.memory_mib), 0) AS asked
         FROM hosts h JOIN instances i ON i.host_id = h.id AND i.state <> 'deleted'
        GROUP BY h.id ORDER BY count(*) DESC, h.name LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      hostId: r.id!,
      hostName: r.name!,
      os: r.os!,
      status: r.status!,
      containers: Number(r.containers),
      vms: Number(r.vms),
      overheadMemoryMiB: Math.max(0, Number(r.alloc) - Number(r.asked)),
      capMemoryMiB: Number(r.cap),
      allocMemoryMiB: Number(r.alloc),
    }));
  }

  /** Hosts an admin should look at: not ready, or whose creates have been failing. */
  async hostsNeedingAttention(limit: number): Promise<{ id: string; name: string; os: string; status: string; statusReason: string | null; createFailures: number }[]> {
    const rows: Record<string, string | null>[] = await this.db.manager.query(
      `SELECT id, name, os, status, status_reason, create_failures FROM hosts
        WHERE status <> 'ready' OR create_failures > 0
        ORDER BY (status = 'down') DESC, create_failures DESC, name LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({ id: r.id!, name: r.name!, os: r.os!, status: r.status!, statusReason: r.status_reason ?? null, createFailures: Number(r.create_failures) }));
  }
}
