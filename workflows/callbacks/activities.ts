// A callback's database step: move it on only from the states it is expected in, so a callback
// cancelled through the API meanwhile is never called.
import type { Db } from '../../core/db/client.js';
import { CallbackStore, type CallbackState } from '../../telephony/callbacks/callback-store.js';

export function createCallbackActivities(deps: { db: Db }) {
  const callbacks = new CallbackStore(deps.db);
  return {
    /** The callback's state and how long until it is due, by the database's clock. */
    async callbackDue(input: { callbackId: string }): Promise<{ state: CallbackState | 'missing'; dueInMs: number }> {
      const [row] = await deps.db.$queryRaw<{ state: CallbackState; due_in_ms: number }[]>`
        SELECT state, GREATEST(0, EXTRACT(EPOCH FROM (at - now())) * 1000)::float8 AS due_in_ms FROM callbacks WHERE id = ${input.callbackId}::uuid`;
      return row === undefined ? { state: 'missing', dueInMs: 0 } : { state: row.state, dueInMs: Math.ceil(row.due_in_ms) };
    },
    async moveCallback(input: { callbackId: string; from: CallbackState[]; to: CallbackState; handledBy?: string; outcome?: string }): Promise<boolean> {
      const { callbackId, from, to, ...details } = input;
      return callbacks.transition(callbackId, from, to, details);
    },
  };
}

export type CallbackActivities = ReturnType<typeof createCallbackActivities>;
