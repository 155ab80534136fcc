/**
 * The workflow's clock: inside workflow code the SDK replaces Date with the time of the current
 * activation, the same on every replay. For due times a workflow keeps in its state (changes to
 * try again, records to read again); everything else in workflow code stays off Date (lint rule).
 */
export function workflowNow(): number {
  // eslint-disable-next-line no-restricted-properties -- deterministic here: the SDK's workflow clock
  return Date.now();
}
