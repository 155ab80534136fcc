// Which hub contact (project + E.164 phone) a CRM record belongs to, from the
// identity link table. Webhooks name a record by the CRM's id only, while a
// journey is addressed by phone, so every CRM change passes through here.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';
import type { OutboxTx } from '../outbox/dispatcher.js';

type Queryable = Db | OutboxTx;

export interface CrmRecordRef {
  projectId: string;
  connectorInstanceId: string;
  externalId: string;
}

/** externalId -> phone for the records of one connector instance that are linked. */
export async function linkedPhones(db: Queryable, projectId: string, connectorInstanceId: string, externalIds: string[]): Promise<Map<string, string>> {
  if (externalIds.length === 0) return new Map();
  const rows = await db.$queryRaw<{ externalId: string; phone: string }[]>`
    SELECT external_id AS "externalId", contact_phone AS phone FROM contact_links
    WHERE project_id = ${projectId}::uuid AND connector_instance_id = ${connectorInstanceId}::uuid
      AND external_id = ANY(${externalIds}::text[])`;
  return new Map(rows.map((row) => [row.externalId, row.phone]));
}

export async function linkedPhone(db: Queryable, record: CrmRecordRef): Promise<string | undefined> {
  return (await linkedPhones(db, record.projectId, record.connectorInstanceId, [record.externalId])).get(record.externalId);
}

/**
 * Links the record to the phone unless it is linked already, and answers the
 * phone the link holds. An existing link wins: identity resolution may have set
 * it with more care (match rules, an ambiguity flag) than a webhook's lookup.
 */
export async function linkCrmRecord(tx: Queryable, record: CrmRecordRef, phone: string): Promise<string> {
  // One round trip: the inserted row, or else the one that was there.
  const rows = await tx.$queryRaw<{ phone: string }[]>`
    WITH inserted AS (
      INSERT INTO contact_links (id, project_id, contact_phone, connector_instance_id, external_id)
      VALUES (${randomUUID()}::uuid, ${record.projectId}::uuid, ${phone}, ${record.connectorInstanceId}::uuid, ${record.externalId})
      ON CONFLICT (project_id, connector_instance_id, external_id) DO NOTHING
      RETURNING contact_phone)
    SELECT contact_phone AS phone FROM inserted
    UNION ALL
    SELECT contact_phone FROM contact_links
    WHERE project_id = ${record.projectId}::uuid AND connector_instance_id = ${record.connectorInstanceId}::uuid AND external_id = ${record.externalId}
    LIMIT 1`;
  // A link committed by a concurrent transaction after this statement's snapshot
  // makes the insert do nothing and stays invisible to it: read it afresh.
  const linked = rows[0]?.phone ?? (await linkedPhone(tx, record));
  if (linked === undefined) throw new Error(`contact link for ${record.connectorInstanceId}/${record.externalId} vanished after it was written`);
  return linked;
}
