// Echo suppression: a change that only repeats what the hub wrote is recognized,
// anything else (other values, other fields, too late, another record) is news.
import { describe, expect, it } from 'vitest';
import { classifyCrmChange, ECHO_WINDOW_MS, hashFieldValues, isEcho, rememberWrite, type HubWriteLedger } from './echo.js';

const bitrix = '6f1f4a0e-8a55-4d7e-9d43-5f0f0d6a1c01';
const legacy = '0b0d7f7e-2c1c-4b6e-8e0e-3b7b7f9a5c02';
const writtenAt = '2026-11-24T10:00:00.000Z';
const after = (ms: number) => new Date(Date.parse(writtenAt) + ms).toISOString();

function ledgerWith(values: Record<string, unknown>, externalId = '42', source = bitrix): HubWriteLedger {
  const ledger: HubWriteLedger = {};
  rememberWrite(ledger, source, externalId, hashFieldValues(values), writtenAt);
  return ledger;
}

const change = (changes: Record<string, unknown> | undefined, receivedAt = after(3_000), externalId = '42', connectorInstanceId = bitrix) => ({
  connectorInstanceId,
  externalId,
  receivedAt,
  changes,
});

describe('echo suppression', () => {
  it('recognizes the echo of a hub write, also when the CRM reports only some of the fields', () => {
    const ledger = ledgerWith({ name: 'Ada Lovelace', email: 'ada@example.com' });
    expect(classifyCrmChange(ledger, change({ name: 'Ada Lovelace', email: 'ada@example.com' }))).toBe('hub-echo');
    expect(isEcho(ledger, change({ name: 'Ada Lovelace' }))).toBe(true);
  });

  it('compares values as a CRM stores them: text, trimmed, empty as null, keys in any order', () => {
    const ledger = ledgerWith({ amount: 42, name: ' Ada ', note: '', address: { city: 'London', street: '1 Main St' } });
    expect(isEcho(ledger, change({ amount: '42', name: 'Ada', note: null, address: { street: '1 Main St', city: 'London' } }))).toBe(true);
  });

  it('takes a different value, or a field the hub did not write, as a change made in the CRM', () => {
    const ledger = ledgerWith({ name: 'Ada Lovelace' });
    expect(classifyCrmChange(ledger, change({ name: 'Ada King' }))).toBe('crm');
    expect(classifyCrmChange(ledger, change({ name: 'Ada Lovelace', status: 'won' }))).toBe('crm');
  });

  it('takes any change as the CRM\'s when the hub did not write to that record within the window', () => {
    const ledger = ledgerWith({ name: 'Ada Lovelace' });
    expect(classifyCrmChange(ledger, change({ name: 'Ada Lovelace' }, after(ECHO_WINDOW_MS + 1)))).toBe('crm');
    expect(classifyCrmChange(ledger, change({ name: 'Ada Lovelace' }, after(3_000), '43'))).toBe('crm');
    expect(classifyCrmChange(ledger, change({ name: 'Ada Lovelace' }, after(3_000), '42', legacy))).toBe('crm');
    // Hub and database clocks differ by a little, not by minutes.
    expect(classifyCrmChange(ledger, change({ name: 'Ada Lovelace' }, after(-3_000)))).toBe('hub-echo');
    expect(classifyCrmChange(ledger, change({ name: 'Ada Lovelace' }, after(-60_000)))).toBe('crm');
    // Without values there is nothing to hold against the ledger, and no recent write means no echo.
    expect(classifyCrmChange({}, change(undefined))).toBe('crm');
  });

  it('cannot tell without values when the hub wrote to the record lately: the record must be re-read', () => {
    const ledger = ledgerWith({ name: 'Ada Lovelace' });
    expect(classifyCrmChange(ledger, change(undefined))).toBe('unknown');
    expect(classifyCrmChange(ledger, change({}))).toBe('unknown');
    expect(isEcho(ledger, change(undefined))).toBe(false);
  });

  it('keeps the latest write per field and forgets writes older than the window', () => {
    const ledger = ledgerWith({ name: 'Ada Lovelace', email: 'ada@example.com' });
    rememberWrite(ledger, bitrix, '42', hashFieldValues({ name: 'Ada King' }), after(60_000));
    expect(isEcho(ledger, change({ name: 'Ada King', email: 'ada@example.com' }, after(61_000)))).toBe(true);
    expect(isEcho(ledger, change({ name: 'Ada Lovelace' }, after(61_000)))).toBe(false);

    rememberWrite(ledger, legacy, '7', hashFieldValues({ name: 'Grace' }), after(ECHO_WINDOW_MS + 120_000));
    expect(Object.keys(ledger)).toEqual([`${legacy}/7`]);
  });

  it('stays bounded however many records the hub writes to', () => {
    const ledger: HubWriteLedger = {};
    for (let index = 0; index < 250; index += 1) rememberWrite(ledger, bitrix, String(index), hashFieldValues({ name: `n${index}` }), after(index));
    expect(Object.keys(ledger)).toHaveLength(100);
    expect(ledger[`${bitrix}/249`]).toBeDefined();
    expect(ledger[`${bitrix}/0`]).toBeUndefined();
  });
});
