import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { isUuid } from '@hyperplane/domain';
import { problems } from './problem';

export class PageQuery {
  @ApiPropertyOptional({ description: 'Opaque cursor from the previous page (nextCursor).' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

interface CursorKey {
  createdAt: string;
  id: string;
}

export function encodeCursor(key: { createdAt: Date; id: string }): string {
  return Buffer.from(JSON.stringify({ c: key.createdAt.toISOString(), i: key.id })).toString('base64url');
}

// Only what encodeCursor writes (toISOString, years 0001-9999): PostgreSQL refuses much of
// what Date.parse accepts ("0", "1", years beyond 294276), and its refusal would be a 500.
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function isCursorTime(value: unknown): value is string {
  if (typeof value !== 'string' || !CURSOR_TIME.test(value)) return false;
  const time = Date.parse(value);
  return !Number.isNaN(time) && new Date(time).toISOString() === value && !value.startsWith('0000');
}

export function decodeCursor(cursor: string | undefined): CursorKey | undefined {
  if (!cursor) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { c?: unknown; i?: unknown };
    if (isCursorTime(parsed.c) && isUuid(parsed.i)) return { createdAt: parsed.c, id: parsed.i };
  } catch {
    // fall through
  }
  throw problems.badField('cursor', 'not a cursor this API gave out');
}

/** Fetches limit + 1 rows to know whether another page exists. */
export function toPage<E extends { createdAt: Date; id: string }, T>(rows: E[], limit: number, map: (row: E) => T): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items: items.map(map), nextCursor: more && last ? encodeCursor(last) : null };
}
