// The journey's view of its contact's calls: call events (telephony/activities.ts) merged per
// callId into a short list. Pure and deterministic: runs inside the journey workflow.
import {
  MAX_CALLS_IN_STATE,
  MAX_REJECTED_CALL_EVENTS,
  type CallEventSignal,
  type CallEventType,
  type JourneyCallView,
  type JourneyState,
} from './shared.js';

const EVENT_TYPES: readonly CallEventType[] = ['ringing', 'answered', 'ivr', 'queued', 'connected', 'ended', 'cdr'];

/**
 * Reads a signal payload into a call event, or says what is wrong with it. A signal's payload is
 * whatever a client sent; a bad one must be recorded, never throw (that would fail the workflow task
 * and stall the journey on every replay).
 */
export function readCallEvent(payload: unknown): { ok: true; event: CallEventSignal } | { ok: false; reason: string } {
  if (typeof payload !== 'object' || payload === null) return { ok: false, reason: 'not an object' };
  const raw = payload as Record<string, unknown>;
  if (typeof raw.callId !== 'string' || raw.callId === '') return { ok: false, reason: 'callId: expected a non-empty string' };
  if (typeof raw.type !== 'string' || !EVENT_TYPES.includes(raw.type as CallEventType)) {
    return { ok: false, reason: `type: expected one of ${EVENT_TYPES.join(', ')}` };
  }
  if (typeof raw.at !== 'string' || Number.isNaN(Date.parse(raw.at))) return { ok: false, reason: 'at: expected an ISO timestamp' };
  if (raw.direction !== undefined && raw.direction !== 'inbound' && raw.direction !== 'outbound') return { ok: false, reason: 'direction: expected inbound or outbound' };
  for (const field of ['trunk', 'cause', 'cost', 'currency', 'dialled', 'queue', 'agentId', 'preferredAgentId', 'detail'] as const) {
    if (raw[field] !== undefined && typeof raw[field] !== 'string') return { ok: false, reason: `${field}: expected a string` };
  }
  for (const field of ['sipStatus', 'billableSeconds'] as const) {
    const value = raw[field];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) return { ok: false, reason: `${field}: expected a non-negative number` };
  }
  return { ok: true, event: raw as unknown as CallEventSignal };
}

/** Folds a call event (or an unreadable payload) into the journey's state. */
export function recordCallEvent(state: JourneyState, payload: unknown): void {
  const read = readCallEvent(payload);
  if (!read.ok) {
    const rejected = (state.rejectedCallEvents ??= []);
    rejected.unshift({ reason: read.reason, received: describePayload(payload) });
    if (rejected.length > MAX_REJECTED_CALL_EVENTS) rejected.length = MAX_REJECTED_CALL_EVENTS;
    return;
  }
  const event = read.event;
  const calls = (state.calls ??= []);
  const index = calls.findIndex((call) => call.callId === event.callId);
  const call: JourneyCallView = index >= 0 ? calls.splice(index, 1)[0]! : { callId: event.callId, events: [] };
  merge(call, event);
  calls.unshift(call);
  if (calls.length > MAX_CALLS_IN_STATE) calls.length = MAX_CALLS_IN_STATE;
}

function merge(call: JourneyCallView, event: CallEventSignal): void {
  call.events.push(event.type);
  if (event.type === 'cdr') {
    // Failed attempts of a failover send their own (free) CDRs; the answered one is what the call cost.
    if (call.cdr !== undefined && call.cdr.outcome === 'answered' && event.cause !== 'answered') return;
    call.cdr = { at: event.at, trunk: event.trunk, billableSeconds: event.billableSeconds, cost: event.cost, currency: event.currency, outcome: event.cause };
    if (event.cause === 'answered' && event.trunk !== undefined) call.trunk = event.trunk;
    return;
  }
  if (event.trunk !== undefined) call.trunk = event.trunk;
  if (event.sipStatus !== undefined) call.sipStatus = event.sipStatus;
  if (event.direction !== undefined) call.direction = event.direction;
  if (event.dialled !== undefined) call.dialled = event.dialled;
  if (event.queue !== undefined) call.queue = event.queue;
  if (event.type === 'ringing') call.ringingAt ??= event.at;
  else if (event.type === 'answered') call.answeredAt ??= event.at;
  else if (event.type === 'ivr') call.ivr = event.detail;
  else if (event.type === 'queued') {
    if (event.preferredAgentId !== undefined) call.preferredAgentId = event.preferredAgentId;
  } else if (event.type === 'connected') {
    call.connectedAt ??= event.at;
    if (event.agentId !== undefined) call.agentId = event.agentId;
  } else {
    call.endedAt ??= event.at;
    if (event.cause !== undefined) call.cause = event.cause;
  }
}

function describePayload(payload: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(payload) ?? String(payload);
  } catch {
    text = String(payload);
  }
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
