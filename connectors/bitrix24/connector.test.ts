// The Bitrix24 connector against the sandbox portal over real HTTP: idempotent
// upserts, lookups by normalized phone, batching, CRM refusals, call logs and deals.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CrmError, decideRetry } from '../sdk/errors.js';
import type { ContactInput, ConnectorOperations } from '../sdk/types.js';
import { UpsertFailures } from './connector.js';
import { startBitrixSandbox, type BitrixSandbox } from './sandbox/index.js';
import { makeOperations, RecordingLimiter } from './test-support.js';

let sandbox: BitrixSandbox;
let limiter: RecordingLimiter;
let crm: ConnectorOperations;

const fieldMap = { applicationNumber: 'UF_CRM_APPLICATION_NUMBER', hubTaskId: 'UF_CRM_HUB_TASK_ID' };

beforeAll(async () => {
  sandbox = await startBitrixSandbox({ ratePerSecond: 1000, burst: 10_000 });
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  limiter = new RecordingLimiter();
  crm = makeOperations({ webhookUrl: sandbox.webhookBase, fieldMap, dealStages: { approved: 'WON' } }, limiter);
});

const ada: ContactInput = { phone: '+79123456789', name: 'Ada Lovelace', email: 'ada@example.com', fields: { applicationNumber: 'A-1', hubTaskId: 't-1', ignored: 'x' } };

describe('bitrix24 contacts', () => {
  it('upserts idempotently: the same contact twice is one record, the second time without a write', async () => {
    const first = await crm.upsertContact(ada);
    const second = await crm.upsertContact(ada);
    expect(first).toEqual({ externalId: '1', created: true });
    expect(second).toEqual({ externalId: '1', created: false });

    const records = sandbox.records('contact');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ NAME: 'Ada Lovelace', UF_CRM_APPLICATION_NUMBER: 'A-1', UF_CRM_HUB_TASK_ID: 't-1' });
    expect(records[0]?.PHONE).toEqual([expect.objectContaining({ VALUE: '+79123456789', VALUE_TYPE: 'WORK' })]);
    expect(records[0]?.EMAIL).toEqual([expect.objectContaining({ VALUE: 'ada@example.com' })]);
    // A lookup (duplicate search + list, one batch request) and the add, then a lookup and nothing to write.
    expect(sandbox.stats().byMethod).toEqual({ batch: 2, 'crm.contact.add': 1 });
  });

  it('looks a number up in one request, finds nothing as nothing and finds every duplicate the portal reports', async () => {
    const other = sandbox.seed('contact', { NAME: 'Other', PHONE: [{ VALUE: '+7 495 123-45-67', VALUE_TYPE: 'WORK' }] });
    expect(await crm.findContacts({ phone: '+79123456789' })).toEqual([]);
    expect(sandbox.stats().byMethod).toEqual({ batch: 1 });

    // One number typed into 25 records: the portal reports the 20 oldest, and all of those are found.
    const ids = Array.from({ length: 25 }, (_, index) => sandbox.seed('contact', { NAME: `Dup ${index}`, PHONE: [{ VALUE: '8 912 345 67 80', VALUE_TYPE: 'MOBILE' }] }));
    const found = await crm.findContacts({ phone: '+79123456780' });
    expect(found.map((contact) => contact.externalId).sort((a, b) => Number(a) - Number(b))).toEqual(ids.slice(0, 20).map(String));
    expect(found.map((contact) => contact.externalId)).not.toContain(String(other));
    expect(sandbox.stats().byMethod).toEqual({ batch: 2 });
  });

  it('finds and updates a contact stored as "8 (912) 345-67-89" by its E.164 number, appending only what is new', async () => {
    const seeded = sandbox.seed('contact', { NAME: 'Иван', LAST_NAME: 'Петров', PHONE: [{ VALUE: '8 (912) 345-67-89', VALUE_TYPE: 'MOBILE' }] });
    sandbox.seed('contact', { NAME: 'Other', PHONE: [{ VALUE: '+7 495 123-45-67', VALUE_TYPE: 'WORK' }] });

    const found = await crm.findContacts({ phone: '+79123456789' });
    expect(found).toEqual([
      { externalId: String(seeded), phone: '+79123456789', name: 'Иван Петров', email: null, fields: {}, updatedAt: expect.any(String) },
    ]);

    const result = await crm.upsertContact({ phone: '+79123456789', email: 'ivan@example.com', fields: { applicationNumber: 'A-7' } });
    expect(result).toEqual({ externalId: String(seeded), created: false });
    const record = sandbox.records('contact').find((row) => row.ID === String(seeded));
    expect(record?.PHONE).toEqual([expect.objectContaining({ VALUE: '8 (912) 345-67-89' })]);
    expect(record).toMatchObject({ NAME: 'Иван', LAST_NAME: 'Петров', UF_CRM_APPLICATION_NUMBER: 'A-7' });
    expect(record?.EMAIL).toEqual([expect.objectContaining({ VALUE: 'ivan@example.com' })]);

    expect(await crm.findContacts({ email: 'IVAN@example.com' })).toEqual([expect.objectContaining({ externalId: String(seeded), email: 'ivan@example.com' })]);
    expect(await crm.findContacts({ externalId: String(seeded), phone: '+74951234567' })).toEqual([]);
  });

  it('reads by id, answers null for unknown or malformed ids, and serves repeated reads from the cache until a write', async () => {
    const { externalId } = await crm.upsertContact(ada);
    expect(await crm.getContact(externalId)).toMatchObject({ externalId, phone: '+79123456789', email: 'ada@example.com', fields: { applicationNumber: 'A-1', hubTaskId: 't-1' } });
    expect(await crm.getContact('4242')).toBeNull();
    const before = sandbox.stats().requests;
    expect(await crm.getContact('not-an-id')).toBeNull();
    await crm.getContact(externalId);
    await crm.findContacts({ externalId });
    expect(sandbox.stats().requests).toBe(before);

    await crm.upsertContact({ ...ada, name: 'Ada King' });
    expect(await crm.getContact(externalId)).toMatchObject({ name: 'Ada King' });
  });

  it('batch-upserts 120 contacts in 4 requests, keeps order, and re-running writes no new record', async () => {
    const contacts: ContactInput[] = Array.from({ length: 120 }, (_, index) => ({
      phone: `+7912${String(10_000_000 + index).slice(1)}`,
      name: `Client ${index}`,
      fields: { applicationNumber: `A-${index}` },
    }));
    const results = await crm.upsertContacts?.(contacts);
    expect(results).toHaveLength(120);
    expect(results?.every((result) => result.created)).toBe(true);
    // 120 writes and 21 lookups of up to six numbers (three spellings each, 20 values a lookup),
    // packed into full requests: the first carries lookups only, the last the remaining writes.
    expect(sandbox.stats()).toMatchObject({ requests: 4, byMethod: { batch: 4 }, batchedCalls: 141 });
    const byId = new Map(sandbox.records('contact').map((row) => [row.ID, row]));
    results?.forEach((result, index) => expect(byId.get(result.externalId)).toMatchObject({ NAME: `Client ${index}`, UF_CRM_APPLICATION_NUMBER: `A-${index}` }));

    sandbox.reset();
    contacts.forEach((contact) => sandbox.seed('contact', { NAME: contact.name, UF_CRM_APPLICATION_NUMBER: contact.fields.applicationNumber, PHONE: [{ VALUE: contact.phone, VALUE_TYPE: 'WORK' }] }));
    const again = await crm.upsertContacts?.(contacts.map((contact, index) => (index === 7 ? { ...contact, fields: { applicationNumber: 'A-changed' } } : contact)));
    expect(again?.some((result) => result.created)).toBe(false);
    expect(sandbox.records('contact')).toHaveLength(120);
    // Lookups, then the matched records' reads beside the next lookups, then the last reads
    // and the one write (contact 7): every number found, nothing added.
    expect(sandbox.stats()).toMatchObject({ requests: 4, byMethod: { batch: 4 } });
    expect(sandbox.records('contact')[7]).toMatchObject({ UF_CRM_APPLICATION_NUMBER: 'A-changed' });
  });

  it('asks again alone when a shared lookup hits the 20-id cap, so a number behind it is still found', async () => {
    for (let index = 0; index < 25; index += 1) sandbox.seed('contact', { NAME: `Twin ${index}`, PHONE: [{ VALUE: '+7 912 000-00-01', VALUE_TYPE: 'WORK' }] });
    const newest = sandbox.seed('contact', { NAME: 'Иван', PHONE: [{ VALUE: '8 (912) 345-67-89', VALUE_TYPE: 'MOBILE' }] });
    const results = await crm.upsertContacts?.([
      { phone: '+79120000001', name: 'Twin 0', fields: {} },
      { phone: '+79123456789', fields: { applicationNumber: 'A-9' } },
    ]);
    // The twins' oldest record takes the write; Иван (id 26, cut from the shared answer) is updated, not duplicated.
    expect(results).toEqual([
      { externalId: '1', created: false },
      { externalId: String(newest), created: false },
    ]);
    expect(sandbox.records('contact')).toHaveLength(26);
    expect(sandbox.records('contact').find((row) => row.ID === String(newest))).toMatchObject({ UF_CRM_APPLICATION_NUMBER: 'A-9' });
  });

  it('writes one record when two concurrent batch upserts carry the same number', async () => {
    const [first, second] = await Promise.all([
      crm.upsertContacts?.([{ phone: '+79123456789', name: 'First', fields: {} }]),
      crm.upsertContacts?.([{ phone: '+79123456789', fields: { applicationNumber: 'A-2' } }]),
    ]);
    expect(first).toEqual([{ externalId: '1', created: true }]);
    expect(second).toEqual([{ externalId: '1', created: false }]);
    expect(sandbox.records('contact')).toEqual([expect.objectContaining({ NAME: 'First', UF_CRM_APPLICATION_NUMBER: 'A-2' })]);
  });

  it('writes one record for a number that appears twice in one batch, later values winning', async () => {
    const results = await crm.upsertContacts?.([
      { phone: '+79123456789', name: 'First', fields: { applicationNumber: 'A-1' } },
      { phone: '8 912 345 67 89', name: 'Second', fields: {} },
    ]);
    expect(results).toEqual([
      { externalId: '1', created: true },
      { externalId: '1', created: false },
    ]);
    expect(sandbox.records('contact')).toEqual([expect.objectContaining({ NAME: 'Second', UF_CRM_APPLICATION_NUMBER: 'A-1' })]);
  });
});

describe('bitrix24 responsible agents', () => {
  it("reads a contact's responsible user as the hub agent mapped to it and writes an agent back as its user", async () => {
    crm = makeOperations({ webhookUrl: sandbox.webhookBase, fieldMap, responsibleAgents: { 17: 'alice', 23: 'bob' } }, limiter);
    const owned = sandbox.seed('contact', { NAME: 'Owned', ASSIGNED_BY_ID: '17', PHONE: [{ VALUE: '+79123456701', VALUE_TYPE: 'WORK' }] });
    const stranger = sandbox.seed('contact', { NAME: 'Unmapped', ASSIGNED_BY_ID: '99', PHONE: [{ VALUE: '+79123456702', VALUE_TYPE: 'WORK' }] });
    expect((await crm.findContacts({ phone: '+79123456701' }))[0]?.fields.responsibleAgent).toBe('alice');
    expect((await crm.getContact(String(owned)))?.fields.responsibleAgent).toBe('alice');
    // A user the hub does not know is nobody's agent: no responsible agent rather than a portal id.
    expect((await crm.findContacts({ phone: '+79123456702' }))[0]?.fields).not.toHaveProperty('responsibleAgent');

    // Reassigned by the hub: the agent goes to the portal as its user; the same again writes nothing.
    await crm.upsertContact({ phone: '+79123456701', fields: { responsibleAgent: 'bob' } });
    expect(sandbox.records('contact').find((record) => record.ID === String(owned))?.ASSIGNED_BY_ID).toBe('23');
    const writes = sandbox.stats().byMethod['crm.contact.update'];
    await crm.upsertContact({ phone: '+79123456701', fields: { responsibleAgent: 'bob' } });
    expect(sandbox.stats().byMethod['crm.contact.update']).toBe(writes);
    // An agent with no portal user leaves the record's responsible as it is; a new record gets the mapped user.
    await crm.upsertContact({ phone: '+79123456702', name: 'Renamed', fields: { responsibleAgent: 'carol' } });
    expect(sandbox.records('contact').find((record) => record.ID === String(stranger))).toMatchObject({ NAME: 'Renamed', ASSIGNED_BY_ID: '99' });
    const created = await crm.upsertContact({ phone: '+79123456703', name: 'New', fields: { responsibleAgent: 'alice' } });
    expect(sandbox.records('contact').find((record) => record.ID === created.externalId)?.ASSIGNED_BY_ID).toBe('17');
    const [batched] = (await crm.upsertContacts?.([{ phone: '+79123456704', fields: { responsibleAgent: 'bob' } }])) ?? [];
    expect(sandbox.records('contact').find((record) => record.ID === batched?.externalId)?.ASSIGNED_BY_ID).toBe('23');
  });

  it('leaves ownership alone without a map: the responsible user is not read and a responsibleAgent field is not written', async () => {
    const seeded = sandbox.seed('contact', { NAME: 'Owned', ASSIGNED_BY_ID: '17', PHONE: [{ VALUE: '+79123456705', VALUE_TYPE: 'WORK' }] });
    expect((await crm.findContacts({ phone: '+79123456705' }))[0]?.fields).not.toHaveProperty('responsibleAgent');
    await crm.upsertContact({ phone: '+79123456705', fields: { responsibleAgent: 'alice' } });
    expect(sandbox.records('contact').find((record) => record.ID === String(seeded))?.ASSIGNED_BY_ID).toBe('17');
  });
});

describe('bitrix24 refusals', () => {
  it('turns a 400 into a non-retryable CrmError carrying Bitrix24 words', async () => {
    const failure = await crm.upsertContact({ ...ada, email: 'not-an-address' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CrmError);
    expect(failure).toMatchObject({ kind: 'rejected', details: { status: 400, code: 'ERROR_CORE' } });
    expect((failure as CrmError).message).toContain('ERROR_CORE: The field Work e-mail contains an invalid address');
    expect(decideRetry(failure)).toMatchObject({ retry: false });
    expect(sandbox.records('contact')).toHaveLength(0);
  });

  it('maps a failed call inside a batch to that contact, writing the others', async () => {
    const failure = await crm
      .upsertContacts?.([ada, { phone: '+79991112233', email: 'broken@', fields: {} }, { phone: 'not a phone', fields: {} }])
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ kind: 'rejected' });
    expect((failure as CrmError).message).toMatch(/^2 of 3 contacts were not written: contacts\[1\]: .*The field Work e-mail contains an invalid address; contacts\[2\]: phone "not a phone"/);
    const cause = (failure as CrmError).cause;
    expect(cause).toBeInstanceOf(UpsertFailures);
    expect((cause as UpsertFailures).failures.map(({ index, error }) => [index, error.kind])).toEqual([
      [1, 'rejected'],
      [2, 'rejected'],
    ]);
    expect(sandbox.records('contact')).toEqual([expect.objectContaining({ NAME: 'Ada Lovelace' })]);
  });
});

describe('bitrix24 activities and deals', () => {
  it('logs a call once per hubActivityId, with the contact phone and the hub id as ORIGIN_ID', async () => {
    const { externalId } = await crm.upsertContact(ada);
    const call = { contactExternalId: externalId, kind: 'call' as const, direction: 'inbound' as const, subject: 'Inbound call', occurredAt: '2025-01-02T10:00:00Z', durationSeconds: 90, hubActivityId: 'act-1' };
    const first = await crm.logActivity(call);
    const retried = await crm.logActivity(call);
    expect(retried).toEqual(first);
    const activities = sandbox.records('activity');
    expect(activities).toHaveLength(1);
    expect(activities[0]).toMatchObject({
      OWNER_TYPE_ID: '3',
      OWNER_ID: externalId,
      TYPE_ID: '2',
      DIRECTION: '1',
      ORIGINATOR_ID: 'contact-hub',
      ORIGIN_ID: 'act-1',
      START_TIME: '2025-01-02T10:00:00.000Z',
      END_TIME: '2025-01-02T10:01:30.000Z',
      COMMUNICATIONS: [expect.objectContaining({ VALUE: '+79123456789', ENTITY_TYPE_ID: 3 })],
    });
  });

  it('logs a note as a timeline comment once, and refuses an activity for an unknown contact', async () => {
    const { externalId } = await crm.upsertContact(ada);
    const note = { contactExternalId: externalId, kind: 'note' as const, subject: 'Asked to call back', body: 'after 18:00', occurredAt: '2025-01-02T10:00:00Z', hubActivityId: 'note-1' };
    await crm.logActivity(note);
    await crm.logActivity(note);
    expect(sandbox.records('comment')).toEqual([expect.objectContaining({ ENTITY_TYPE: 'contact', ENTITY_ID: externalId, COMMENT: 'NOTE: Asked to call back\nafter 18:00\n\nhub-activity:note-1' })]);

    await expect(crm.logActivity({ ...note, kind: 'call', contactExternalId: '999', hubActivityId: 'act-x' })).rejects.toMatchObject({ kind: 'rejected', message: expect.stringContaining('Not found') });
  });

  it('moves a deal to the mapped stage, comments a note once, and refuses an unknown deal', async () => {
    const deal = sandbox.seed('deal', { TITLE: 'Loan A-1', STAGE_ID: 'NEW' });
    await crm.updateDealStatus({ dealExternalId: String(deal), status: 'approved', note: 'Approved by scoring' });
    await crm.updateDealStatus({ dealExternalId: String(deal), status: 'approved', note: 'Approved by scoring' });
    expect(sandbox.records('deal')[0]).toMatchObject({ STAGE_ID: 'WON', CLOSED: 'Y' });
    expect(sandbox.records('comment')).toHaveLength(1);

    const failure = await crm.updateDealStatus({ dealExternalId: '404', status: 'approved' }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ kind: 'rejected', details: { status: 400 } });
    expect((failure as Error).message).toMatch(/crm\.deal\.update\.json: CRM refused \(400\): Not found$/);
  });
});
