// A task as its journey delivers it: read once, marked done with what the CRM
// answered (and the record linked to the contact). Both run once per task on the worker's hot path, so they are plain
// SQL on the pg pool (core/db/sql.ts) rather than Prisma queries.
import { randomUUID } from 'node:crypto';
import { runSql, statement, type SqlTarget } from '../db/sql.js';

/**
 * The field a delivered task writes into the CRM record beside the task's data: the hub's own
 * bookkeeping (which task made the record), never contact data. Reconciliation, polling and the
 * screen pop leave it out.
 */
export const HUB_TASK_ID_FIELD = 'hubTaskId';

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

// The record the CRM answered is this contact's: it joins the identity link table in the same
// statement, unless linked already (as core/webhooks/contact-links.ts links: an existing link,
// perhaps flagged by reconciliation, wins). A later webhook of that record then goes straight to
// the journey, without asking the CRM whose record it is.
const markDoneAndLink = statement(
  'tasks.mark_done_and_link',
  `WITH done AS (
     UPDATE tasks SET status = 'done', result = $2::jsonb, error = NULL, updated_at = now() WHERE id = $1::uuid RETURNING project_id, phone
   )
   INSERT INTO contact_links (id, project_id, contact_phone, connector_instance_id, external_id, ambiguous)
   SELECT $3::uuid, project_id, phone, $4::uuid, $5, false FROM done
   ON CONFLICT (project_id, connector_instance_id, external_id) DO NOTHING`,
);

/** Marks the task done with what its delivery answered, and links the CRM record it wrote to the contact. */
export async function markTaskDone(db: SqlTarget, taskId: string, result: Record<string, unknown>, record: { connectorInstanceId: string; externalId: string }): Promise<void> {
  await runSql(db, markDoneAndLink, [taskId, JSON.stringify(result), randomUUID(), record.connectorInstanceId, record.externalId]);
}
