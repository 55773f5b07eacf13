import { Role } from '@hyperplane/domain';

/** Who is calling: an API token with a role, limited to some projects or to none. */
export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
  /** null: every project (a fleet-wide token). */
  projectIds: string[] | null;
  /** The token's rate limit (its own, else its project's; absent: the configured default). */
  requestsPerMinute?: number | null;
}

export function canSeeProject(p: Principal, projectId: string): boolean {
  return p.projectIds === null || p.projectIds.includes(projectId);
}

export function canChange(p: Principal, projectId: string): boolean {
  return (p.role === 'admin' || p.role === 'operator') && canSeeProject(p, projectId);
}

/** Fleet-wide tokens see hosts; project tokens see only their instances. */
export function isFleetWide(p: Principal): boolean {
  return p.projectIds === null;
}
