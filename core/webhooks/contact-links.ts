// Which hub contact (project + E.164 phone) a CRM record belongs to, from the
// identity link table. Webhooks name a record by the CRM's id only, while a
// journey is addressed by phone, so every CRM change passes through here.
// Each statement runs on the pg pool (journey activities) or inside a Prisma
// transaction (the outbox dispatcher), see core/db/sql.ts.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';
import { runSql, statement, type SqlTarget } from '../db/sql.js';
import { isUuid } from '../validation.js';

export interface CrmRecordRef {
  projectId: string;
  connectorInstanceId: string;
  externalId: string;
}

export interface RecordLink {
  connectorInstanceId: string;
  externalId: string;
  ambiguous: boolean;
}

export async function linkedPhone(db: SqlTarget, record: CrmRecordRef): Promise<string | undefined> {
  return (await linkedPhonesOf(db, [record])).get(recordKey(record));
}

/** One key per CRM record (project, instance, record id). */
export function recordKey(record: CrmRecordRef): string {
  return `${record.projectId}/${record.connectorInstanceId}/${record.externalId}`;
}

const selectLinkedPhonesOf = statement(
  'contact_links.phones_of_records',
  `SELECT l.project_id::text AS "projectId", l.connector_instance_id::text AS "connectorInstanceId", l.external_id AS "externalId", l.contact_phone AS phone
   FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS t(project_id, connector_instance_id, external_id)
   JOIN contact_links l USING (project_id, connector_instance_id, external_id)`,
);

/** recordKey -> phone for the records (of any instances) that are linked; one statement. */
export async function linkedPhonesOf(db: SqlTarget, records: readonly CrmRecordRef[]): Promise<Map<string, string>> {
  if (records.length === 0) return new Map();
  const rows = await runSql<CrmRecordRef & { phone: string }>(db, selectLinkedPhonesOf, [
    records.map((record) => record.projectId),
    records.map((record) => record.connectorInstanceId),
    records.map((record) => record.externalId),
  ]);
  return new Map(rows.map((row) => [recordKey(row), row.phone]));
}

const insertLinksUnlessLinked = statement(
  'contact_links.link_many_unless_linked',
  `INSERT INTO contact_links (id, project_id, contact_phone, connector_instance_id, external_id)
   SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[])
   ON CONFLICT (project_id, connector_instance_id, external_id) DO NOTHING
   RETURNING project_id::text AS "projectId", connector_instance_id::text AS "connectorInstanceId", external_id AS "externalId", contact_phone AS phone`,
);

/**
 * linkCrmRecord for many records: links each to its phone unless it is linked already and
 * answers recordKey -> the phone each link holds. One statement, and a second read only for
 * records another transaction linked meanwhile.
 */
export async function linkCrmRecords(db: SqlTarget, links: readonly { record: CrmRecordRef; phone: string }[]): Promise<Map<string, string>> {
  if (links.length === 0) return new Map();
  const rows = await runSql<CrmRecordRef & { phone: string }>(db, insertLinksUnlessLinked, [
    links.map(() => randomUUID()),
    links.map((link) => link.record.projectId),
    links.map((link) => link.phone),
    links.map((link) => link.record.connectorInstanceId),
    links.map((link) => link.record.externalId),
  ]);
  const phones = new Map(rows.map((row) => [recordKey(row), row.phone]));
  const linkedElsewhere = links.filter((link) => !phones.has(recordKey(link.record))).map((link) => link.record);
  for (const [key, phone] of await linkedPhonesOf(db, linkedElsewhere)) phones.set(key, phone);
  const vanished = linkedElsewhere.find((record) => !phones.has(recordKey(record)));
  if (vanished) throw new Error(`contact link for ${vanished.connectorInstanceId}/${vanished.externalId} vanished after it was written`);
  return phones;
}

/**
 * Links the record to the phone unless it is linked already, and answers the
 * phone the link holds. An existing link wins: identity resolution may have set
 * it with more care (match rules, an ambiguity flag) than a webhook's lookup.
 */
export async function linkCrmRecord(tx: SqlTarget, record: CrmRecordRef, phone: string): Promise<string> {
  return (await linkCrmRecords(tx, [{ record, phone }])).get(recordKey(record)) as string;
}

const upsertLinks = statement(
  'contact_links.upsert_many',
  `INSERT INTO contact_links (id, project_id, contact_phone, connector_instance_id, external_id, ambiguous)
   SELECT t.id, $1::uuid, $2, t.connector_instance_id, t.external_id, t.ambiguous
   FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::boolean[]) AS t(id, connector_instance_id, external_id, ambiguous)
   ON CONFLICT (project_id, connector_instance_id, external_id)
   DO UPDATE SET contact_phone = EXCLUDED.contact_phone, ambiguous = EXCLUDED.ambiguous, updated_at = now()`,
);

/** Links each CRM record found for the contact to it (reconciliation found them by phone; one statement for all). */
export async function linkRecordsToContact(db: SqlTarget, projectId: string, phone: string, links: readonly RecordLink[]): Promise<void> {
  if (links.length === 0) return;
  await runSql(db, upsertLinks, [
    projectId,
    phone,
    links.map(() => randomUUID()),
    links.map((link) => link.connectorInstanceId),
    links.map((link) => link.externalId),
    links.map((link) => link.ambiguous),
  ]);
}

export interface ContactLinkView {
  contactPhone: string;
  connectorInstanceId: string;
  /** The connector instance's name; null once the instance is deleted. */
  connector: string | null;
  externalId: string;
  /** The record was not taken as the contact without doubt: one of several of the number in its CRM, or set aside by the match rule. */
  ambiguous: boolean;
  updatedAt: string;
}

export interface ContactLinkQuery {
  contactPhone?: string;
  ambiguous?: boolean;
  cursor?: string;
  limit?: number;
}

export class InvalidLinkCursorError extends Error {}

/** The link table for people: a page ordered by phone, then record, so a page boundary never moves under later links. */
export async function listContactLinks(db: Db, projectId: string, query: ContactLinkQuery = {}): Promise<{ links: ContactLinkView[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 200);
  const after = query.cursor === undefined ? undefined : decodeLinkCursor(query.cursor);
  const [rows, instances] = await Promise.all([
    db.contactLink.findMany({
      where: {
        projectId,
        ...(query.contactPhone === undefined ? {} : { contactPhone: query.contactPhone }),
        ...(query.ambiguous === undefined ? {} : { ambiguous: query.ambiguous }),
        ...(after ? { OR: [{ contactPhone: { gt: after.phone } }, { contactPhone: after.phone, id: { gt: after.id } }] } : {}),
      },
      orderBy: [{ contactPhone: 'asc' }, { id: 'asc' }],
      take: limit + 1,
    }),
    db.connectorInstance.findMany({ where: { projectId }, select: { id: true, name: true } }),
  ]);
  const names = new Map(instances.map((instance) => [instance.id, instance.name]));
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    links: page.map((row) => ({
      contactPhone: row.contactPhone,
      connectorInstanceId: row.connectorInstanceId,
      connector: names.get(row.connectorInstanceId) ?? null,
      externalId: row.externalId,
      ambiguous: row.ambiguous,
      updatedAt: row.updatedAt.toISOString(),
    })),
    nextCursor: rows.length > limit && last ? Buffer.from(`${last.contactPhone}|${last.id}`).toString('base64url') : null,
  };
}

function decodeLinkCursor(cursor: string): { phone: string; id: string } {
  const [phone, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (rest.length > 0 || !phone || !id || !isUuid(id)) {
    throw new InvalidLinkCursorError('not a cursor from this API; pass nextCursor of the previous page');
  }
  return { phone, id };
}
