// `upsertContacts` answers for many contacts at once, but its contract returns only
// results. When some contacts failed, the call fails as a whole with one CrmError
// that names each failed contact; its `cause` (UpsertFailures) lists them by input
// index. Contacts that were written stay written; upserts are idempotent, so a retry
// rewrites nothing and reaches only the ones that failed.
import { CrmError, type CrmFailureKind } from '../sdk/errors.js';
import type { UpsertResult } from '../sdk/types.js';

const namedInMessage = 5;

export class UpsertFailures extends AggregateError {
  constructor(readonly failures: { index: number; error: CrmError }[]) {
    super(
      failures.map(({ error }) => error),
      `${failures.length} contacts failed`,
    );
    this.name = 'UpsertFailures';
  }
}

export function throwIfAny(outcomes: (UpsertResult | CrmError)[]): UpsertResult[] {
  const failures = outcomes.flatMap((outcome, index) => (outcome instanceof CrmError ? [{ index, error: outcome }] : []));
  if (failures.length === 0) return outcomes as UpsertResult[];
  const named = failures.slice(0, namedInMessage).map(({ index, error }) => `contacts[${index}]: ${error.message}`);
  const more = failures.length > namedInMessage ? `; and ${failures.length - namedInMessage} more` : '';
  const retryAfters = failures.map(({ error }) => error.retryAfterMs).filter((value): value is number => value !== undefined);
  throw new CrmError(overallKind(failures.map(({ error }) => error.kind)), `${failures.length} of ${outcomes.length} contacts were not written: ${named.join('; ')}${more}`, {
    cause: new UpsertFailures(failures),
    ...(retryAfters.length > 0 ? { retryAfterMs: Math.max(...retryAfters) } : {}),
  });
}

/** Worth retrying when any failure is transient; the permanently refused ones then fail again, alone. */
function overallKind(kinds: CrmFailureKind[]): CrmFailureKind {
  if (kinds.includes('throttled')) return 'throttled';
  if (kinds.includes('unavailable')) return 'unavailable';
  return 'rejected';
}
