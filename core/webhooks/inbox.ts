// The webhook inbox: CRM events are stored before the CRM hears 2xx, together
// with the outbox rows that carry them on, in one transaction. A redelivered
// event (CRMs retry on any doubt) hits the unique (instance, event id) and adds
// nothing. No CRM is called here: the request path only writes.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { runSql, statement, type SqlTarget } from '../db/sql.js';
import type { OutboxTx } from '../outbox/dispatcher.js';
import type { WebhookEvent } from '../../connectors/sdk/types.js';
import { journeyWorkflowId, type CrmChange } from '../../workflows/journey/shared.js';
import { crmContactResolverWorkflowId } from '../../workflows/crm-changes/shared.js';
import { linkedPhones } from './contact-links.js';

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
 * Stores the events and, for the new ones, an outbox row each: straight to the
 * journey when the record is linked to a contact, else to contact resolution.
 * Throws when the database does: then nothing is stored and the CRM must retry.
 */
export async function storeWebhookEvents(db: Db, target: WebhookTarget, events: WebhookEvent[]): Promise<StoredWebhook> {
  if (events.length === 0) return { received: 0, duplicates: 0, queued: 0 };
  return db.$transaction((tx) => storeWebhookEventsIn(tx, target, events));
}

/**
 * The same in the caller's transaction: a poller stores the changes it read and
 * moves its checkpoint in one commit (core/polling).
 */
export async function storeWebhookEventsIn(tx: OutboxTx, target: WebhookTarget, events: WebhookEvent[]): Promise<StoredWebhook> {
  if (events.length === 0) return { received: 0, duplicates: 0, queued: 0 };
  const rows = events.map((event) => ({ id: randomUUID(), event }));
  // The raw body is not stored: it may carry the CRM's shared secret (Bitrix24 does).
  const inserted = await tx.$queryRaw<{ id: string; receivedAt: Date }[]>`
    INSERT INTO webhook_events (id, project_id, connector_instance_id, event_id, kind, external_id, payload)
    SELECT t.id, ${target.projectId}::uuid, ${target.id}::uuid, t.event_id, t.kind, t.external_id, t.payload::jsonb
    FROM unnest(${rows.map((row) => row.id)}::uuid[], ${rows.map((row) => row.event.eventId)}::text[],
                ${rows.map((row) => row.event.kind)}::text[], ${rows.map((row) => row.event.externalId)}::text[],
                ${rows.map((row) => JSON.stringify(row.event))}::text[])
      AS t(id, event_id, kind, external_id, payload)
    ON CONFLICT (connector_instance_id, event_id) DO NOTHING
    RETURNING id::text AS id, received_at AS "receivedAt"`;
  const receivedAt = new Map(inserted.map((row) => [row.id, row.receivedAt.toISOString()]));
  const fresh = rows.filter((row) => receivedAt.has(row.id));

  const phones = await linkedPhones(tx, target.projectId, target.id, [...new Set(fresh.map((row) => row.event.externalId))]);
  const outbox = fresh.map(({ id, event }): OutboxRowInput => {
    const change: CrmChange = { ...event, connectorInstanceId: target.id, receivedAt: receivedAt.get(id) as string };
    const phone = phones.get(event.externalId);
    return phone === undefined
      ? { kind: RESOLVE_CRM_CONTACT_OUTBOX_KIND, workflowId: crmContactResolverWorkflowId(target.id), payload: { projectId: target.projectId, webhookEventId: id, change } }
      : journeyRow({ projectId: target.projectId, phone, webhookEventId: id, change });
  });
  outbox.push(...(await rechecks(tx, target, rows.filter((row) => !receivedAt.has(row.id)).map((row) => row.event))));
  await insertOutboxRows(tx, target.projectId, outbox);
  return { received: events.length, duplicates: events.length - fresh.length, queued: outbox.length };
}

/**
 * A value-less notification received again. Whole-second stamps (Bitrix24) give a second edit of
 * the record within the same second the same event id as the first, so the repeat may stand for a
 * change the journey's read of the first has not seen: the journey of a linked record is asked to
 * read it once more (`recheck`; it records no second change). An unlinked record's first
 * notification is still on its way through contact resolution, whose read comes after this one.
 * Changes read by polling carry their values and a repeat of those is only a repeat.
 */
async function rechecks(tx: OutboxTx, target: WebhookTarget, repeated: WebhookEvent[]): Promise<OutboxRowInput[]> {
  const notifications = repeated.filter((event) => event.changes === undefined);
  if (notifications.length === 0) return [];
  const phones = await linkedPhones(tx, target.projectId, target.id, [...new Set(notifications.map((event) => event.externalId))]);
  const linked = notifications.filter((event) => phones.has(event.externalId));
  if (linked.length === 0) return [];
  const stored = await tx.$queryRaw<{ id: string; eventId: string; receivedAt: Date }[]>`
    SELECT id::text AS id, event_id AS "eventId", received_at AS "receivedAt" FROM webhook_events
    WHERE connector_instance_id = ${target.id}::uuid AND event_id = ANY(${linked.map((event) => event.eventId)}::text[])`;
  const first = new Map(stored.map((row) => [row.eventId, row]));
  return linked.flatMap((event) => {
    const original = first.get(event.eventId);
    if (original === undefined) return [];
    const change: CrmChange = { ...event, connectorInstanceId: target.id, receivedAt: original.receivedAt.toISOString(), recheck: true };
    return [journeyRow({ projectId: target.projectId, phone: phones.get(event.externalId) as string, webhookEventId: original.id, change })];
  });
}

/** Queues a change whose contact was just resolved for its journey (in the caller's transaction). */
export async function queueCrmChangeForJourney(tx: OutboxTx, payload: JourneyCrmChangePayload): Promise<void> {
  await insertOutboxRows(tx, payload.projectId, [journeyRow(payload)]);
}

function journeyRow(payload: JourneyCrmChangePayload): OutboxRowInput {
  // Addressed to the journey's id, so the dispatcher keeps it in order with the contact's tasks.
  return { kind: JOURNEY_CRM_CHANGE_OUTBOX_KIND, workflowId: journeyWorkflowId(payload.projectId, payload.phone), payload };
}

async function insertOutboxRows(tx: OutboxTx, projectId: string, rows: OutboxRowInput[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.$executeRaw`
    INSERT INTO outbox (project_id, kind, workflow_id, payload)
    SELECT ${projectId}::uuid, t.kind, t.workflow_id, t.payload::jsonb
    FROM unnest(${rows.map((row) => row.kind)}::text[], ${rows.map((row) => row.workflowId)}::text[],
                ${rows.map((row) => JSON.stringify(row.payload))}::text[])
      AS t(kind, workflow_id, payload)`;
}

const markProcessed = statement('webhook_events.mark_processed', `UPDATE webhook_events SET processed_at = now() WHERE id = $1::uuid AND processed_at IS NULL`);

/** The stored event reached its journey (a repeat keeps the first time). */
export async function markWebhookEventProcessed(db: SqlTarget, webhookEventId: string): Promise<void> {
  await runSql(db, markProcessed, [webhookEventId]);
}
