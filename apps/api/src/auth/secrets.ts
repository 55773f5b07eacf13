import { createHash, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = { api: 'hp_', agent: 'hpa_', enrollment: 'hpe_' } as const;

/** 256 random bits, base64url, behind a prefix that says what the secret is for. */
export function newSecret(kind: keyof typeof SECRET_PREFIX): string {
  return SECRET_PREFIX[kind] + randomBytes(32).toString('base64url');
}

/** Secrets are long and random, so one SHA-256 round is enough to store them safely. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The token from `Authorization: Bearer <token>`, or null. */
export function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S{8,512})$/i.exec(header.trim());
  return m ? m[1]! : null;
}
