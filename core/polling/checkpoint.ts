// The poller's checkpoint. A page of changes read from a CRM is stored the way a
// webhook's events are (webhook inbox + outbox -> resolution or the journey's
// crmChanged signal) and the cursor moves in the same transaction, so a crash
// anywhere either stores the page and moves the cursor, or does neither and the
// next poll reads the page again. Each change is an inbox event whose id names the
// record and the state read (marker and changed values): reading a state twice
// stores it once.
import { createHash } from 'node:crypto';
import type { ChangedContact, ChangedContactsPage, WebhookEvent } from '../../connectors/sdk/types.js';
import type { Db } from '../db/client.js';
import type { OutboxTx } from '../outbox/dispatcher.js';
import { storeWebhookEventsIn } from '../webhooks/inbox.js';
import { fieldDelta, polledValues } from './snapshots.js';

export interface PollerCheckpoint {
  connectorInstanceId: string;
  projectId: string;
  intervalSeconds: number;
  enabled: boolean;
  cursor: string | null;
  startAt: string;
}

export async function loadCheckpoint(db: Db, connectorInstanceId: string): Promise<PollerCheckpoint | null> {
  const row = await db.connectorPoller.findUnique({ where: { connectorInstanceId } });
  if (!row) return null;
  return {
    connectorInstanceId,
    projectId: row.projectId,
    intervalSeconds: row.intervalSeconds,
    enabled: row.enabled,
    cursor: row.cursor,
    startAt: row.startAt.toISOString(),
  };
}

export type StoredPage =
  | { stored: true; changes: number; unchanged: number; duplicates: number; queued: number }
  /** The checkpoint moved (another attempt stored this page) or polling was removed: nothing written. */
  | { stored: false; reason: string };

/**
 * Stores the page's changes and moves the cursor from `basedOn` to `page.cursor`,
 * in one transaction. Compare-and-set on the cursor: an attempt that read from a
 * cursor that has moved since (a retried activity whose first attempt was not dead)
 * writes nothing, so snapshots never step back to an older state.
 */
export async function storePolledPage(db: Db, checkpoint: Pick<PollerCheckpoint, 'connectorInstanceId' | 'projectId'>, basedOn: string | null, page: ChangedContactsPage): Promise<StoredPage> {
  const { connectorInstanceId, projectId } = checkpoint;
  return db.$transaction(async (tx) => {
    const [current] = await tx.$queryRaw<{ cursor: string | null }[]>`
      SELECT cursor FROM connector_pollers WHERE connector_instance_id = ${connectorInstanceId}::uuid FOR UPDATE`;
    if (!current) return { stored: false, reason: 'polling was removed' };
    if (current.cursor !== basedOn) return { stored: false, reason: 'the checkpoint moved since this page was read' };

    const contacts = latestPerRecord(page.contacts);
    const previous = await previousStates(tx, connectorInstanceId, contacts.map((contact) => contact.externalId));
    const events: WebhookEvent[] = [];
    const states: { externalId: string; marker: string; hashes: Record<string, string> }[] = [];
    for (const contact of contacts) {
      const seen = previous.get(contact.externalId);
      const delta = fieldDelta(seen?.fieldHashes, polledValues(contact));
      const unchanged = Object.keys(delta.changes).length === 0;
      // Read again as it was (the settle window, a re-polled page): nothing to store at all.
      if (unchanged && seen?.modifiedMarker === contact.modifiedMarker) continue;
      states.push({ externalId: contact.externalId, marker: contact.modifiedMarker, hashes: delta.hashes });
      // Changed only outside the hub's fields: remembered, not reported.
      if (unchanged) continue;
      events.push(changeEvent(contact, delta.changes));
    }
    const stored = await storeWebhookEventsIn(tx, { id: connectorInstanceId, projectId }, events);
    await rememberStates(tx, connectorInstanceId, states);
    await tx.$executeRaw`
      UPDATE connector_pollers
      SET cursor = ${page.cursor}, last_polled_at = now(), last_error = NULL, updated_at = now(),
          changes_stored = changes_stored + ${stored.received - stored.duplicates}
      WHERE connector_instance_id = ${connectorInstanceId}::uuid`;
    return { stored: true, changes: events.length, unchanged: contacts.length - events.length, duplicates: stored.duplicates, queued: stored.queued };
  });
}

/** Notes a poll that found nothing, for whoever looks at the poller. */
export async function touchCheckpoint(db: Db, connectorInstanceId: string): Promise<void> {
  await db.$executeRaw`UPDATE connector_pollers SET last_polled_at = now(), last_error = NULL WHERE connector_instance_id = ${connectorInstanceId}::uuid`;
}

/** Keeps why a poll failed on the poller (shown with the connector), until a poll succeeds. */
export async function recordPollFailure(db: Db, connectorInstanceId: string, reason: string): Promise<void> {
  await db.$executeRaw`UPDATE connector_pollers SET last_error = ${reason.slice(0, 1000)} WHERE connector_instance_id = ${connectorInstanceId}::uuid`;
}

function changeEvent(contact: ChangedContact, changes: Record<string, unknown>): WebhookEvent {
  // The values are part of the id: two edits within one tick of a coarse clock share a marker, not their values.
  const valuesHash = createHash('sha256').update(JSON.stringify(Object.entries(changes).sort(([a], [b]) => (a < b ? -1 : 1)))).digest('hex').slice(0, 16);
  const occurredAt = contact.updatedAt === undefined ? Number.NaN : Date.parse(contact.updatedAt);
  return {
    eventId: `poll:${contact.externalId}:${contact.modifiedMarker}:${valuesHash}`.slice(0, 500),
    kind: 'contact.updated',
    externalId: contact.externalId,
    ...(Number.isNaN(occurredAt) ? {} : { occurredAt: new Date(occurredAt).toISOString() }),
    changes,
  };
}

/** A page holds a record once; should a connector repeat one, its last state counts. */
function latestPerRecord(contacts: ChangedContact[]): ChangedContact[] {
  const byId = new Map<string, ChangedContact>();
  for (const contact of contacts) {
    byId.delete(contact.externalId);
    byId.set(contact.externalId, contact);
  }
  return [...byId.values()];
}

interface SeenState {
  modifiedMarker: string;
  fieldHashes: Record<string, string>;
}

async function previousStates(tx: OutboxTx, connectorInstanceId: string, externalIds: string[]): Promise<Map<string, SeenState>> {
  if (externalIds.length === 0) return new Map();
  const rows = await tx.$queryRaw<(SeenState & { externalId: string })[]>`
    SELECT external_id AS "externalId", modified_marker AS "modifiedMarker", field_hashes AS "fieldHashes" FROM polled_records
    WHERE connector_instance_id = ${connectorInstanceId}::uuid AND external_id = ANY(${externalIds}::text[])`;
  return new Map(rows.map((row) => [row.externalId, { modifiedMarker: row.modifiedMarker, fieldHashes: row.fieldHashes }]));
}

async function rememberStates(tx: OutboxTx, connectorInstanceId: string, states: { externalId: string; marker: string; hashes: Record<string, string> }[]): Promise<void> {
  if (states.length === 0) return;
  await tx.$executeRaw`
    INSERT INTO polled_records (connector_instance_id, external_id, modified_marker, field_hashes)
    SELECT ${connectorInstanceId}::uuid, t.external_id, t.marker, t.hashes::jsonb
    FROM unnest(${states.map((state) => state.externalId)}::text[], ${states.map((state) => state.marker)}::text[],
                ${states.map((state) => JSON.stringify(state.hashes))}::text[]) AS t(external_id, marker, hashes)
    ON CONFLICT (connector_instance_id, external_id)
    DO UPDATE SET modified_marker = EXCLUDED.modified_marker, field_hashes = EXCLUDED.field_hashes, seen_at = now()`;
}
