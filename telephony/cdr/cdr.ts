/**
 * Call detail records: one per attempt on a trunk. A call that failed over from one carrier to the
 * next leaves one record per trunk tried, sharing `callId`; only the answered one costs money, at
 * the price and billing increment of the route that carried it.
 */
import type { CallEvent, CallLeg, HangupCause } from '../call-control.js';
import { billableSeconds, costMicros, formatBillingIncrement, type BillingIncrement } from './billing.js';

export type CdrOutcome = 'answered' | Exclude<HangupCause, 'normal' | 'transferred' | 'abandoned'> | 'skipped';

export interface CallDetailRecord {
  callId: string;
  /** 1 for the first trunk tried, 2 for the first failover... */
  attempt: number;
  direction: 'inbound' | 'outbound';
  trunk: string;
  routePrefix: string;
  sipCallId: string | undefined;
  from: string;
  to: string;
  outcome: CdrOutcome;
  /** How the answered call ended, once it has. */
  hangupCause: HangupCause | undefined;
  sipStatus: number | undefined;
  reason: string | undefined;
  startedAt: Date;
  answeredAt: Date | undefined;
  endedAt: Date;
  /** Answer to end, in ms; 0 for an unanswered attempt. */
  durationMs: number;
  billableSeconds: number;
  billingIncrement: string;
  pricePerMinuteMicros: number;
  costMicros: number;
  currency: string;
}

export interface CdrRate {
  trunk: string;
  routePrefix: string;
  pricePerMinuteMicros: number;
  billingIncrement: BillingIncrement;
  currency: string;
}

export interface CdrParty {
  callId: string;
  attempt: number;
  direction: 'inbound' | 'outbound';
  from: string;
  to: string;
}

/** The record of an attempt that never reached answer: nothing billed. */
export function unansweredCdr(
  party: CdrParty,
  rate: CdrRate,
  result: { outcome: CdrOutcome; sipStatus: number | undefined; reason: string; startedAt: Date; endedAt: Date },
): CallDetailRecord {
  return {
    ...party,
    ...rateFields(rate),
    sipCallId: undefined,
    outcome: result.outcome,
    hangupCause: undefined,
    sipStatus: result.sipStatus,
    reason: result.reason,
    startedAt: result.startedAt,
    answeredAt: undefined,
    endedAt: result.endedAt,
    durationMs: 0,
    billableSeconds: 0,
    costMicros: 0,
  };
}

export function answeredCdr(
  party: CdrParty,
  rate: CdrRate,
  call: { sipCallId: string; startedAt: Date; answeredAt: Date; endedAt: Date; hangupCause: HangupCause; sipStatus: number | undefined },
): CallDetailRecord {
  const durationMs = Math.max(0, call.endedAt.getTime() - call.answeredAt.getTime());
  const seconds = billableSeconds(durationMs, rate.billingIncrement);
  return {
    ...party,
    ...rateFields(rate),
    sipCallId: call.sipCallId,
    outcome: 'answered',
    hangupCause: call.hangupCause,
    sipStatus: call.sipStatus,
    reason: undefined,
    startedAt: call.startedAt,
    answeredAt: call.answeredAt,
    endedAt: call.endedAt,
    durationMs,
    billableSeconds: seconds,
    costMicros: costMicros(seconds, rate.pricePerMinuteMicros),
  };
}

/** Resolves with the record when the answered leg ends (whoever hangs up). */
export function cdrWhenLegEnds(
  leg: CallLeg,
  party: CdrParty,
  rate: CdrRate,
  times: { startedAt: Date; answeredAt: Date },
  now: () => Date = () => new Date(),
): Promise<CallDetailRecord> {
  return new Promise((resolve) => {
    const finish = (endedAt: Date, hangupCause: HangupCause, sipStatus: number | undefined) => {
      resolve(answeredCdr(party, rate, { sipCallId: leg.sipCallId, ...times, endedAt, hangupCause, sipStatus }));
    };
    if (leg.state === 'ended') {
      finish(now(), 'normal', undefined);
      return;
    }
    const off = leg.on((event: CallEvent) => {
      if (event.type === 'ended') {
        off();
        finish(event.at, event.cause, event.sipStatus);
      }
    });
  });
}

function rateFields(rate: CdrRate) {
  return {
    trunk: rate.trunk,
    routePrefix: rate.routePrefix,
    billingIncrement: formatBillingIncrement(rate.billingIncrement),
    pricePerMinuteMicros: rate.pricePerMinuteMicros,
    currency: rate.currency,
  };
}
