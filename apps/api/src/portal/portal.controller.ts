import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { OverviewRepository, ProjectRepository } from '@hyperplane/db';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { isFleetWide, Principal } from '../auth/principal';

interface SessionView {
  name: string;
  role: string;
  fleetWide: boolean;
  projects: { id: string; name: string }[] | null;
  visibleProjects: { id: string; name: string }[];
}

/** How many hosts the overview lists by name (densest first; the rest are in /v1/hosts). */
const DENSITY_HOSTS = 24;
const ATTENTION_HOSTS = 50;

/**
 * What a browser (the portal) or any client needs to know about its own token and the fleet at
 * a glance. Both answer with what the token may see: a project's token gets its projects'
 * instances and operations and nothing about hosts.
 */
@ApiTags('portal')
@ApiBearerAuth()
@Controller('v1')
export class PortalController {
  constructor(
    private readonly overview: OverviewRepository,
    private readonly projects: ProjectRepository,
  ) {}

  /**
   * Who the token is: its name, role and projects (null: every project), and the names of the
   * projects whose instances it sees (all of them for a fleet-wide token, of any role).
   */
  @Get('session')
  @ApiOkResponse({ description: '{ name, role, fleetWide, projects, visibleProjects }' })
  async session(@CurrentPrincipal() p: Principal): Promise<SessionView> {
    let projects: { id: string; name: string }[] | null = null;
    if (p.projectIds) {
      const rows = await Promise.all(p.projectIds.map((id) => this.projects.get(id)));
      projects = rows.filter((r) => r !== null).map((r) => ({ id: r.id, name: r.name }));
    }
    const visibleProjects = projects ?? (await this.projects.list()).map((r) => ({ id: r.id, name: r.name }));
    return { name: p.name, role: p.role, fleetWide: isFleetWide(p), projects, visibleProjects };
  }

  /**
   * Fleet-wide aggregates: hosts by OS and status, capacity used and free, instances by
   * technology and state, usage per technology, containers vs VMs on the densest hosts and the
   * memory the VMs' overhead costs there, operations in flight, hosts that need attention.
   */
  @Get('overview')
  @ApiOkResponse({ description: 'Counts and sums for a dashboard; host sections are null for project tokens' })
  async get(@CurrentPrincipal() p: Principal): Promise<Record<string, unknown>> {
    const fleet = isFleetWide(p);
    const scope = p.projectIds;
    const [instances, usage, operations, hosts, capacity, density, attention] = await Promise.all([
      this.overview.instancesByTechnologyAndState(scope),
      this.overview.usageByTechnology(scope),
      this.overview.operationsByKindAndStatus(scope),
      fleet ? this.overview.hostsByOsAndStatus() : null,
      fleet ? this.overview.fleetCapacity() : null,
      fleet ? this.overview.density(DENSITY_HOSTS) : null,
      fleet ? this.overview.hostsNeedingAttention(ATTENTION_HOSTS) : null,
    ]);
    return {
      instances: instances.map((r) => ({ technology: r.key, state: r.sub, count: r.count })),
      usage,
      operationsInFlight: operations.map((r) => ({ kind: r.key, status: r.sub, count: r.count })),
      hosts: hosts?.map((r) => ({ os: r.key, status: r.sub, count: r.count })) ?? null,
      capacity,
      density,
      attention,
    };
  }
}
