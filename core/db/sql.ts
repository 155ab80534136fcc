// A statement written once in SQL ($1, $2... placeholders) and run either on the
// pg pool under the hub's Prisma client (hot paths: prepared by name on each
// connection, none of Prisma's per-query work) or through Prisma itself (inside a
// Prisma transaction). One text per statement, whichever way it runs.
import pg from 'pg';
import type { Db, Prisma, SqlPool } from './client.js';

export interface Statement {
  /** Unique per text: pg prepares it under this name once per connection. */
  name: string;
  text: string;
}

export type SqlTarget = SqlPool | Db | Prisma.TransactionClient;

export function statement(name: string, text: string): Statement {
  return { name, text };
}

export async function runSql<Row extends object>(target: SqlTarget, { name, text }: Statement, values: unknown[]): Promise<Row[]> {
  if (target instanceof pg.Pool) return (await target.query<Row>({ name, text, values })).rows;
  return target.$queryRawUnsafe<Row[]>(text, ...values);
}
