// The journey's view of an inbound call: its steps (arrival on a number, the IVR's decision, the
// queue, the agent who took it) merged into one entry. Pure functions, no Temporal.
import { describe, expect, it } from 'vitest';
import { readCallEvent, recordCallEvent } from './calls.js';
import type { JourneyState } from './shared.js';

const emptyState = (): JourneyState => ({
  projectId: 'p', phone: '+4930555001', tasks: [], crmRecords: {}, eventsHandled: 0, crmChanges: [], crmChangesReceived: 0,
  hubWrites: {} as JourneyState['hubWrites'],
});

describe('inbound call steps on the journey', () => {
  it('merges arrival, answer, IVR decision, queue, agent, end and CDR into one call', () => {
    const state = emptyState();
    const steps = [
      { type: 'ringing', at: '2026-01-01T10:00:00.000Z', direction: 'inbound', dialled: '4930123456' },
      { type: 'answered', at: '2026-01-01T10:00:00.100Z' },
      { type: 'ivr', at: '2026-01-01T10:00:05.000Z', detail: 'queue sales' },
      { type: 'queued', at: '2026-01-01T10:00:05.010Z', queue: 'sales', preferredAgentId: 'ann' },
      { type: 'connected', at: '2026-01-01T10:00:07.000Z', queue: 'sales', agentId: 'ann' },
      { type: 'ended', at: '2026-01-01T10:01:00.000Z', cause: 'normal' },
      { type: 'cdr', at: '2026-01-01T10:01:00.000Z', cause: 'answered', billableSeconds: 0 },
    ];
    for (const step of steps) recordCallEvent(state, { callId: 'in-1', ...step });
    expect(state.rejectedCallEvents).toBeUndefined();
    expect(state.calls).toEqual([{
      callId: 'in-1', direction: 'inbound', dialled: '4930123456', ringingAt: '2026-01-01T10:00:00.000Z', answeredAt: '2026-01-01T10:00:00.100Z',
      ivr: 'queue sales', queue: 'sales', preferredAgentId: 'ann', agentId: 'ann', connectedAt: '2026-01-01T10:00:07.000Z', endedAt: '2026-01-01T10:01:00.000Z', cause: 'normal',
      cdr: { at: '2026-01-01T10:01:00.000Z', billableSeconds: 0, outcome: 'answered', trunk: undefined, cost: undefined, currency: undefined },
      events: ['ringing', 'answered', 'ivr', 'queued', 'connected', 'ended', 'cdr'],
    }]);
  });

  it('names the field of a malformed inbound step', () => {
    expect(readCallEvent({ callId: 'in-2', type: 'connected', at: '2026-01-01T10:00:00Z', agentId: 7 })).toEqual({ ok: false, reason: 'agentId: expected a string' });
    expect(readCallEvent({ callId: 'in-2', type: 'queued', at: '2026-01-01T10:00:00Z', preferredAgentId: ['bob'] })).toEqual({ ok: false, reason: 'preferredAgentId: expected a string' });
    expect(readCallEvent({ callId: 'in-2', type: 'ringing', at: '2026-01-01T10:00:00Z', direction: 'sideways' })).toEqual({ ok: false, reason: 'direction: expected inbound or outbound' });
  });
});
