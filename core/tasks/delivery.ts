// A task as its journey delivers it: read once, marked done with what the CRM
// answered. Both run once per task on the worker's hot path, so they are plain
// SQL on the pg pool (core/db/sql.ts) rather than Prisma queries.
import { runSql, statement, type SqlTarget } from '../db/sql.js';

export interface TaskToDeliver {
  id: string;
  projectId: string;
  phone: string;
  name: string | null;
  email: string | null;
  data: unknown;
  status: 'accepted' | 'dispatched' | 'done' | 'failed';
  result: unknown;
  error: string | null;
}

const selectTask = statement(
  'tasks.to_deliver',
  `SELECT id, project_id AS "projectId", phone, name, email, data, status::text AS status, result, error FROM tasks WHERE id = $1::uuid`,
);

export async function taskToDeliver(db: SqlTarget, taskId: string): Promise<TaskToDeliver | undefined> {
  return (await runSql<TaskToDeliver>(db, selectTask, [taskId]))[0];
}

const markDone = statement(
  'tasks.mark_done',
  `UPDATE tasks SET status = 'done', result = $2::jsonb, error = NULL, updated_at = now() WHERE id = $1::uuid`,
);

export async function markTaskDone(db: SqlTarget, taskId: string, result: Record<string, unknown>): Promise<void> {
  await runSql(db, markDone, [taskId, JSON.stringify(result)]);
}
