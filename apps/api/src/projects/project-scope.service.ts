import { Injectable } from '@nestjs/common';
import { DEFAULT_PROJECT_ID, ProjectEntity, ProjectRepository } from '@hyperplane/db';
import { canChange, canSeeProject, Principal } from '../auth/principal';
import { problems } from '../common/problem';

/** Which project a request is about, and whether the caller may see or change it. */
@Injectable()
export class ProjectScope {
  // Projects are only ever added: a short cache saves a query on every request.
  private readonly byName = new Map<string, { project: ProjectEntity; until: number }>();
  private readonly byId = new Map<string, { project: ProjectEntity; until: number }>();

  constructor(private readonly projects: ProjectRepository) {}

  /** The project to create in: named, else the token's own, else `default`. */
  async forChange(principal: Principal, name: string | undefined): Promise<ProjectEntity> {
    const project = await this.resolve(principal, name);
    if (!canChange(principal, project.id)) {
      throw problems.forbidden(`the token (${principal.role}) may not change project ${project.name}`);
    }
    return project;
  }

  /** The projects a listing may show: one named project, or all the token can see. */
  async forRead(principal: Principal, name: string | undefined): Promise<string[] | null> {
    if (!name) return principal.projectIds;
    return [(await this.resolve(principal, name)).id];
  }

  /** The project a request names (or the default), if the token can see it. */
  async resolve(principal: Principal, name: string | undefined): Promise<ProjectEntity> {
    if (!name) {
      const own = principal.projectIds?.length === 1 ? principal.projectIds[0]! : DEFAULT_PROJECT_ID;
      const project = await this.cachedById(own);
      if (!project) throw problems.badField('project', 'the token\'s project no longer exists');
      return project;
    }
    const project = await this.cachedByName(name);
    // A project the token cannot see is reported like one that does not exist.
    if (!project || !canSeeProject(principal, project.id)) throw problems.badField('project', `no project named ${name}`);
    return project;
  }

  private async cachedById(id: string): Promise<ProjectEntity | null> {
    const hit = this.byId.get(id);
    if (hit && hit.until > Date.now()) return hit.project;
    const project = await this.projects.get(id);
    if (project) this.byId.set(id, { project, until: Date.now() + 30_000 });
    return project;
  }

  private async cachedByName(name: string): Promise<ProjectEntity | null> {
    const hit = this.byName.get(name);
    if (hit && hit.until > Date.now()) return hit.project;
    const project = await this.projects.findByName(name);
    if (project) this.byName.set(name, { project, until: Date.now() + 30_000 });
    return project;
  }
}
