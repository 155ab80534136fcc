// Echo suppression. A value the hub writes to a CRM comes back moments later
// through that CRM's webhook (or a poll) as "the record changed"; taken as news,
// two CRMs that mirror each other would ping-pong forever. The journey keeps a
// ledger of what it wrote (per CRM record and field: a hash of the value and
// when) and holds every incoming change against it.
//
// Pure and deterministic: it runs inside workflow code, so no Node built-ins and
// no clock - every time is an input (ISO strings).

/** What the hub last wrote into one field of one CRM record. */
export interface WrittenField {
  hash: string;
  /** When the hub wrote it (ISO). */
  at: string;
}

/** `<connectorInstanceId>/<externalId>` -> hub field name -> the hub's last write there. */
export type HubWriteLedger = Record<string, Record<string, WrittenField>>;

/**
 * - `crm`: a change made in the CRM (the hub wrote nothing to the record within the window,
 *   or the changed values differ from what it wrote);
 * - `hub-echo`: every changed value is what the hub wrote within the window;
 * - `unknown`: the hub wrote to the record recently but the change carries no values
 *   (Bitrix24 sends only the record id): re-read the record and classify again.
 */
export type ChangeOrigin = 'crm' | 'hub-echo' | 'unknown';

/** How long after a write its echo is expected: CRMs queue outbound events, polls lag. */
export const ECHO_WINDOW_MS = 15 * 60_000;
/** The CRM change is stamped by the hub's database, the write by a worker: clocks differ slightly. */
const clockSkewMs = 5_000;
/** Records kept per journey; a contact lives in a handful of CRMs, so this is generous. */
const maxRecordsInLedger = 100;

export function ledgerKey(connectorInstanceId: string, externalId: string): string {
  return `${connectorInstanceId}/${externalId}`;
}

/**
 * Hash per field of values as the hub writes or reads them. Values are compared as a
 * CRM stores them: scalars as trimmed text ("42" equals 42), empty text, null and
 * undefined alike, object keys in any order.
 */
export function hashFieldValues(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([field, value]) => [field, fnv1a64(JSON.stringify(canonical(value)))]));
}

/**
 * Records that the hub wrote `fieldHashes` (from `hashFieldValues`) into the record at
 * `at`. Called by the journey after a write-back activity succeeded. Entries older than
 * the window are dropped, so the ledger stays small in the journey's state.
 */
export function rememberWrite(
  ledger: HubWriteLedger,
  connectorInstanceId: string,
  externalId: string,
  fieldHashes: Record<string, string>,
  at: string,
  windowMs = ECHO_WINDOW_MS,
): void {
  const key = ledgerKey(connectorInstanceId, externalId);
  const record = (ledger[key] ??= {});
  for (const [field, hash] of Object.entries(fieldHashes)) record[field] = { hash, at };
  prune(ledger, Date.parse(at), windowMs);
}

export interface IncomingChange {
  connectorInstanceId: string;
  externalId: string;
  /** When the hub received the change (ISO, hub clock): the window is measured on it. */
  receivedAt: string;
  /** Changed fields under hub field names, when the CRM (or a re-read) says. */
  changes?: Record<string, unknown> | undefined;
}

export function classifyCrmChange(ledger: HubWriteLedger, change: IncomingChange, windowMs = ECHO_WINDOW_MS): ChangeOrigin {
  const written = ledger[ledgerKey(change.connectorInstanceId, change.externalId)] ?? {};
  const receivedAt = Date.parse(change.receivedAt);
  const recent = new Map(
    Object.entries(written).filter(([, write]) => {
      const sinceWrite = receivedAt - Date.parse(write.at);
      return sinceWrite >= -clockSkewMs && sinceWrite <= windowMs;
    }),
  );
  // The hub did not touch the record lately: whatever changed, the CRM changed it.
  if (recent.size === 0) return 'crm';
  if (change.changes === undefined) return 'unknown';
  const changed = Object.entries(hashFieldValues(change.changes));
  if (changed.length === 0) return 'unknown';
  return changed.every(([field, hash]) => recent.get(field)?.hash === hash) ? 'hub-echo' : 'crm';
}

/** True when the change only repeats what the hub itself wrote within the window. */
export function isEcho(ledger: HubWriteLedger, change: IncomingChange, windowMs = ECHO_WINDOW_MS): boolean {
  return classifyCrmChange(ledger, change, windowMs) === 'hub-echo';
}

function prune(ledger: HubWriteLedger, now: number, windowMs: number): void {
  const newestWrite = new Map<string, number>();
  for (const [key, fields] of Object.entries(ledger)) {
    for (const [field, write] of Object.entries(fields)) {
      if (now - Date.parse(write.at) > windowMs) delete fields[field];
    }
    const times = Object.values(fields).map((write) => Date.parse(write.at));
    if (times.length === 0) delete ledger[key];
    else newestWrite.set(key, Math.max(...times));
  }
  const byAge = [...newestWrite.entries()].sort((a, b) => b[1] - a[1]);
  for (const [key] of byAge.slice(maxRecordsInLedger)) delete ledger[key];
}

type Canonical = string | null | Canonical[] | { [key: string]: Canonical };

function canonical(value: unknown): Canonical {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([key, inner]) => [key, canonical(inner)]));
  }
  const text = String(value).trim();
  return text === '' ? null : text;
}

// FNV-1a, 64 bits: deterministic and dependency-free (workflow code has no crypto).
// It guards against echoes, not attackers; a collision within one record's field
// and one window would at worst hide a single change.
const fnvOffset = 0xcbf29ce484222325n;
const fnvPrime = 0x100000001b3n;
const mask64 = 0xffffffffffffffffn;

function fnv1a64(text: string): string {
  let hash = fnvOffset;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= BigInt(text.charCodeAt(index));
    hash = (hash * fnvPrime) & mask64;
  }
  return hash.toString(16).padStart(16, '0');
}
