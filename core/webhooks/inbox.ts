// The webhook inbox: CRM events are stored before the CRM hears 2xx, together
// with the outbox rows that carry them on, in one transaction. A redelivered
// event (CRMs retry on any doubt) hits the unique (instance, event id) and adds
// nothing. No CRM is called here: the request path only writes.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { sqlPoolOf, type Db } from '../db/client.js';
import { runSql, statement, type SqlTarget } from '../db/sql.js';
import type { OutboxTx } from '../outbox/dispatcher.js';
import type { WebhookEvent } from '../../connectors/sdk/types.js';
import { journeyWorkflowId, type CrmChange } from '../../workflows/journey/shared.js';
import { crmContactResolverWorkflowId } from '../../workflows/crm-changes/shared.js';

/** A CRM change whose contact is known: signalled to the contact's journey. */
export const JOURNEY_CRM_CHANGE_OUTBOX_KIND = 'journey.crm-change';
/** A CRM change for a record not linked yet: a resolveCrmContact workflow asks the CRM whose it is. */
export const RESOLVE_CRM_CONTACT_OUTBOX_KIND = 'journey.crm-change.resolve-contact';

export const webhookEventKinds = ['contact.created', 'contact.updated', 'contact.deleted', 'deal.updated', 'other'] as const satisfies readonly WebhookEvent['kind'][];

/** What a connector's `parse` must produce; checked, since a connector bug must not reach a journey. */
export const webhookEventSchema = z.object({
  eventId: z.string().min(1).max(500),
  kind: z.enum(webhookEventKinds),
  externalId: z.string().min(1).max(500),
  occurredAt: z.iso.datetime({ offset: true }).optional(),
  changes: z.record(z.string(), z.unknown()).optional(),
});

export const crmChangeSchema = webhookEventSchema.extend({
  connectorInstanceId: z.uuid(),
  receivedAt: z.iso.datetime({ offset: true }),
  recheck: z.boolean().optional(),
}) satisfies z.ZodType<CrmChange>;

export const journeyCrmChangePayloadSchema = z.object({
  projectId: z.uuid(),
  phone: z.string(),
  webhookEventId: z.uuid(),
  change: crmChangeSchema,
});
export type JourneyCrmChangePayload = z.infer<typeof journeyCrmChangePayloadSchema>;

export const resolveCrmContactPayloadSchema = z.object({
  projectId: z.uuid(),
  webhookEventId: z.uuid(),
  change: crmChangeSchema,
});
export type ResolveCrmContactPayload = z.infer<typeof resolveCrmContactPayloadSchema>;

export interface WebhookTarget {
  /** The connector instance the CRM called. */
  id: string;
  projectId: string;
}

export interface StoredWebhook {
  /** Events in the call. */
  received: number;
  /** Events stored before (a redelivery): not stored again; a value-less one of a linked record asks its journey to read the record again. */
  duplicates: number;
  /** Outbox rows written (wake the dispatcher). */
  queued: number;
}

interface OutboxRowInput {
  kind: string;
  workflowId: string;
  payload: JourneyCrmChangePayload | ResolveCrmContactPayload;
}

/**
 * The instance a call was verified against: the call is stored only while the instance is
 * still as it was then (`updatedAt`), so a cached instance never lets through a call signed
 * with a secret rotated since, nor one for an instance deleted since.
 */
export interface VerifiedAgainst {
  updatedAt: Date;
}

/** The instance changed or went away after the call was verified: verify again, nothing was stored. */
export const INSTANCE_CHANGED = Symbol('instance changed');

// One round trip: the instance's stamp and which of the named records are linked to a contact.
const instanceAndLinks = statement(
  'webhook_events.instance_and_links',
  `SELECT i.updated_at AS "updatedAt",
     COALESCE((SELECT json_agg(json_build_array(l.external_id, l.contact_phone)) FROM contact_links l
               WHERE l.project_id = i.project_id AND l.connector_instance_id = i.id AND l.external_id = ANY($2::text[])), '[]'::json) AS links
   FROM connector_instances i WHERE i.id = $1::uuid`,
);

// One round trip, one implicit transaction: the new events and their outbox rows (in the
// call's order, which the dispatcher keeps per workflow), each row's change stamped with
// its event's received_at (toISOString's format). A redelivered event adds nothing.
const insertEventsAndOutbox = statement(
  'webhook_events.store',
  `WITH t AS (
     SELECT * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
       WITH ORDINALITY AS t(id, event_id, kind, external_id, payload, outbox_kind, workflow_id, outbox_payload, ord)
   ), inserted AS (
     INSERT INTO webhook_events (id, project_id, connector_instance_id, event_id, kind, external_id, payload)
     SELECT t.id, $1::uuid, $2::uuid, t.event_id, t.kind, t.external_id, t.payload::jsonb FROM t ORDER BY t.ord
     ON CONFLICT (connector_instance_id, event_id) DO NOTHING
     RETURNING id, received_at
   ), queued AS (
     INSERT INTO outbox (project_id, kind, workflow_id, payload)
     SELECT $1::uuid, t.outbox_kind, t.workflow_id,
            jsonb_set(t.outbox_payload::jsonb, '{change,receivedAt}',
                      to_jsonb(to_char(i.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
     FROM inserted i JOIN t ON t.id = i.id ORDER BY t.ord
     RETURNING 1
   )
   SELECT id::text AS id FROM inserted`,
);

/**
 * Stores the events and, for the new ones, an outbox row each: straight to the
 * journey when the record is linked to a contact, else to contact resolution.
 * Two statements on the pool, no explicit transaction: the links are read first (as a
 * read-committed transaction would read them: a record linked in between goes to
 * resolution, which finds the link), then events and outbox rows are written by one
 * statement. Throws when the database does: then nothing is stored and the CRM must retry.
 */
export async function storeWebhookEvents(db: Db, target: WebhookTarget, events: WebhookEvent[], verified: VerifiedAgainst): Promise<StoredWebhook | typeof INSTANCE_CHANGED> {
  return store(sqlPoolOf(db), target, events, verified);
}

/**
 * The same in the caller's transaction: a poller stores the changes it read and
 * moves its checkpoint in one commit (core/polling).
 */
export async function storeWebhookEventsIn(tx: OutboxTx, target: WebhookTarget, events: WebhookEvent[]): Promise<StoredWebhook> {
  const stored = await store(tx, target, events, undefined);
  if (stored === INSTANCE_CHANGED) throw new Error('unreachable: no instance stamp was given');
  return stored;
}

async function store(sql: SqlTarget, target: WebhookTarget, events: WebhookEvent[], verified: VerifiedAgainst | undefined): Promise<StoredWebhook | typeof INSTANCE_CHANGED> {
  if (events.length === 0) return { received: 0, duplicates: 0, queued: 0 };
  const externalIds = [...new Set(events.map((event) => event.externalId))];
  const [instance] = await runSql<{ updatedAt: Date; links: [string, string][] }>(sql, instanceAndLinks, [target.id, externalIds]);
  if (verified && (!instance || instance.updatedAt.getTime() !== verified.updatedAt.getTime())) return INSTANCE_CHANGED;
  const phones = new Map(instance?.links ?? []);

  const rows = events.map((event) => {
    const id = randomUUID();
    // receivedAt is filled in by the statement, from the stored event.
    const change: CrmChange = { ...event, connectorInstanceId: target.id, receivedAt: '' };
    const phone = phones.get(event.externalId);
    const outbox: OutboxRowInput = phone === undefined
      ? { kind: RESOLVE_CRM_CONTACT_OUTBOX_KIND, workflowId: crmContactResolverWorkflowId(target.id), payload: { projectId: target.projectId, webhookEventId: id, change } }
      : journeyRow({ projectId: target.projectId, phone, webhookEventId: id, change });
    return { id, event, outbox };
  });
  // The raw body is not stored: it may carry the CRM's shared secret (Bitrix24 does).
  const inserted = await runSql<{ id: string }>(sql, insertEventsAndOutbox, [
    target.projectId,
    target.id,
    rows.map((row) => row.id),
    rows.map((row) => row.event.eventId),
    rows.map((row) => row.event.kind),
    rows.map((row) => row.event.externalId),
    rows.map((row) => JSON.stringify(row.event)),
    rows.map((row) => row.outbox.kind),
    rows.map((row) => row.outbox.workflowId),
    rows.map((row) => JSON.stringify(row.outbox.payload)),
  ]);
  const fresh = new Set(inserted.map((row) => row.id));
  const repeats = rows.filter((row) => !fresh.has(row.id)).map((row) => row.event);
  const recheckRows = await rechecks(sql, target, phones, repeats);
  await insertOutboxRows(sql, target.projectId, recheckRows);
  return { received: events.length, duplicates: repeats.length, queued: fresh.size + recheckRows.length };
}

/**
 * A value-less notification received again. Whole-second stamps (Bitrix24) give a second edit of
 * the record within the same second the same event id as the first, so the repeat may stand for a
 * change the journey's read of the first has not seen: the journey of a linked record is asked to
 * read it once more (`recheck`; it records no second change). An unlinked record's first
 * notification is still on its way through contact resolution, whose read comes after this one.
 * Changes read by polling carry their values and a repeat of those is only a repeat.
 */
async function rechecks(sql: SqlTarget, target: WebhookTarget, phones: Map<string, string>, repeated: WebhookEvent[]): Promise<OutboxRowInput[]> {
  const linked = repeated.filter((event) => event.changes === undefined && phones.has(event.externalId));
  if (linked.length === 0) return [];
  const stored = await runSql<{ id: string; eventId: string; receivedAt: Date }>(sql, storedEvents, [target.id, linked.map((event) => event.eventId)]);
  const first = new Map(stored.map((row) => [row.eventId, row]));
  return linked.flatMap((event) => {
    const original = first.get(event.eventId);
    if (original === undefined) return [];
    const change: CrmChange = { ...event, connectorInstanceId: target.id, receivedAt: original.receivedAt.toISOString(), recheck: true };
    return [journeyRow({ projectId: target.projectId, phone: phones.get(event.externalId) as string, webhookEventId: original.id, change })];
  });
}

const storedEvents = statement(
  'webhook_events.by_event_id',
  `SELECT id::text AS id, event_id AS "eventId", received_at AS "receivedAt" FROM webhook_events
   WHERE connector_instance_id = $1::uuid AND event_id = ANY($2::text[])`,
);

/** Queues a change whose contact was just resolved for its journey (in the caller's transaction). */
export async function queueCrmChangeForJourney(tx: OutboxTx, payload: JourneyCrmChangePayload): Promise<void> {
  await insertOutboxRows(tx, payload.projectId, [journeyRow(payload)]);
}

function journeyRow(payload: JourneyCrmChangePayload): OutboxRowInput {
  // Addressed to the journey's id, so the dispatcher keeps it in order with the contact's tasks.
  return { kind: JOURNEY_CRM_CHANGE_OUTBOX_KIND, workflowId: journeyWorkflowId(payload.projectId, payload.phone), payload };
}

async function insertOutboxRows(sql: SqlTarget, projectId: string, rows: OutboxRowInput[]): Promise<void> {
  if (rows.length === 0) return;
  await runSql(sql, insertOutbox, [projectId, rows.map((row) => row.kind), rows.map((row) => row.workflowId), rows.map((row) => JSON.stringify(row.payload))]);
}

const insertOutbox = statement(
  'outbox.insert_rows',
  `INSERT INTO outbox (project_id, kind, workflow_id, payload)
   SELECT $1::uuid, t.kind, t.workflow_id, t.payload::jsonb
   FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(kind, workflow_id, payload, ord) ORDER BY t.ord`,
);

const markProcessed = statement('webhook_events.mark_processed', `UPDATE webhook_events SET processed_at = now() WHERE id = $1::uuid AND processed_at IS NULL`);

/** The stored event reached its journey (a repeat keeps the first time). */
export async function markWebhookEventProcessed(db: SqlTarget, webhookEventId: string): Promise<void> {
  await runSql(db, markProcessed, [webhookEventId]);
}

const markManyProcessed = statement('webhook_events.mark_many_processed', `UPDATE webhook_events SET processed_at = now() WHERE id = ANY($1::uuid[]) AND processed_at IS NULL`);

/** The same for many events, one statement. */
export async function markWebhookEventsProcessed(db: SqlTarget, webhookEventIds: string[]): Promise<void> {
  if (webhookEventIds.length === 0) return;
  await runSql(db, markManyProcessed, [webhookEventIds]);
}
