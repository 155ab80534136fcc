// The sandbox portal's data: contacts, deals, activities and timeline comments,
// kept the way Bitrix24 keeps them. Notably:
// - IDs are integers on write (`result: 46`) and strings in records (`"ID": "46"`);
// - PHONE / EMAIL are multiple fields `[{ ID, VALUE_TYPE, VALUE, TYPE_ID }]`; on update
//   an entry without ID is *added*, an entry with ID changes that value, and an
//   empty VALUE deletes it (so re-sending a phone duplicates it, as on a real portal);
// - unknown fields in `fields` are ignored (crm.contact.add documentation);
// - phones are stored as typed ("8 (912) 345-67-89"); duplicate search compares digits.
import { bitrixDate, refused } from './envelope.js';
import type { EntityShape, Row } from './query.js';

export type EntityKind = 'contact' | 'deal' | 'activity' | 'comment';

const contactStandard = [
  'ID', 'HONORIFIC', 'NAME', 'SECOND_NAME', 'LAST_NAME', 'POST', 'COMMENTS', 'TYPE_ID', 'SOURCE_ID',
  'SOURCE_DESCRIPTION', 'OPENED', 'EXPORT', 'ASSIGNED_BY_ID', 'COMPANY_ID', 'BIRTHDATE', 'HAS_PHONE',
  'HAS_EMAIL', 'DATE_CREATE', 'DATE_MODIFY', 'CREATED_BY_ID', 'MODIFY_BY_ID', 'ORIGINATOR_ID', 'ORIGIN_ID',
  'ORIGIN_VERSION', 'ADDRESS', 'ADDRESS_2', 'ADDRESS_CITY', 'ADDRESS_POSTAL_CODE', 'ADDRESS_REGION',
  'ADDRESS_PROVINCE', 'ADDRESS_COUNTRY', 'UTM_SOURCE', 'UTM_MEDIUM', 'UTM_CAMPAIGN', 'UTM_CONTENT', 'UTM_TERM',
] as const;

const dealStandard = [
  'ID', 'TITLE', 'TYPE_ID', 'CATEGORY_ID', 'STAGE_ID', 'CURRENCY_ID', 'OPPORTUNITY', 'COMPANY_ID', 'CONTACT_ID',
  'ASSIGNED_BY_ID', 'COMMENTS', 'OPENED', 'CLOSED', 'BEGINDATE', 'CLOSEDATE', 'SOURCE_ID', 'DATE_CREATE',
  'DATE_MODIFY', 'CREATED_BY_ID', 'MODIFY_BY_ID', 'ORIGINATOR_ID', 'ORIGIN_ID',
] as const;

const activityStandard = [
  'ID', 'OWNER_TYPE_ID', 'OWNER_ID', 'TYPE_ID', 'SUBJECT', 'DESCRIPTION', 'DESCRIPTION_TYPE', 'DIRECTION',
  'START_TIME', 'END_TIME', 'DEADLINE', 'COMPLETED', 'PRIORITY', 'RESPONSIBLE_ID', 'ORIGINATOR_ID', 'ORIGIN_ID',
  'ORIGIN_VERSION', 'CREATED', 'LAST_UPDATED',
] as const;

const commentStandard = ['ID', 'ENTITY_ID', 'ENTITY_TYPE', 'COMMENT', 'CREATED', 'AUTHOR_ID'] as const;

/** Fields a write may set (read-only ones like ID and DATE_CREATE are set by the portal). */
const writable: Record<EntityKind, ReadonlySet<string>> = {
  contact: new Set(contactStandard.filter((field) => !['ID', 'HAS_PHONE', 'HAS_EMAIL', 'DATE_CREATE', 'DATE_MODIFY', 'CREATED_BY_ID', 'MODIFY_BY_ID'].includes(field))),
  deal: new Set(dealStandard.filter((field) => !['ID', 'CLOSED', 'DATE_CREATE', 'DATE_MODIFY', 'CREATED_BY_ID', 'MODIFY_BY_ID'].includes(field))),
  activity: new Set(activityStandard.filter((field) => !['ID', 'DEADLINE', 'CREATED', 'LAST_UPDATED'].includes(field))),
  comment: new Set(['ENTITY_ID', 'ENTITY_TYPE', 'COMMENT', 'AUTHOR_ID']),
};

const multipleFields: Record<EntityKind, readonly string[]> = {
  contact: ['PHONE', 'EMAIL'],
  deal: [],
  activity: ['COMMUNICATIONS'],
  comment: [],
};

const emailLabels: Record<string, string> = { WORK: 'Work e-mail', HOME: 'Private e-mail', MAILING: 'Newsletter e-mail', OTHER: 'Other e-mail' };
const closedStages = new Set(['WON', 'LOSE', 'APOLOGY']);

export class Portal {
  private readonly tables: Record<EntityKind, Map<number, Row>> = {
    contact: new Map(),
    deal: new Map(),
    activity: new Map(),
    comment: new Map(),
  };
  private readonly sequences: Record<EntityKind | 'multifield', number> = { contact: 0, deal: 0, activity: 0, comment: 0, multifield: 0 };

  constructor(
    /** Custom (UF_) fields registered on the portal; writes to other UF_ names are ignored like any unknown field. */
    readonly userFields: readonly string[],
    /** The webhook's user: author of every write. */
    readonly userId: number,
  ) {}

  shape(kind: EntityKind): EntityShape {
    const standard = { contact: contactStandard, deal: dealStandard, activity: activityStandard, comment: commentStandard }[kind];
    return { standard, multiple: multipleFields[kind], custom: kind === 'contact' || kind === 'deal' ? this.userFields : [] };
  }

  rows(kind: EntityKind): Row[] {
    return [...this.tables[kind].values()];
  }

  find(kind: EntityKind, id: unknown): Row | undefined {
    return this.tables[kind].get(Number(id));
  }

  /** The record or Bitrix's 400 "Not found". */
  require(kind: EntityKind, id: unknown): Row {
    const row = this.find(kind, id);
    if (!row) throw refused('Not found');
    return row;
  }

  add(kind: EntityKind, fields: Row): number {
    this.sequences[kind] += 1;
    const id = this.sequences[kind];
    const now = bitrixDate(Date.now());
    const row: Row = { ID: String(id), DATE_CREATE: now, DATE_MODIFY: now, CREATED_BY_ID: String(this.userId), MODIFY_BY_ID: String(this.userId) };
    if (kind === 'contact') Object.assign(row, { PHONE: [], EMAIL: [], OPENED: 'Y', EXPORT: 'Y', ASSIGNED_BY_ID: String(this.userId) });
    if (kind === 'deal') Object.assign(row, { STAGE_ID: 'NEW', CATEGORY_ID: '0', CLOSED: 'N', ASSIGNED_BY_ID: String(this.userId) });
    if (kind === 'activity' || kind === 'comment') Object.assign(row, { CREATED: now });
    this.apply(kind, row, fields);
    this.tables[kind].set(id, row);
    return id;
  }

  update(kind: EntityKind, id: unknown, fields: Row): void {
    const row = this.require(kind, id);
    this.apply(kind, row, fields);
    row.DATE_MODIFY = bitrixDate(Date.now());
    row.MODIFY_BY_ID = String(this.userId);
  }

  clear(): void {
    for (const table of Object.values(this.tables)) table.clear();
    for (const key of Object.keys(this.sequences) as (keyof typeof this.sequences)[]) this.sequences[key] = 0;
  }

  /** Validates everything first, so a refused write changes nothing. */
  private apply(kind: EntityKind, row: Row, fields: Row): void {
    const scalars: Row = {};
    const multiples: Record<string, Row[]> = {};
    for (const [rawName, value] of Object.entries(fields)) {
      const name = rawName.toUpperCase();
      if (multipleFields[kind].includes(name)) {
        multiples[name] = entriesOf(value);
        continue;
      }
      if (!writable[kind].has(name) && !(this.userFields.includes(name) && (kind === 'contact' || kind === 'deal'))) continue;
      if (value !== null && typeof value === 'object') continue;
      scalars[name] = value === null || value === undefined ? null : String(value);
    }
    if (multiples.EMAIL) validateEmails(multiples.EMAIL);
    Object.assign(row, scalars);
    for (const [name, entries] of Object.entries(multiples)) {
      row[name] = kind === 'activity' ? entries : this.mergeMultiple((row[name] as Row[] | undefined) ?? [], entries, name);
    }
    if (kind === 'contact') {
      row.HAS_PHONE = (row.PHONE as Row[]).length > 0 ? 'Y' : 'N';
      row.HAS_EMAIL = (row.EMAIL as Row[]).length > 0 ? 'Y' : 'N';
    }
    if (kind === 'deal') row.CLOSED = closedStages.has(String(row.STAGE_ID)) ? 'Y' : 'N';
  }

  private mergeMultiple(current: Row[], changes: Row[], typeId: string): Row[] {
    const merged = current.map((entry) => ({ ...entry }));
    for (const change of changes) {
      const value = change.VALUE === undefined || change.VALUE === null ? '' : String(change.VALUE);
      const existing = change.ID === undefined ? undefined : merged.find((entry) => entry.ID === String(change.ID));
      if (existing) {
        if (value === '') merged.splice(merged.indexOf(existing), 1);
        else Object.assign(existing, { VALUE: value, VALUE_TYPE: String(change.VALUE_TYPE ?? existing.VALUE_TYPE) });
        continue;
      }
      if (value === '') continue;
      this.sequences.multifield += 1;
      merged.push({ ID: String(this.sequences.multifield), VALUE_TYPE: String(change.VALUE_TYPE ?? 'WORK'), VALUE: value, TYPE_ID: typeId });
    }
    return merged;
  }
}

/** A multiple field arrives as an array, or (form-encoded, "n0" keys) as an object of entries. */
function entriesOf(value: unknown): Row[] {
  const list = Array.isArray(value) ? value : value !== null && typeof value === 'object' ? Object.values(value) : [];
  return list.filter((entry): entry is Row => entry !== null && typeof entry === 'object');
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function validateEmails(entries: Row[]): void {
  for (const entry of entries) {
    const value = entry.VALUE === undefined || entry.VALUE === null ? '' : String(entry.VALUE);
    if (value !== '' && !emailPattern.test(value)) {
      const label = emailLabels[String(entry.VALUE_TYPE ?? 'WORK')] ?? 'E-mail';
      throw refused(`The field ${label} contains an invalid address`, 'ERROR_CORE');
    }
  }
}

/** What duplicate search compares for phones: digits only, extension dropped. */
export function phoneDigits(value: string): string {
  return value.split(/(?:ext\.?|доб\.?|#|;)/i)[0]?.replace(/\D/g, '') ?? '';
}
