// The checkpoint on a real hub database: a page of changes is stored with its
// cursor in one transaction, only the fields that changed since the last poll are
// reported, a page read again (from an old cursor, or after the remembered states
// were lost) stores nothing twice, and an attempt whose cursor has moved writes nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChangedContact, ChangedContactsPage } from '../../connectors/sdk/types.js';
import { createHubDatabase } from '../../test/support/hub.js';
import { createDb, type Db } from '../db/client.js';
import { createProject } from '../projects/projects.js';
import { hashFieldValues, isEcho, rememberWrite, type HubWriteLedger } from '../webhooks/echo.js';
import { storePolledPage } from './checkpoint.js';

let db: Db;
let drop: () => Promise<void>;
let projectId: string;
let connectorInstanceId: string;

const contact = (externalId: string, name: string, marker: string, fields: Record<string, unknown> = {}): ChangedContact => ({
  externalId,
  phone: `+1415555${externalId.padStart(4, '0')}`,
  name,
  email: null,
  fields,
  updatedAt: '2026-11-24T10:00:00.000Z',
  modifiedMarker: marker,
});
const page = (cursor: string, ...contacts: ChangedContact[]): ChangedContactsPage => ({ contacts, cursor, more: false });

async function storedEvents(): Promise<{ eventId: string; changes: Record<string, unknown> }[]> {
  const rows = await db.webhookEvent.findMany({ where: { connectorInstanceId }, orderBy: { receivedAt: 'asc' } });
  return rows.map((row) => ({ eventId: row.eventId, changes: (row.payload as { changes: Record<string, unknown> }).changes }));
}

beforeAll(async () => {
  const database = await createHubDatabase();
  drop = database.drop;
  db = createDb(database.url);
  projectId = (await createProject(db, { slug: `poll-${randomUUID().slice(0, 8)}`, name: 'Polling', defaultRegion: 'US' })).id;
});
afterAll(async () => {
  await db?.$disconnect();
  await drop?.();
});
beforeEach(async () => {
  connectorInstanceId = randomUUID();
  await db.connectorInstance.create({ data: { id: connectorInstanceId, projectId, kind: 'sql-crm', name: `legacy-${connectorInstanceId.slice(0, 8)}`, config: {} } });
  await db.connectorPoller.create({ data: { connectorInstanceId, projectId, intervalSeconds: 5 } });
});

describe('poller checkpoint', () => {
  it('stores a page with its cursor, then reports only the fields that changed', async () => {
    const first = await storePolledPage(db, { connectorInstanceId, projectId }, null, page('c1', contact('1', 'Ada', 'm1', { status: 'new' }), contact('2', 'Grace', 'm1')));
    expect(first).toMatchObject({ stored: true, changes: 2, queued: 2 });
    expect((await db.connectorPoller.findUniqueOrThrow({ where: { connectorInstanceId } })).cursor).toBe('c1');
    // Unlinked records go to contact resolution, through the outbox.
    expect(await db.outboxEntry.count({ where: { projectId, kind: 'journey.crm-change.resolve-contact' } })).toBeGreaterThanOrEqual(2);

    const second = await storePolledPage(db, { connectorInstanceId, projectId }, 'c1', page('c2', contact('1', 'Ada King', 'm2', { status: 'new' }), contact('2', 'Grace', 'm1')));
    expect(second).toMatchObject({ stored: true, changes: 1, unchanged: 1 });
    const events = await storedEvents();
    expect(events).toHaveLength(3);
    expect(events[2]?.changes).toEqual({ name: 'Ada King' });
    // Exactly what the journey's echo ledger needs: a change that only repeats the hub's write is an echo.
    const ledger: HubWriteLedger = {};
    rememberWrite(ledger, connectorInstanceId, '1', hashFieldValues({ name: 'Ada King' }), new Date().toISOString());
    expect(isEcho(ledger, { connectorInstanceId, externalId: '1', receivedAt: new Date().toISOString(), changes: events[2]?.changes })).toBe(true);
  });

  it('sends a linked record\'s change straight to its journey, in order with the others, with the stored event\'s time', async () => {
    await db.contactLink.create({ data: { projectId, contactPhone: '+14155550007', connectorInstanceId, externalId: '7' } });
    const stored = await storePolledPage(db, { connectorInstanceId, projectId }, null, page('c1', contact('7', 'Linked', 'm1'), contact('8', 'Unlinked', 'm1')));
    expect(stored).toMatchObject({ stored: true, changes: 2, queued: 2 });
    const rows = await db.outboxEntry.findMany({ where: { projectId, payload: { path: ['change', 'connectorInstanceId'], equals: connectorInstanceId } }, orderBy: { id: 'asc' } });
    expect(rows.map((row) => [row.kind, row.workflowId])).toEqual([
      ['journey.crm-change', `journey/${projectId}/+14155550007`],
      ['journey.crm-change.resolve-contact', `crm-contact-resolver/${connectorInstanceId}`],
    ]);
    const event = await db.webhookEvent.findFirstOrThrow({ where: { connectorInstanceId, externalId: '7' } });
    expect(rows[0]?.payload).toMatchObject({ phone: '+14155550007', webhookEventId: event.id, change: { externalId: '7', receivedAt: event.receivedAt.toISOString() } });
  });

  it('stores nothing twice when a page is read again, even without the remembered states', async () => {
    await storePolledPage(db, { connectorInstanceId, projectId }, null, page('c1', contact('1', 'Ada', 'm1')));
    // Replayed from the start: the state is known, nothing is reported, not even the remembered state is rewritten.
    const seenAt = (await db.polledRecord.findFirstOrThrow({ where: { connectorInstanceId } })).seenAt;
    await db.connectorPoller.update({ where: { connectorInstanceId }, data: { cursor: null } });
    expect(await storePolledPage(db, { connectorInstanceId, projectId }, null, page('c1', contact('1', 'Ada', 'm1')))).toMatchObject({ stored: true, changes: 0 });
    expect((await db.polledRecord.findFirstOrThrow({ where: { connectorInstanceId } })).seenAt).toEqual(seenAt);
    // The remembered states lost too: the change is reported again, and the inbox recognizes it by (record, marker, values).
    await db.polledRecord.deleteMany({ where: { connectorInstanceId } });
    await db.connectorPoller.update({ where: { connectorInstanceId }, data: { cursor: null } });
    expect(await storePolledPage(db, { connectorInstanceId, projectId }, null, page('c1', contact('1', 'Ada', 'm1')))).toMatchObject({ stored: true, changes: 1, duplicates: 1, queued: 0 });
    expect(await storedEvents()).toHaveLength(1);
  });

  it('writes nothing for an attempt whose cursor has moved, or once polling is removed', async () => {
    await storePolledPage(db, { connectorInstanceId, projectId }, null, page('c1', contact('1', 'Ada', 'm1')));
    // A retried attempt that still read from the start must not step the states back.
    const stale = await storePolledPage(db, { connectorInstanceId, projectId }, null, page('c0', contact('1', 'Old Ada', 'm0')));
    expect(stale).toEqual({ stored: false, reason: 'the checkpoint moved since this page was read' });
    expect((await db.connectorPoller.findUniqueOrThrow({ where: { connectorInstanceId } })).cursor).toBe('c1');
    expect(await storedEvents()).toHaveLength(1);

    await db.connectorPoller.delete({ where: { connectorInstanceId } });
    expect(await storePolledPage(db, { connectorInstanceId, projectId }, 'c1', page('c2', contact('1', 'Ada King', 'm2')))).toEqual({ stored: false, reason: 'polling was removed' });
  });
});
