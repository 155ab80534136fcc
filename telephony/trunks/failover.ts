/**
 * Outbound calls over carrier trunks with failover. The next trunk is tried only when the failure
 * is the trunk's (5xx, 408, no response, refused credentials): a busy, declined or unknown number
 * (486, 603, 404...) is the callee's answer and would be the same through any carrier.
 */
import type { CallControl, CallEvent, CallLeg, OriginateResult } from '../call-control.js';
import { cdrWhenLegEnds, unansweredCdr, type CallDetailRecord, type CdrParty, type CdrRate } from '../cdr/cdr.js';
import type { TrunkConfig } from './config.js';
import { trunkUri } from './config.js';
import type { TrunkHealth } from './health.js';
import { selectRoutes, type RouteCandidate } from './routing.js';

type Failure = Exclude<OriginateResult, { outcome: 'answered' }>;

export interface FailureVerdict {
  /** Try the next trunk. */
  failover: boolean;
  /** Count it against the trunk's health. */
  blamesTrunk: boolean;
}

/**
 * The one place that decides failover. A ring timeout without a status ('no-answer') is the callee
 * not picking up; "no response at all" reaches us as 'failed' without a status.
 */
export function classifyFailure(result: Failure): FailureVerdict {
  const status = result.sipStatus;
  if (result.outcome === 'cancelled') return { failover: false, blamesTrunk: false };
  if (status === undefined) {
    const trunkSilent = result.outcome === 'failed';
    return { failover: trunkSilent, blamesTrunk: trunkSilent };
  }
  // 401/407: our credentials were refused; 402: the carrier wants money. Another carrier may work.
  const trunkFault = status >= 500 && status <= 599 ? true : status === 408 || status === 401 || status === 402 || status === 407;
  return { failover: trunkFault, blamesTrunk: trunkFault };
}

export interface CallAttempt {
  attempt: number;
  trunk: string;
  routePrefix: string;
  uri: string;
  outcome: OriginateResult['outcome'];
  sipStatus: number | undefined;
  reason: string | undefined;
  setupMs: number;
  /** Set for attempts that did not answer: their (free) record. */
  cdr: CallDetailRecord | undefined;
}

export interface PlaceCallRequest {
  callId: string;
  /** E.164, e.g. "+4930123456". */
  to: string;
  callerId: string;
  sdp: string;
  ringTimeoutMs: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** Ringing / early media of each attempt, with the trunk it went out on. */
  onProgress?: (event: Extract<CallEvent, { type: 'ringing' }>, trunk: string) => void;
}

export type PlaceCallResult =
  | {
      outcome: 'answered';
      leg: CallLeg;
      trunk: string;
      attempts: CallAttempt[];
      skipped: { trunk: string; routePrefix: string; reason: string }[];
      /** The billed record, once the call ends. */
      ended: Promise<CallDetailRecord>;
    }
  | {
      outcome: Failure['outcome'] | 'no-route';
      sipStatus: number | undefined;
      reason: string;
      attempts: CallAttempt[];
      skipped: { trunk: string; routePrefix: string; reason: string }[];
    };

export interface PlaceCallDeps {
  trunks: readonly TrunkConfig[];
  health: TrunkHealth;
  now?: () => Date;
}

export async function placeCallWithFailover(
  callControl: Pick<CallControl, 'originate'>,
  deps: PlaceCallDeps,
  request: PlaceCallRequest,
): Promise<PlaceCallResult> {
  const now = deps.now ?? (() => new Date());
  const { candidates, skipped } = selectRoutes(deps.trunks, request.to, deps.health);
  const attempts: CallAttempt[] = [];
  if (candidates.length === 0) {
    const reason = skipped.length > 0
      ? `every trunk with a route to ${request.to} is down (${skipped.map((s) => s.trunk).join(', ')})`
      : `no trunk has a route to ${request.to}`;
    return { outcome: 'no-route', sipStatus: undefined, reason, attempts, skipped };
  }

  let last: Failure | undefined;
  for (const candidate of candidates) {
    if (request.signal?.aborted) break;
    const party: CdrParty = { callId: request.callId, attempt: attempts.length + 1, direction: 'outbound', from: request.callerId, to: request.to };
    const rate = rateOf(candidate);
    const uri = trunkUri(candidate.trunk, candidate.dialString);
    const startedAt = now();
    const result = await callControl.originate({
      uri,
      callerId: request.callerId,
      sdp: request.sdp,
      ringTimeoutMs: request.ringTimeoutMs,
      headers: request.headers,
      auth: candidate.trunk.auth.mode === 'registration'
        ? { username: candidate.trunk.auth.username, password: candidate.trunk.auth.password }
        : undefined,
      signal: request.signal,
      onProgress: request.onProgress && ((event) => request.onProgress?.(event, candidate.trunk.name)),
    });
    const base = { attempt: party.attempt, trunk: candidate.trunk.name, routePrefix: candidate.route.prefix, uri, setupMs: result.setupMs };

    if (result.outcome === 'answered') {
      deps.health.recordSuccess(candidate.trunk.name);
      attempts.push({ ...base, outcome: 'answered', sipStatus: 200, reason: undefined, cdr: undefined });
      const answeredAt = now();
      return {
        outcome: 'answered',
        leg: result.leg,
        trunk: candidate.trunk.name,
        attempts,
        skipped,
        ended: cdrWhenLegEnds(result.leg, party, rate, { startedAt, answeredAt }, now),
      };
    }

    const verdict = classifyFailure(result);
    if (verdict.blamesTrunk) deps.health.recordFailure(candidate.trunk.name, describe(result));
    else if (result.sipStatus !== undefined) deps.health.recordSuccess(candidate.trunk.name);
    const cdr = unansweredCdr(party, rate, { outcome: result.outcome, sipStatus: result.sipStatus, reason: result.reason, startedAt, endedAt: now() });
    attempts.push({ ...base, outcome: result.outcome, sipStatus: result.sipStatus, reason: result.reason, cdr });
    last = result;
    if (!verdict.failover) break;
  }

  const final = last ?? { outcome: 'cancelled' as const, sipStatus: undefined, reason: 'cancelled before the first attempt', setupMs: 0 };
  return { outcome: final.outcome, sipStatus: final.sipStatus, reason: final.reason, attempts, skipped };
}

/** Every record of a placement: the free failed attempts and, for an answered call, the billed one when it ends. */
export async function callDetailRecords(result: PlaceCallResult): Promise<CallDetailRecord[]> {
  const failed = result.attempts.flatMap((attempt) => (attempt.cdr ? [attempt.cdr] : []));
  return result.outcome === 'answered' ? [...failed, await result.ended] : failed;
}

function rateOf(candidate: RouteCandidate): CdrRate {
  return {
    trunk: candidate.trunk.name,
    routePrefix: candidate.route.prefix,
    pricePerMinuteMicros: candidate.route.pricePerMinute,
    billingIncrement: candidate.route.billingIncrement,
    currency: candidate.trunk.currency,
  };
}

function describe(result: Failure): string {
  return result.sipStatus === undefined ? `${result.outcome}: ${result.reason}` : `${result.sipStatus} ${result.reason}`;
}
