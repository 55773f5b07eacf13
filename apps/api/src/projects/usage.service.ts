import { Injectable } from '@nestjs/common';
import { HeldResources, ProjectEntity, ProjectRepository, UsageRepository, UsageSlice } from '@hyperplane/db';
import { canSeeProject, Principal } from '../auth/principal';
import { problems } from '../common/problem';

export interface Figures {
  instanceHours: number;
  vcpuHours: number;
  memoryGiBHours: number;
  diskGiBHours: number;
}

interface Sums {
  seconds: number;
  vcpuSeconds: number;
  memoryMibSeconds: number;
  diskGibSeconds: number;
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

function figures(s: Sums): Figures {
  return {
    instanceHours: round(s.seconds / 3600),
    vcpuHours: round(s.vcpuSeconds / 3600),
    memoryGiBHours: round(s.memoryMibSeconds / 1024 / 3600),
    diskGiBHours: round(s.diskGibSeconds / 3600),
  };
}

function add(into: Map<string, Sums>, key: string, s: UsageSlice): void {
  const t = into.get(key) ?? { seconds: 0, vcpuSeconds: 0, memoryMibSeconds: 0, diskGibSeconds: 0 };
  t.seconds += s.seconds;
  t.vcpuSeconds += s.vcpus * s.seconds;
  t.memoryMibSeconds += s.memoryMib * s.seconds;
  t.diskGibSeconds += s.diskGib * s.seconds;
  into.set(key, t);
}

function grouped(m: Map<string, Sums>): Record<string, Figures> {
  return Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, figures(v)]));
}

/** Quotas with what is held against them, and metered usage for billing. */
@Injectable()
export class UsageService {
  constructor(
    private readonly projects: ProjectRepository,
    private readonly usage: UsageRepository,
  ) {}

  /** A project by name, if the token may see it (another project's is reported as missing). */
  async visibleProject(principal: Principal, name: string): Promise<ProjectEntity> {
    const project = /^[a-z0-9][a-z0-9-]{0,62}$/.test(name) ? await this.projects.findByName(name) : null;
    if (!project || !canSeeProject(principal, project.id)) throw problems.notFound('project', name);
    return project;
  }

  async setQuota(principal: Principal, name: string, quota: Record<string, unknown>): Promise<unknown> {
    const project = await this.visibleProject(principal, name);
    await this.projects.setQuota(project.id, Object.keys(quota).length === 0 ? null : quota);
    return this.quotaView(principal, name);
  }

  /** The quota and what the project holds now: overall and per technology (`auto`: not placed yet). */
  async quotaView(principal: Principal, name: string): Promise<unknown> {
    const project = await this.visibleProject(principal, name);
    const held = await this.usage.held(project.id);
    const zero: HeldResources = { instances: 0, vcpus: 0, memoryMiB: 0, diskGiB: 0 };
    const all = Object.values(held).reduce<HeldResources>(
      (a, h) => ({ instances: a.instances + h.instances, vcpus: a.vcpus + h.vcpus, memoryMiB: a.memoryMiB + h.memoryMiB, diskGiB: a.diskGiB + h.diskGiB }),
      { ...zero },
    );
    return {
      project: project.name,
      quota: project.quota ?? {},
      usage: { ...all, perTechnology: { container: held.container ?? zero, vm: held.vm ?? zero, auto: held.auto ?? zero } },
    };
  }

  /** Metered usage in [from, to): per project, per technology, per state and per instance. */
  async report(principal: Principal, projectName: string | undefined, from: Date, to: Date): Promise<{ from: string; to: string; projects: unknown[] }> {
    let projectIds: string[] | null = principal.projectIds;
    if (projectName) projectIds = [(await this.visibleProject(principal, projectName)).id];
    const slices = await this.usage.slices(projectIds, from, to);
    const names = new Map((await this.projects.list()).map((p) => [p.id, p.name]));
    const byProject = new Map<string, UsageSlice[]>();
    for (const s of slices) byProject.set(s.projectId, [...(byProject.get(s.projectId) ?? []), s]);
    const projects = [...byProject.entries()].map(([projectId, rows]) => {
      const total = new Map<string, Sums>();
      const tech = new Map<string, Sums>();
      const state = new Map<string, Sums>();
      const perInstance = new Map<string, { rows: UsageSlice[] }>();
      for (const s of rows) {
        add(total, 'total', s);
        add(tech, s.technology, s);
        add(state, s.state, s);
        perInstance.set(s.instanceId, { rows: [...(perInstance.get(s.instanceId)?.rows ?? []), s] });
      }
      return {
        project: names.get(projectId) ?? projectId,
        totals: figures(total.get('total')!),
        byTechnology: grouped(tech),
        byState: grouped(state),
        instances: [...perInstance.entries()].map(([id, { rows: r }]) => {
          const t = new Map<string, Sums>();
          const st = new Map<string, Sums>();
          for (const s of r) {
            add(t, 'total', s);
            add(st, s.state, s);
          }
          return { id, name: r[0]!.name, technology: r[r.length - 1]!.technology, totals: figures(t.get('total')!), byState: grouped(st) };
        }),
      };
    });
    return { from: from.toISOString(), to: to.toISOString(), projects };
  }

  /** One CSV row per project, instance, technology and state. */
  toCsv(report: { projects: unknown[] }): string {
    const lines = ['project,instance_id,instance_name,technology,state,instance_hours,vcpu_hours,memory_gib_hours,disk_gib_hours'];
    const q = (v: string): string => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    for (const p of report.projects as { project: string; instances: { id: string; name: string; technology: string; byState: Record<string, Figures> }[] }[]) {
      for (const i of p.instances) {
        for (const [state, f] of Object.entries(i.byState)) {
          lines.push([q(p.project), i.id, q(i.name), i.technology, state, f.instanceHours, f.vcpuHours, f.memoryGiBHours, f.diskGiBHours].join(','));
        }
      }
    }
    return lines.join('\n') + '\n';
  }
}
