// A poll sees states, not events: to say which fields changed (what echo
// suppression holds against the hub's own writes) it compares each record with
// the state the previous poll saw, kept as one hash per field (core/webhooks/echo.ts
// hashes values the way it compares them), never the values themselves.
import type { CrmContact } from '../../connectors/sdk/types.js';
import { hashFieldValues } from '../webhooks/echo.js';
import { HUB_TASK_ID_FIELD } from '../tasks/delivery.js';

/** The record in hub field names, as reconciliation reads it (fields.* flattened one level). */
export function polledValues(contact: CrmContact): Record<string, unknown> {
  const values: Record<string, unknown> = { phone: contact.phone, name: contact.name, email: contact.email };
  for (const [field, value] of Object.entries(contact.fields)) {
    // The hub's own bookkeeping is not contact data (as in reconciliation).
    if (field === HUB_TASK_ID_FIELD) continue;
    values[`fields.${field}`] = value;
  }
  return values;
}

export interface FieldDelta {
  /** Changed fields with their new values; a field that disappeared is null. */
  changes: Record<string, unknown>;
  /** The state to remember for the next poll. */
  hashes: Record<string, string>;
}

/** Fields whose value differs from the previous state; every field when there is none. */
export function fieldDelta(previous: Record<string, string> | undefined, values: Record<string, unknown>): FieldDelta {
  const hashes = hashFieldValues(values);
  const changes: Record<string, unknown> = {};
  for (const [field, hash] of Object.entries(hashes)) {
    if (previous?.[field] !== hash) changes[field] = values[field] ?? null;
  }
  const emptyHash = hashFieldValues({ gone: null }).gone;
  for (const [field, hash] of Object.entries(previous ?? {})) {
    if (!(field in hashes) && hash !== emptyHash) changes[field] = null;
  }
  return { changes, hashes };
}
