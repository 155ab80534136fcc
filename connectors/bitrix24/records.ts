// Between the hub's contact and a Bitrix24 contact record. Portals store phones as
// people typed them ("8 (912) 345-67-89"), in multiple fields; the hub speaks E.164.
// So lookups send the number in the spellings a portal may hold, and every match
// is confirmed by normalizing the stored value in the configured region.
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { normalizePhone } from '../../core/phone.js';
import { CrmError } from '../sdk/errors.js';
import { agentOfOwner, ownerOfAgent } from '../sdk/responsible-agents.js';
import type { ContactInput, CrmContact } from '../sdk/types.js';
import type { BitrixCall } from './bitrix-client.js';
import type { Bitrix24Config } from './config.js';

export type BitrixRecord = Record<string, unknown>;

interface Multifield {
  ID?: string;
  VALUE: string;
  VALUE_TYPE?: string;
}

/** Multiple fields are left out of '*' and must be named (crm.contact.list documentation). */
export const contactSelect = ['*', 'UF_*', 'PHONE', 'EMAIL'];

/** The E.164 form of a phone the hub passed in, or a refusal naming it. */
export function requireE164(phone: string, config: Bitrix24Config): string {
  const normalized = normalizePhone(phone, config.phoneRegion);
  if (!normalized.ok) throw new CrmError('rejected', `phone "${phone}": ${normalized.reason}`);
  return normalized.e164;
}

/**
 * The spellings of one number a portal may have stored, for crm.duplicate.findbycomm:
 * international ("7912..."), national with its trunk prefix ("8912...") and the bare
 * national number ("912..."). The index compares digits only (so "+7 (912) ..." is
 * found at all), which makes the "+" form a repeat of the international one: it is
 * not sent, so one lookup of 20 values covers six numbers, not five.
 */
export function phoneSearchValues(e164: string): string[] {
  const parsed = parsePhoneNumberWithError(e164);
  const digits = (text: string) => text.replace(/\D/g, '');
  return [...new Set([digits(e164), digits(parsed.formatNational()), String(parsed.nationalNumber)])];
}

function multifield(record: BitrixRecord, name: 'PHONE' | 'EMAIL'): Multifield[] {
  const value = record[name];
  return Array.isArray(value) ? (value as Multifield[]).filter((entry) => typeof entry?.VALUE === 'string' && entry.VALUE !== '') : [];
}

function storedE164(value: string, config: Bitrix24Config): string | undefined {
  const normalized = normalizePhone(value, config.phoneRegion);
  return normalized.ok ? normalized.e164 : undefined;
}

export function hasPhone(record: BitrixRecord, e164: string, config: Bitrix24Config): boolean {
  return multifield(record, 'PHONE').some((entry) => storedE164(entry.VALUE, config) === e164);
}

export function hasEmail(record: BitrixRecord, email: string): boolean {
  const wanted = email.trim().toLowerCase();
  return multifield(record, 'EMAIL').some((entry) => entry.VALUE.trim().toLowerCase() === wanted);
}

/** The oldest record holding this number: the one every later write goes to. */
export function pickByPhone(records: BitrixRecord[], e164: string, config: Bitrix24Config): BitrixRecord | undefined {
  return records.filter((record) => hasPhone(record, e164, config)).sort((a, b) => Number(a.ID) - Number(b.ID))[0];
}

function text(value: unknown): string {
  return value === null || value === undefined ? '' : String(value).trim();
}

function fullName(record: BitrixRecord): string {
  return [record.NAME, record.SECOND_NAME, record.LAST_NAME].map(text).filter((part) => part !== '').join(' ');
}

export function toCrmContact(record: BitrixRecord, config: Bitrix24Config, preferred: { phone?: string; email?: string } = {}): CrmContact {
  const phones = multifield(record, 'PHONE').map((entry) => storedE164(entry.VALUE, config) ?? entry.VALUE);
  const emails = multifield(record, 'EMAIL').map((entry) => entry.VALUE);
  const fields: Record<string, unknown> = {};
  for (const [hubName, portalName] of Object.entries(config.fieldMap)) {
    const value = record[portalName];
    if (value !== null && value !== undefined && value !== '') fields[hubName] = value;
  }
  const agent = agentOfOwner(config.responsibleAgents, record.ASSIGNED_BY_ID);
  if (agent !== undefined) fields.responsibleAgent = agent;
  const modified = text(record.DATE_MODIFY);
  const preferredEmail = emails.find((email) => preferred.email !== undefined && email.toLowerCase() === preferred.email.toLowerCase());
  return {
    externalId: String(record.ID),
    phone: phones.find((phone) => phone === preferred.phone) ?? phones[0] ?? null,
    name: fullName(record) || null,
    email: preferredEmail ?? emails[0] ?? null,
    fields,
    updatedAt: modified && !Number.isNaN(Date.parse(modified)) ? new Date(modified).toISOString() : undefined,
  };
}

/** Hub fields the portal knows, under their portal names; scalars as text, as the portal keeps them. */
function mappedFields(input: ContactInput, config: Bitrix24Config): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [hubName, value] of Object.entries(input.fields)) {
    const portalName = config.fieldMap[hubName];
    if (!portalName || value === undefined) continue;
    out[portalName] = value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  const user = ownerOfAgent(config.responsibleAgents, input.fields.responsibleAgent);
  if (user !== undefined) out.ASSIGNED_BY_ID = user;
  return out;
}

export type ContactWrite = { kind: 'add'; call: BitrixCall } | { kind: 'update'; id: string; call: BitrixCall } | { kind: 'unchanged'; id: string };

/**
 * The write that makes the portal hold `input`: add when no record has the number,
 * else update only what differs. Multiple fields are *appended* on update (an entry
 * without ID is a new value), so the phone is never re-sent and an e-mail only when
 * the record lacks it.
 */
export function planContactWrite(input: ContactInput, e164: string, existing: BitrixRecord | undefined, config: Bitrix24Config): ContactWrite {
  const fields: Record<string, unknown> = mappedFields(input, config);
  const name = input.name?.trim();
  const email = input.email?.trim();
  if (!existing) {
    if (name) fields.NAME = name;
    fields.PHONE = [{ VALUE: e164, VALUE_TYPE: 'WORK' }];
    if (email) fields.EMAIL = [{ VALUE: email, VALUE_TYPE: 'WORK' }];
    return { kind: 'add', call: { method: 'crm.contact.add', params: { fields, params: { REGISTER_SONET_EVENT: 'N' } } } };
  }
  const id = String(existing.ID);
  for (const [field, value] of Object.entries(fields)) if (text(existing[field]) === value) delete fields[field];
  // The hub has one name field; the portal splits it. A changed name replaces all parts.
  if (name && name !== fullName(existing)) Object.assign(fields, { NAME: name, SECOND_NAME: '', LAST_NAME: '' });
  if (email && !hasEmail(existing, email)) fields.EMAIL = [{ VALUE: email, VALUE_TYPE: 'WORK' }];
  if (Object.keys(fields).length === 0) return { kind: 'unchanged', id };
  return { kind: 'update', id, call: { method: 'crm.contact.update', params: { id, fields, params: { REGISTER_SONET_EVENT: 'N' } } } };
}

/** The id a successful crm.contact.add answered, or the failure to report when it answered something else. */
export function createdId(result: unknown): string | CrmError {
  const id = Number(result);
  if (Number.isInteger(id) && id > 0) return String(id);
  return new CrmError('unavailable', `Bitrix24 crm.contact.add: answered ${JSON.stringify(result)} instead of the new contact's id`);
}

/** Contact ids in a crm.duplicate.findbycomm answer (`{ CONTACT: [..] }`, or [] when nothing matched). */
export function duplicateIds(result: unknown): number[] {
  if (result === null || typeof result !== 'object' || Array.isArray(result)) return [];
  const contacts = (result as { CONTACT?: unknown }).CONTACT;
  return Array.isArray(contacts) ? contacts.map(Number).filter((id) => Number.isInteger(id) && id > 0) : [];
}

export function isPositiveId(value: string): boolean {
  return /^[1-9]\d{0,18}$/.test(value);
}
