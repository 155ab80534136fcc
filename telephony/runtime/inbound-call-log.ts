/**
 * What happens to one inbound call, told to the contact's journey and written as a CDR: arrival
 * (`ringing`, with the dialled number), the hub's answer, the IVR's decision, the queue, the agent
 * who took it, the end, and the CDR. The caller's number is normalized in the project's region; a
 * caller without a usable number (anonymous, a SIP user name) still gets its CDR, but no journey.
 */
import type { Logger } from '../../core/logger.js';
import { normalizePhone } from '../../core/phone.js';
import type { CallEventSignal } from '../../workflows/journey/shared.js';
import type { HangupCause, InboundCall } from '../call-control.js';
import type { InboundRouting } from '../call-center.js';
import type { CallDetailRecord } from '../cdr/cdr.js';

export interface InboundCallLogDeps {
  /** Durable delivery of one event to the journey (the outbox). */
  sendEvent: (projectId: string, phone: string, event: CallEventSignal) => Promise<void>;
  saveCdrs: (projectId: string, records: CallDetailRecord[]) => Promise<void>;
  logger: Pick<Logger, 'warn' | 'error'>;
}

/** ISO code for "no currency": inbound calls are not priced. */
const NO_CURRENCY = 'XXX';

export class InboundCallLog {
  readonly phone: string | undefined;
  private chain: Promise<void> = Promise.resolve();
  private answeredAt: Date | undefined;
  private readonly startedAt = new Date();

  constructor(
    private readonly deps: InboundCallLogDeps,
    readonly projectId: string,
    readonly callId: string,
    readonly dialled: string,
    private readonly call: InboundCall,
    defaultRegion: string,
  ) {
    const normalized = normalizePhone(call.from, defaultRegion);
    this.phone = normalized.ok ? normalized.e164 : undefined;
    if (!normalized.ok) deps.logger.warn({ callId, from: call.from, reason: normalized.reason }, 'inbound call: the caller\'s number is not a phone number; no journey is told');
    this.send({ type: 'ringing', at: this.startedAt.toISOString(), direction: 'inbound', dialled: dialled });
    call.on((event) => {
      if (event.type === 'answered') {
        this.answeredAt = event.at;
        this.send({ type: 'answered', at: event.at.toISOString() });
      } else if (event.type === 'ended') {
        this.send({ type: 'ended', at: event.at.toISOString(), cause: event.cause, ...(event.sipStatus === undefined ? {} : { sipStatus: event.sipStatus }) });
        this.finish(event.at, event.cause, event.sipStatus);
      }
    });
  }

  /** The call center handed the call on (or could not: `undefined`). */
  routed(routing: InboundRouting | undefined): void {
    if (routing === undefined) return;
    const at = () => new Date().toISOString();
    if (routing.ivr !== undefined) this.send({ type: 'ivr', at: at(), detail: describeIvr(routing.ivr) });
    const carried = routing.carriedOut;
    if (carried.kind !== 'queued') return;
    const queued = carried.queued;
    this.send({
      type: 'queued', at: at(), queue: queued.queue,
      ...(queued.reason === undefined ? {} : { detail: queued.reason }),
      ...(routing.preferredAgentId === undefined ? {} : { preferredAgentId: routing.preferredAgentId }),
    });
    void queued.result.then((outcome) => {
      if (outcome.outcome === 'connected') {
        this.send({ type: 'connected', at: at(), queue: queued.queue, agentId: outcome.agentId });
        return;
      }
      if (outcome.outcome === 'timed-out' && this.call.state !== 'ended') {
        // Nobody took the call within the queue's maxWaitMs; there is no voicemail, and a queue offers no callback
        // itself (an IVR `callback` node does, before the caller queues), so the hub hangs up.
        void this.call.hangup().catch(() => undefined);
      }
    });
  }

  /** Resolves when every event so far has been handed to the outbox (or given up on). */
  settled(): Promise<void> {
    return this.chain;
  }

  private send(event: Omit<CallEventSignal, 'callId'>): void {
    const phone = this.phone;
    if (phone === undefined) return;
    const full = { callId: this.callId, ...event } as CallEventSignal;
    this.chain = this.chain.then(() => this.deps.sendEvent(this.projectId, phone, full)).catch((error: unknown) => {
      this.deps.logger.error({ err: error, callId: this.callId, type: event.type }, 'inbound call event could not be stored for the journey');
    });
  }

  private finish(endedAt: Date, cause: HangupCause, sipStatus: number | undefined): void {
    const durationMs = this.answeredAt === undefined ? 0 : Math.max(0, endedAt.getTime() - this.answeredAt.getTime());
    const record: CallDetailRecord = {
      callId: this.callId, attempt: 1, direction: 'inbound', trunk: '', routePrefix: '', sipCallId: this.call.sipCallId,
      from: this.phone ?? this.call.from, to: this.dialled,
      outcome: this.answeredAt === undefined ? (cause === 'failed' || cause === 'rejected' || cause === 'busy' || cause === 'no-answer' ? cause : 'cancelled') : 'answered',
      hangupCause: cause, sipStatus, reason: undefined, startedAt: this.startedAt, answeredAt: this.answeredAt, endedAt, durationMs,
      billableSeconds: 0, billingIncrement: '', pricePerMinuteMicros: 0, costMicros: 0, currency: NO_CURRENCY,
    };
    this.deps.saveCdrs(this.projectId, [record]).catch((error: unknown) => {
      this.deps.logger.error({ err: error, callId: this.callId, record }, 'inbound CDR could not be saved');
    });
    this.send({ type: 'cdr', at: endedAt.toISOString(), cause: record.outcome, billableSeconds: 0, ...(sipStatus === undefined ? {} : { sipStatus }) });
  }
}

function describeIvr(ivr: NonNullable<InboundRouting['ivr']>): string {
  switch (ivr.kind) {
    case 'queue':
      return `queue ${ivr.queue}${ivr.reason ? ` (${ivr.reason})` : ''}`;
    case 'transfer':
      return `transfer to ${ivr.extension} via ${ivr.trunk}`;
    case 'hangup':
      return 'hang up';
    case 'callback':
      return `callback at ${ivr.at} (queue ${ivr.queue})`;
    case 'abandoned':
      return 'caller hung up in the IVR';
  }
}
