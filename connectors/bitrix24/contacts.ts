// Contact lookups and upserts against a Bitrix24 portal. Finding by phone is two
// steps: crm.duplicate.findbycomm (the portal's phone index, which matches
// whatever spelling was stored) and crm.contact.list for those ids (to confirm the
// number in E.164 and read the record). Many upserts go through the upsert
// pipeline (upsert-pipeline.ts): full `batch` requests mixing writes and lookups.
import type { ReadCache } from '../sdk/cache.js';
import { CrmError } from '../sdk/errors.js';
import type { ContactInput, ContactQuery, CrmContact, UpsertResult } from '../sdk/types.js';
import { resultOf, type BitrixCall, type BitrixClient } from './bitrix-client.js';
import type { Bitrix24Config } from './config.js';
import {
  contactSelect,
  createdId,
  duplicateIds,
  hasEmail,
  hasPhone,
  isPositiveId,
  phoneSearchValues,
  pickByPhone,
  planContactWrite,
  requireE164,
  toCrmContact,
  type BitrixRecord,
} from './records.js';
import { throwIfAny } from './upsert-errors.js';
import { UpsertPipeline } from './upsert-pipeline.js';

/** Every cached read starts with this, so one invalidate after a write drops them all. */
const cachePrefix = 'contacts/';

const findByPhoneCall = (e164: string): BitrixCall => ({
  method: 'crm.duplicate.findbycomm',
  params: { entity_type: 'CONTACT', type: 'PHONE', values: phoneSearchValues(e164) },
});

const listByIdsCall = (ids: number[]): BitrixCall => ({
  method: 'crm.contact.list',
  params: { filter: { '@ID': ids }, select: contactSelect },
});

export interface ContactOperations {
  findContacts(query: ContactQuery): Promise<CrmContact[]>;
  getContact(externalId: string): Promise<CrmContact | null>;
  upsertContact(contact: ContactInput): Promise<UpsertResult>;
  upsertContacts(contacts: ContactInput[]): Promise<UpsertResult[]>;
}

export function createContactOperations(client: BitrixClient, cache: ReadCache, config: Bitrix24Config): ContactOperations {
  const pipeline = new UpsertPipeline(client, config, () => cache.invalidate(cachePrefix));

  async function recordsByIds(ids: number[]): Promise<BitrixRecord[]> {
    const unique = [...new Set(ids)];
    const records: BitrixRecord[] = [];
    // A page holds 50 rows, so 50 ids per list call always fit on one page.
    for (let offset = 0; offset < unique.length; offset += 50) {
      const { method, params } = listByIdsCall(unique.slice(offset, offset + 50));
      const answer = await client.call<BitrixRecord[]>(method, params);
      records.push(...listRows(answer.result));
    }
    return records;
  }

  // One request: the duplicate search and the list of what it found, the list reading the
  // search's answer inside the batch ($result[find][CONTACT]); a screen pop waits for one
  // round trip to the portal instead of two, and spends one request of the rate limit.
  async function recordsByPhone(e164: string): Promise<BitrixRecord[]> {
    const answer = await client.batch({
      find: findByPhoneCall(e164),
      list: { method: 'crm.contact.list', params: { filter: { '@ID': '$result[find][CONTACT]' }, select: contactSelect } },
    });
    const ids = duplicateIds(resultOf(answer, 'find', 'crm.duplicate.findbycomm'));
    // Nothing found: the list ran on a reference to nothing; what it answered is not ours.
    if (ids.length === 0) return [];
    // The search answers at most 20 ids per entity, so one list page (50 rows) holds them all.
    const found = new Set(ids);
    return listRows(resultOf(answer, 'list', 'crm.contact.list')).filter((record) => found.has(Number(record.ID)) && hasPhone(record, e164, config));
  }

  async function recordsByEmail(email: string): Promise<BitrixRecord[]> {
    const answer = await client.call('crm.duplicate.findbycomm', { entity_type: 'CONTACT', type: 'EMAIL', values: [email] });
    return (await recordsByIds(duplicateIds(answer.result))).filter((record) => hasEmail(record, email));
  }

  // crm.contact.get answers a missing id with 400 "Not found", indistinguishable by
  // status from a refused request; a list filtered by ID answers it with [].
  function recordById(id: string): Promise<BitrixRecord | undefined> {
    return cache.wrap(`${cachePrefix}id/${id}`, async () => listRows((await client.call('crm.contact.list', { filter: { ID: id }, select: contactSelect })).result)[0]);
  }

  async function findContacts(query: ContactQuery): Promise<CrmContact[]> {
    const e164 = query.phone === undefined ? undefined : requireE164(query.phone, config);
    const email = query.email?.trim().toLowerCase();
    let candidates: BitrixRecord[];
    if (query.externalId !== undefined) {
      const record = isPositiveId(query.externalId) ? await recordById(query.externalId) : undefined;
      candidates = record ? [record] : [];
    } else if (e164 !== undefined) {
      candidates = await cache.wrap(`${cachePrefix}phone/${e164}`, () => recordsByPhone(e164));
    } else if (email !== undefined && email !== '') {
      candidates = await cache.wrap(`${cachePrefix}email/${email}`, () => recordsByEmail(email));
    } else {
      throw new CrmError('rejected', 'a contact query needs a phone, an e-mail or an externalId');
    }
    return candidates
      .filter((record) => (e164 === undefined || hasPhone(record, e164, config)) && (!email || hasEmail(record, email)))
      .map((record) => toCrmContact(record, config, { phone: e164, email }));
  }

  async function getContact(externalId: string): Promise<CrmContact | null> {
    if (!isPositiveId(externalId)) return null;
    const record = await recordById(externalId);
    return record ? toCrmContact(record, config) : null;
  }

  async function upsertContact(contact: ContactInput): Promise<UpsertResult> {
    const e164 = requireE164(contact.phone, config);
    // Not from the cache: a contact created in the portal moments ago must be found, or it is duplicated.
    const existing = pickByPhone(await recordsByPhone(e164), e164, config);
    const write = planContactWrite(contact, e164, existing, config);
    if (write.kind === 'unchanged') return { externalId: write.id, created: false };
    const answer = await client.call(write.call.method, write.call.params);
    cache.invalidate(cachePrefix);
    if (write.kind === 'update') return { externalId: write.id, created: false };
    const id = createdId(answer.result);
    if (id instanceof CrmError) throw id;
    return { externalId: id, created: true };
  }

  async function upsertContacts(contacts: ContactInput[]): Promise<UpsertResult[]> {
    // The same number twice in one call is one record: merge in order (later values win), write once.
    const outcomes: (UpsertResult | CrmError)[] = new Array(contacts.length);
    const groups = new Map<string, { indexes: number[]; input: ContactInput }>();
    contacts.forEach((contact, index) => {
      let e164: string;
      try {
        e164 = requireE164(contact.phone, config);
      } catch (error) {
        if (!(error instanceof CrmError)) throw error;
        outcomes[index] = error;
        return;
      }
      const group = groups.get(e164);
      if (!group) groups.set(e164, { indexes: [index], input: { ...contact, fields: { ...contact.fields } } });
      else {
        group.indexes.push(index);
        group.input = { ...group.input, ...definedOnly(contact), fields: { ...group.input.fields, ...contact.fields } };
      }
    });
    const unique = [...groups.entries()];
    const results = await Promise.all(unique.map(([e164, group]) => pipeline.upsert(e164, group.input)));
    results.forEach((outcome, position) => {
      const [, group] = unique[position] as (typeof unique)[number];
      group.indexes.forEach((index, nth) => {
        outcomes[index] = outcome instanceof CrmError || nth === 0 ? outcome : { ...outcome, created: false };
      });
    });
    return throwIfAny(outcomes);
  }

  return { findContacts, getContact, upsertContact, upsertContacts };
}

function listRows(result: unknown): BitrixRecord[] {
  return Array.isArray(result) ? result.filter((row): row is BitrixRecord => row !== null && typeof row === 'object') : [];
}

function definedOnly(contact: ContactInput): Partial<ContactInput> {
  return Object.fromEntries(Object.entries(contact).filter(([key, value]) => value !== undefined && key !== 'fields'));
}
