/**
 * Keyset cursors over rows ordered by (created_at, id): `<ISO time>|<uuid>` in base64url. Shared by
 * the lists that page that way (conflict journal, campaign tasks).
 */
import { EARLIEST_INSTANT_MS, isUuid, LATEST_INSTANT_MS } from '../validation.js';

export function encodeTimeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

/** The position a cursor names, or undefined for anything this API did not hand out. */
export function decodeTimeCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  const [at, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  const time = createdAt.getTime();
  // A time PostgreSQL cannot hold (year 0) is no row's; it must not reach the query.
  if (rest.length > 0 || !id || !isUuid(id) || Number.isNaN(time) || time < EARLIEST_INSTANT_MS || time > LATEST_INSTANT_MS) return undefined;
  return { createdAt, id };
}
