// Polling a Bitrix24 portal (the sandbox, over HTTP) for changed contacts: every
// contact once across pages of 50 even when DATE_MODIFY (whole seconds) ties, later
// changes found from the cursor, fresh changes reported but not passed, and the
// datetime filter compared as an instant whatever offset it is written with.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CrmError } from '../sdk/errors.js';
import type { ChangedContact, ChangedContactsPage, ChangedContactsQuery } from '../sdk/types.js';
import { BitrixClient } from './bitrix-client.js';
import { createChangeOperations, type ChangeOptions } from './changes.js';
import { startBitrixSandbox, type BitrixSandbox } from './sandbox/index.js';
import { makeContext, makeOperations, RecordingLimiter } from './test-support.js';

let sandbox: BitrixSandbox;

beforeAll(async () => {
  sandbox = await startBitrixSandbox({ ratePerSecond: 1000, burst: 10_000 });
});
afterAll(() => sandbox.close());
beforeEach(() => sandbox.reset());

function changes(options: ChangeOptions = {}) {
  const context = makeContext({ webhookUrl: sandbox.webhookBase, phoneRegion: 'RU' }, new RecordingLimiter());
  return createChangeOperations(new BitrixClient(context.http, sandbox.webhookBase), context.config, options);
}

async function readAll(list: (query: ChangedContactsQuery) => Promise<ChangedContactsPage>, since: string | null, startAt?: string) {
  const seen: ChangedContact[] = [];
  let cursor = since;
  for (let pages = 1; ; pages += 1) {
    const page = await list({ since: cursor, limit: 200, startAt });
    seen.push(...page.contacts);
    cursor = page.cursor;
    if (!page.more) return { seen, cursor, pages };
    if (pages > 20) throw new Error('paging did not end');
  }
}

const seedContacts = (count: number, from = 0) =>
  Array.from({ length: count }, (_, index) => sandbox.seed('contact', { NAME: `Contact ${from + index}`, PHONE: [{ VALUE: `+7912000${String(from + index).padStart(4, '0')}`, VALUE_TYPE: 'WORK' }] }));

describe('bitrix24 change polling', () => {
  it('reads every contact once in (DATE_MODIFY, ID) order across pages of 50, ties included', async () => {
    const ids = seedContacts(120);
    const { seen, cursor, pages } = await readAll(changes({ settleMs: 0 }).listChangedContacts, null);
    expect(seen.map((contact) => contact.externalId)).toEqual(ids.map(String));
    expect(pages).toBeGreaterThanOrEqual(3);
    // Seeded within a second or two: most contacts share a DATE_MODIFY.
    expect(new Set(seen.map((contact) => contact.modifiedMarker)).size).toBeLessThan(10);
    expect(seen[0]).toMatchObject({ name: 'Contact 0', phone: '+79120000000' });
    // Only list calls, never counted (start = -1).
    expect(Object.keys(sandbox.stats().byMethod)).toEqual(['crm.contact.list']);

    // A change a second later is found from the cursor, with a new marker; nothing else is.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await makeOperations({ webhookUrl: sandbox.webhookBase }).upsertContact({ phone: '+79120000007', name: 'Renamed', fields: {} });
    const after = await readAll(changes({ settleMs: 0 }).listChangedContacts, cursor);
    expect(after.seen.map((contact) => [contact.externalId, contact.name])).toEqual([[String(ids[7]), 'Renamed']]);
    expect(after.seen[0]?.modifiedMarker).not.toBe(seen[7]?.modifiedMarker);
  });

  it('reports fresh changes at once but keeps the cursor before them until they settle', async () => {
    const [id] = seedContacts(1);
    const list = changes({ settleMs: 30_000 }).listChangedContacts;
    const first = await list({ since: null, limit: 200 });
    expect(first.contacts.map((contact) => contact.externalId)).toEqual([String(id)]);
    const again = await list({ since: first.cursor, limit: 200 });
    expect(again.contacts.map((contact) => contact.externalId)).toEqual([String(id)]);
    expect(again.cursor).toBe(first.cursor);
    // Thirty seconds on, the same change is settled and the cursor passes it.
    const later = changes({ settleMs: 30_000, now: () => Date.now() + 31_000 }).listChangedContacts;
    const settled = await later({ since: first.cursor, limit: 200 });
    expect(settled.cursor).not.toBe(first.cursor);
    expect((await later({ since: settled.cursor, limit: 200 })).contacts).toEqual([]);
  });

  it('starts at startAt, compared as an instant whatever the offset', async () => {
    seedContacts(2);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const startAt = new Date();
    const late = seedContacts(1, 100);
    const { seen } = await readAll(changes({ settleMs: 0 }).listChangedContacts, null, startAt.toISOString());
    expect(seen.map((contact) => contact.externalId)).toEqual(late.map(String));

    // The same instant written in Moscow time selects the same contacts.
    const moscow = new Date(Math.floor(startAt.getTime() / 1000) * 1000 + 3 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '+03:00');
    const response = await fetch(`${sandbox.webhookBase}crm.contact.list.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filter: { '>=DATE_MODIFY': moscow }, select: ['ID'], start: -1 }),
    });
    const body = (await response.json()) as { result: { ID: string }[] };
    expect(body.result.map((row) => row.ID)).toEqual(late.map(String));
  });

  it('refuses a cursor it did not issue', async () => {
    const error = await changes().listChangedContacts({ since: 'garbage', limit: 10 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CrmError);
    expect((error as CrmError).kind).toBe('rejected');
  });
});
