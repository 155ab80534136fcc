// Change detection on a Bitrix24 portal by polling, for portals whose outbound
// events cannot reach the hub: crm.contact.list filtered on DATE_MODIFY and ordered
// by DATE_MODIFY, then ID (crm.contact.list: filter prefixes >, >=, <=; no `logic`
// key, so no OR; `order` by several fields; pages of 50; `start: -1` skips the count
// query, the documented way to read large lists).
//
// The cursor is (DATE_MODIFY as the portal printed it, ID). DATE_MODIFY has whole
// seconds, so many records tie; without OR the "same second, later id" part is its
// own request ({>=DATE_MODIFY: t, <=DATE_MODIFY: t, >ID: id}), followed by the
// records of later seconds ({>DATE_MODIFY: t}). A record saved later within the same
// second can carry a smaller id than the cursor's, so the cursor never passes records
// modified within the settle window (hub clock); they are reported at once and again
// until they settle, and the hub recognizes a repeated state by its marker.
import { CrmError } from '../sdk/errors.js';
import type { ChangedContact, ChangedContactsPage, ChangedContactsQuery } from '../sdk/types.js';
import type { BitrixClient } from './bitrix-client.js';
import type { Bitrix24Config } from './config.js';
import { contactSelect, toCrmContact, type BitrixRecord } from './records.js';

type BitrixChangeCursor = { v: 1; from?: string | undefined } | { v: 1; at: string; id: number };

const pageSize = 50;
/** Records modified this recently are reported but not passed by the cursor. */
export const defaultSettleMs = 30_000;

export interface ChangeOptions {
  settleMs?: number;
  /** The hub's clock (tests pin it). */
  now?: () => number;
}

export function createChangeOperations(client: BitrixClient, config: Bitrix24Config, options: ChangeOptions = {}) {
  const settleMs = options.settleMs ?? defaultSettleMs;
  const now = options.now ?? Date.now;

  async function list(filter: Record<string, unknown>, order: Record<string, 'ASC'>): Promise<BitrixRecord[]> {
    const answer = await client.call<unknown>('crm.contact.list', { filter, order, select: contactSelect, start: -1 });
    return Array.isArray(answer.result) ? answer.result.filter((row): row is BitrixRecord => row !== null && typeof row === 'object') : [];
  }

  return {
    async listChangedContacts(query: ChangedContactsQuery): Promise<ChangedContactsPage> {
      const cursor = query.since === null ? initialCursor(query.startAt) : decodeCursor(query.since);
      let records: BitrixRecord[];
      let lastRequestFull: boolean;
      if ('at' in cursor) {
        const ties = await list({ '>=DATE_MODIFY': cursor.at, '<=DATE_MODIFY': cursor.at, '>ID': cursor.id }, { ID: 'ASC' });
        if (ties.length >= pageSize) {
          records = ties;
          lastRequestFull = true;
        } else {
          const later = await list({ '>DATE_MODIFY': cursor.at }, { DATE_MODIFY: 'ASC', ID: 'ASC' });
          records = [...ties, ...later];
          lastRequestFull = later.length >= pageSize;
        }
      } else {
        records = await list(cursor.from === undefined ? {} : { '>=DATE_MODIFY': cursor.from }, { DATE_MODIFY: 'ASC', ID: 'ASC' });
        lastRequestFull = records.length >= pageSize;
      }

      const horizon = now() - settleMs;
      const contacts: ChangedContact[] = [];
      let next: BitrixChangeCursor = cursor;
      let settledToEnd = true;
      for (const record of records) {
        const modified = String(record.DATE_MODIFY ?? '');
        const modifiedMs = Date.parse(modified);
        if (modified === '' || Number.isNaN(modifiedMs)) {
          throw new CrmError('unavailable', `Bitrix24 crm.contact.list: contact ${String(record.ID)} has no readable DATE_MODIFY ("${modified}")`);
        }
        contacts.push({ ...toCrmContact(record, config), modifiedMarker: modified });
        if (settledToEnd && modifiedMs <= horizon) next = { v: 1, at: modified, id: Number(record.ID) };
        else settledToEnd = false;
      }
      return { contacts, cursor: encodeCursor(next), more: lastRequestFull && settledToEnd };
    },
  };
}

function initialCursor(startAt: string | undefined): BitrixChangeCursor {
  if (startAt === undefined) return { v: 1 };
  const ms = Date.parse(startAt);
  if (Number.isNaN(ms)) throw new CrmError('rejected', `Bitrix24: startAt "${startAt}" is not a date`);
  // The portal's own datetime format: whole seconds and an explicit offset.
  return { v: 1, from: new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00') };
}

function encodeCursor(cursor: BitrixChangeCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

function decodeCursor(text: string): BitrixChangeCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const cursor = (parsed ?? {}) as Partial<{ v: number; from: string; at: string; id: number }>;
  const valid =
    typeof parsed === 'object' &&
    cursor.v === 1 &&
    (typeof cursor.at === 'string' ? Number.isInteger(cursor.id) : cursor.from === undefined || typeof cursor.from === 'string');
  if (!valid) throw new CrmError('rejected', 'Bitrix24: the change cursor is not one this connector issued');
  return cursor as BitrixChangeCursor;
}
