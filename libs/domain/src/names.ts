/** Names of instances, hosts, projects and snapshots: DNS-label-like, safe on any command line. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const NAME_RULE = 'lowercase letters, digits and hyphens, starting with a letter or digit, at most 63 characters';

/** Template names may carry a version with a dot, e.g. `ubuntu-24.04`. */
export const TEMPLATE_NAME_PATTERN = /^[a-z0-9][a-z0-9.-]{0,62}$/;

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isValidName(value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value);
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}
