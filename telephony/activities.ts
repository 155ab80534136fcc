/**
 * Telephony as Temporal activities: place a call (trunks with failover), bridge it to an agent
 * through a queue, transfer it to an office extension, hang it up. Every call event (ringing,
 * answered, ended) and every CDR goes to the contact's journey as a `callEvent` signal
 * (signalWithStart on `journey/<projectId>/<E.164>`), so the journey lists its calls.
 *
 * Worker-specific task queue: a live call is SIP state in the memory of the one process whose
 * call-control adapter holds its dialogs; another worker cannot bridge or hang it up. So the
 * telephony worker polls a task queue of its own (`telephony-<instance id>`, `taskQueue` below),
 * `placeCall` keeps the answered leg in this process's registry of live calls and returns that
 * task queue, and the workflow schedules every later activity on the call (bridgeToAgent,
 * transferCall, hangupCall) on the returned queue. If that worker dies the call died with it:
 * those activities then time out on schedule-to-start and the workflow treats the call as gone.
 * placeCall itself may run on any telephony worker's queue.
 *
 * Media: `placeCall({ ..., media: true })` offers the callee rtpengine's SDP (offer-first anchoring,
 * MediaControl.offerOutbound) instead of the signalling-only `offerSdp`, so that `playAndCollect`
 * can play a prompt to the callee and collect its key presses (RFC 2833 or SIP INFO).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CallLeg, MediaControl, OutboundMediaOffer } from './call-control.js';
import type { CallCenter } from './call-center.js';
import { formatMicros } from './cdr/billing.js';
import type { CallDetailRecord } from './cdr/cdr.js';
import { LegEndedError, MediaUsageError } from './media/rtpengine-media.js';
import type { CallAttempt } from './trunks/failover.js';
import type { CallEventSignal } from '../workflows/journey/shared.js';

/** Delivers one call event to the journey of the contact (projectId, E.164). */
export type SignalJourney = (projectId: string, phone: string, event: CallEventSignal) => Promise<void>;

export interface TelephonyActivityDeps {
  /** The call center calls are placed through; or, with several projects, `callCenterFor`. */
  callCenter?: CallCenter;
  /** The project's call center (the telephony process runs one per project). */
  callCenterFor?: (projectId: string) => CallCenter;
  /** Persists the CDRs of placed calls (failed attempts at once, the billed one when the call ends). */
  saveCdrs?: (projectId: string, records: CallDetailRecord[]) => Promise<void>;
  signalJourney: SignalJourney;
  /** This worker's own task queue: where activities on calls it placed must run. */
  taskQueue: string;
  /** The SDP outbound legs are offered (signalling-only calls until media is anchored for them). */
  offerSdp: string;
  /** Media for calls placed with `media: true` and for playAndCollect: rtpengine and the built prompts. */
  media?: { control: MediaControl; promptPath: (prompt: string) => string };
  /** Why there is no media on this worker (for the failure a media request gets). */
  mediaUnavailable?: string;
  /** PBX transfers: the pbx trunk, and the queue a caller goes to when the transfer fails. */
  pbx?: { trunk: string; fallbackQueue: string };
  heartbeatIntervalMs?: number;
  logger?: { error(details: object, message: string): void };
}

export interface PlaceCallInput {
  projectId: string;
  /** The hub's id for this call (also the journey's key for it); unique per placement. */
  callId: string;
  /** E.164. */
  to: string;
  callerId: string;
  ringTimeoutMs: number;
  /**
   * Anchor the call's media in rtpengine (offer-first) so that playAndCollect can run on it.
   * `'if-available'`: anchored when this worker has media, else a signalling-only call (the
   * dialer's abandon message then cannot play; the call is still hung up).
   */
  media?: boolean | 'if-available';
  /**
   * Hand the call to a queue the moment the callee answers, here in the telephony process, instead
   * of when the workflow next asks (`bridgeToAgent`, which then returns this hand-over's outcome).
   * The dialer's abandon rule counts from the answer: a workflow task that waits for a busy worker
   * must not spend the seconds a contact is given to reach an agent.
   */
  connect?: { queue: string; preferredAgent?: string; ifNoAgent?: IfNoAgent };
}

export interface PlayAndCollectInput {
  callId: string;
  /** A prompt of the catalog (telephony/media/prompts.json), e.g. `enter-account-number`. */
  prompt: string;
  maxDigits: number;
  /** How long to wait for the first key after the prompt ended, and between keys. */
  timeoutMs: number;
  /** A key that ends the input early and is not part of the digits, e.g. `#`. */
  terminator?: string;
}

export interface PlayAndCollectOutput {
  digits: string;
  timedOut: boolean;
}

export interface PlaceCallOutput {
  callId: string;
  outcome: string;
  sipStatus?: number;
  reason?: string;
  trunk?: string;
  attempts: { trunk: string; outcome: string; sipStatus?: number }[];
  /** Where bridgeToAgent / transferCall / hangupCall for this call must be scheduled. */
  taskQueue: string;
  /** ISO time the callee answered (answered calls only). */
  answeredAt?: string;
}

/** What to do with an answered call no agent takes in time (the predictive dialer's abandon rule). */
export interface IfNoAgent {
  /** Counted from the callee's answer: no agent connected by then = abandoned. */
  withinMs: number;
  /** Catalog prompt played before the hub hangs up (when the call has media). */
  prompt: string;
}

export interface BridgeOutput {
  /** connected, or the queue's outcome: abandoned (the callee hung up), timed-out (no agent in time). */
  outcome: string;
  agentId?: string;
  waitedMs: number;
  /** With `ifNoAgent`, a call no agent took in time: the message played (or why not), then the hub hung up. */
  noAgent?: { message: 'played' | string; hungUpAfterMs: number };
}

interface LiveCall {
  projectId: string;
  center: CallCenter;
  phone: string;
  leg: CallLeg;
  /** Media anchored in rtpengine (placed with `media: true`). */
  media: boolean;
  /** performance.now() when the callee answered. */
  answeredAtMono: number;
  releaseAgent?: () => void;
}

/** How long the outcome of a hand-over started at the answer waits for its bridgeToAgent. */
const handOverKeptMs = 15 * 60_000;

export function createTelephonyActivities(deps: TelephonyActivityDeps) {
  const live = new Map<string, LiveCall>();
  // Hand-overs started at the answer (`connect`), by call id, until bridgeToAgent collects them.
  // Kept apart from `live`: a call abandoned by rule has ended before the workflow asks.
  const handOvers = new Map<string, Promise<BridgeOutput>>();
  const heartbeatMs = deps.heartbeatIntervalMs ?? 1_000;

  // Signals of one call are sent in order; a journey that cannot be reached is logged, not thrown
  // into SIP listeners (the call goes on; the CDR is also persisted by telephony).
  const chains = new Map<string, Promise<void>>();
  const signal = (projectId: string, phone: string, event: CallEventSignal): Promise<void> => {
    const previous = chains.get(event.callId) ?? Promise.resolve();
    const next = previous.then(() => deps.signalJourney(projectId, phone, event)).catch((error: unknown) => {
      deps.logger?.error({ err: error, callId: event.callId, type: event.type }, 'call event did not reach the journey');
    });
    chains.set(event.callId, next);
    void next.then(() => {
      if (chains.get(event.callId) === next) chains.delete(event.callId);
    });
    return next;
  };

  const centerFor = (projectId: string): CallCenter => {
    let center: CallCenter | undefined;
    try {
      center = deps.callCenterFor?.(projectId) ?? deps.callCenter;
    } catch (error) {
      throw ApplicationFailure.create({ nonRetryable: true, type: 'NoCallCenter', message: error instanceof Error ? error.message : String(error) });
    }
    if (center === undefined) throw ApplicationFailure.create({ nonRetryable: true, type: 'NoCallCenter', message: `project ${projectId} has no telephony configured on this worker` });
    return center;
  };
  const saveCdrs = (projectId: string, records: CallDetailRecord[]): void => {
    if (deps.saveCdrs === undefined || records.length === 0) return;
    deps.saveCdrs(projectId, records).catch((error: unknown) => {
      deps.logger?.error({ err: error, callId: records[0]?.callId }, 'CDRs could not be saved');
    });
  };

  const liveCall = (callId: string): LiveCall => {
    const call = live.get(callId);
    if (call === undefined) {
      throw ApplicationFailure.create({ nonRetryable: true, type: 'CallNotLive', message: `call ${callId} is not live on this worker (ended, or placed by another)` });
    }
    return call;
  };

  const mediaOrFail = (): NonNullable<TelephonyActivityDeps['media']> => {
    if (deps.media !== undefined) return deps.media;
    throw ApplicationFailure.create({
      nonRetryable: true, type: 'NoMedia',
      message: `this telephony worker has no media (rtpengine and prompts), so it cannot play prompts or collect digits${deps.mediaUnavailable ? `: ${deps.mediaUnavailable}` : ''}`,
    });
  };

  /** Plays the prompt to a call no agent took (if it has media), then hangs it up. */
  const abandonWithMessage = async (call: LiveCall, callId: string, prompt: string): Promise<NonNullable<BridgeOutput['noAgent']>> => {
    let message: string;
    const hungUp = (): boolean => call.leg.state === 'ended';
    if (!call.media || deps.media === undefined) {
      message = `not played: the call has no media${deps.mediaUnavailable ? ` (${deps.mediaUnavailable})` : ''}`;
    } else if (hungUp()) {
      message = 'not played: the contact hung up';
    } else {
      try {
        await deps.media.control.play(call.leg, deps.media.promptPath(prompt));
        message = hungUp() ? 'not played to the end: the contact hung up' : 'played';
      } catch (error) {
        message = `not played: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    await call.leg.hangup().catch(() => undefined);
    live.delete(callId);
    return { message, hungUpAfterMs: Math.round(performance.now() - call.answeredAtMono) };
  };

  /** Queues the live call for an agent; with `ifNoAgent`, one no agent took in time hears the prompt and is hung up. */
  const handOver = async (call: LiveCall, callId: string, queue: string, preferredAgent?: string, ifNoAgent?: IfNoAgent): Promise<BridgeOutput> => {
    const maxWaitMs = ifNoAgent === undefined ? undefined : Math.max(0, ifNoAgent.withinMs - (performance.now() - call.answeredAtMono));
    let target: ReturnType<CallCenter['queue']>;
    try {
      target = call.center.queue(queue);
    } catch (error) {
      // No such queue here: nobody could ever take the call, so the contact is not left on an open, silent line.
      await call.leg.hangup().catch(() => undefined);
      live.delete(callId);
      throw ApplicationFailure.create({ nonRetryable: true, type: 'NoSuchQueue', message: `call ${callId} was answered but ${error instanceof Error ? error.message : String(error)}; hung up` });
    }
    const queued = target.enqueue(call.leg, {
      callId, ...(preferredAgent === undefined ? {} : { preferredAgentId: preferredAgent }), ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
    });
    const outcome = await queued.result;
    if (outcome.outcome === 'connected') {
      call.releaseAgent = outcome.releaseAgent;
      // The bridge re-INVITEd the callee with the agent's media: rtpengine plays nothing more to it.
      if (call.media) await deps.media?.control.release(call.leg).catch((error: unknown) => deps.logger?.error({ err: error, callId }, 'releasing the media of a bridged call failed'));
      return { outcome: 'connected', agentId: outcome.agentId, waitedMs: outcome.waitedMs };
    }
    if (outcome.outcome === 'timed-out' && ifNoAgent !== undefined) {
      return { outcome: outcome.outcome, waitedMs: outcome.waitedMs, noAgent: await abandonWithMessage(call, callId, ifNoAgent.prompt) };
    }
    return { outcome: outcome.outcome, waitedMs: outcome.waitedMs };
  };

  /** Starts the hand-over of a call just answered; bridgeToAgent collects its outcome. */
  const handOverAtAnswer = (call: LiveCall, callId: string, connect: NonNullable<PlaceCallInput['connect']>): void => {
    const result = handOver(call, callId, connect.queue, connect.preferredAgent, connect.ifNoAgent);
    // Also a failure is kept for bridgeToAgent to report; not an unhandled rejection meanwhile.
    result.catch(() => undefined);
    handOvers.set(callId, result);
    // A workflow that never asks (its run ended) leaves nothing behind for long.
    setTimeout(() => handOvers.get(callId) === result && handOvers.delete(callId), handOverKeptMs).unref();
  };

  return {
    async placeCall(input: PlaceCallInput): Promise<PlaceCallOutput> {
      const context = Context.current();
      const heartbeat = setInterval(() => context.heartbeat({ callId: input.callId }), heartbeatMs);
      const send = (event: Omit<CallEventSignal, 'callId'>) => signal(input.projectId, input.to, { callId: input.callId, ...event });
      let offer: OutboundMediaOffer | undefined;
      // An offer no leg took: freed in rtpengine, failures only logged (the placement's own result matters more).
      const dropOffer = (): void => {
        offer?.cancel().catch((error: unknown) => deps.logger?.error({ err: error, callId: input.callId }, 'freeing the media offer failed'));
      };
      try {
        const center = centerFor(input.projectId);
        if (input.media === true || (input.media === 'if-available' && deps.media !== undefined)) offer = await mediaOrFail().control.offerOutbound();
        const result = await center.placeCall({
          callId: input.callId, to: input.to, callerId: input.callerId, sdp: offer?.sdp ?? deps.offerSdp, ringTimeoutMs: input.ringTimeoutMs,
          signal: context.cancellationSignal,
          onProgress: (event, trunk) => void send({ type: 'ringing', at: event.at.toISOString(), trunk, sipStatus: event.sipStatus }),
        });
        for (const attempt of result.attempts) if (attempt.cdr) void send(cdrEvent(attempt.cdr));
        saveCdrs(input.projectId, result.attempts.flatMap((attempt) => (attempt.cdr ? [attempt.cdr] : [])));
        const attempts = result.attempts.map(attemptView);
        if (result.outcome !== 'answered') {
          dropOffer();
          await send({ type: 'ended', at: new Date().toISOString(), cause: result.outcome, ...(result.sipStatus === undefined ? {} : { sipStatus: result.sipStatus }) });
          return { callId: input.callId, outcome: result.outcome, reason: result.reason, attempts, taskQueue: deps.taskQueue,
            ...(result.sipStatus === undefined ? {} : { sipStatus: result.sipStatus }) };
        }
        const leg = result.leg;
        const answeredAtMono = performance.now();
        const answeredAt = new Date().toISOString();
        const call: LiveCall = { projectId: input.projectId, center, phone: input.to, leg, media: offer !== undefined, answeredAtMono };
        live.set(input.callId, call);
        const answered = send({ type: 'answered', at: answeredAt, trunk: result.trunk });
        // Listen before awaiting anything: a callee hanging up at once must still reach the journey.
        leg.on((event) => {
          if (event.type !== 'ended') return;
          live.delete(input.callId);
          void send({ type: 'ended', at: event.at.toISOString(), trunk: result.trunk, cause: event.cause, ...(event.sipStatus === undefined ? {} : { sipStatus: event.sipStatus }) });
        });
        if (leg.state === 'ended') live.delete(input.callId);
        // The billed record follows the ended event (same chain, so in that order).
        void result.ended.then((cdr) => {
          saveCdrs(input.projectId, [cdr]);
          return send(cdrEvent(cdr));
        });
        if (offer !== undefined) {
          try {
            await offer.answered(leg, leg.remoteSdp ?? '');
          } catch (error) {
            // Answered but deaf: nothing asked of this call could be heard, so it ends here.
            await leg.hangup().catch(() => undefined);
            throw ApplicationFailure.create({ nonRetryable: true, type: 'MediaFailed', message: `call ${input.callId} was answered but its media could not be anchored: ${error instanceof Error ? error.message : String(error)}` });
          }
        }
        if (input.connect !== undefined) handOverAtAnswer(call, input.callId, input.connect);
        await answered;
        return { callId: input.callId, outcome: 'answered', trunk: result.trunk, attempts, taskQueue: deps.taskQueue, answeredAt };
      } catch (error) {
        if (!live.has(input.callId)) dropOffer();
        throw error;
      } finally {
        clearInterval(heartbeat);
      }
    },

    /**
     * Queues the live call for an agent (the preferred one first) and resolves when an agent takes
     * it or the caller is lost. With `ifNoAgent`, the wait ends `withinMs` after the callee answered:
     * a call no agent took by then hears the prompt (calls with media) and is hung up here, at once,
     * rather than after a round trip through the workflow.
     */
    async bridgeToAgent(callId: string, queue: string, preferredAgent?: string, ifNoAgent?: IfNoAgent): Promise<BridgeOutput> {
      // Handed over at the answer (placeCall's connect): that hand-over's outcome, never a second queueing.
      const started = handOvers.get(callId);
      handOvers.delete(callId);
      const call = started === undefined ? liveCall(callId) : undefined;
      const context = Context.current();
      const heartbeat = setInterval(() => context.heartbeat({ callId }), heartbeatMs);
      try {
        return await (started ?? handOver(call as LiveCall, callId, queue, preferredAgent, ifNoAgent));
      } finally {
        clearInterval(heartbeat);
      }
    },

    /** Hands the live call to an office extension through the PBX trunk; on failure it lands in the fallback queue. */
    async transferCall(callId: string, extension: string, mode: 'blind' | 'attended'): Promise<{ outcome: string; reason?: string }> {
      const call = liveCall(callId);
      if (deps.pbx === undefined) throw ApplicationFailure.create({ nonRetryable: true, type: 'NoPbxTrunk', message: 'this worker has no PBX trunk configured for transfers' });
      const result = await call.center.transferToExtension({
        callId, callerLeg: call.leg, extension, mode, trunk: deps.pbx.trunk, fallbackQueue: deps.pbx.fallbackQueue,
        ...(call.releaseAgent === undefined ? {} : { releaseAgent: call.releaseAgent }),
      });
      return result.outcome === 'transferred' ? { outcome: 'transferred' } : { outcome: 'fallback', reason: result.reason };
    },

    /**
     * Plays a catalog prompt to the live call (placed with `media: true`) and collects its key
     * presses: up to `maxDigits`, the terminator, or `timeoutMs` of silence after the prompt. The
     * first key stops the prompt. A callee hanging up meanwhile fails it with `CallNotLive`.
     */
    async playAndCollect(input: PlayAndCollectInput): Promise<PlayAndCollectOutput> {
      const call = liveCall(input.callId);
      const media = mediaOrFail();
      if (!call.media) {
        throw ApplicationFailure.create({ nonRetryable: true, type: 'NoMedia', message: `call ${input.callId} was placed without media; place it with media: true to play prompts and collect digits` });
      }
      let wavPath: string;
      try {
        wavPath = media.promptPath(input.prompt);
      } catch (error) {
        throw ApplicationFailure.create({ nonRetryable: true, type: 'UnknownPrompt', message: error instanceof Error ? error.message : `no prompt named ${JSON.stringify(input.prompt)}` });
      }
      const context = Context.current();
      const heartbeat = setInterval(() => context.heartbeat({ callId: input.callId }), heartbeatMs);
      try {
        const result = await media.control.playAndCollect(call.leg, {
          wavPath, maxDigits: input.maxDigits, timeoutMs: input.timeoutMs, ...(input.terminator === undefined ? {} : { terminator: input.terminator }),
        });
        return { digits: result.digits, timedOut: result.timedOut };
      } catch (error) {
        if (error instanceof LegEndedError || call.leg.state === 'ended') {
          throw ApplicationFailure.create({ nonRetryable: true, type: 'CallNotLive', message: `call ${input.callId} ended while the prompt played or digits were awaited` });
        }
        if (error instanceof MediaUsageError) throw ApplicationFailure.create({ nonRetryable: true, type: 'InvalidInput', message: error.message });
        throw error;
      } finally {
        clearInterval(heartbeat);
      }
    },

    /** Hangs up a live call; a call already gone is not an error (the activity may be retried). */
    async hangupCall(callId: string): Promise<{ hungUp: boolean }> {
      const call = live.get(callId);
      if (call === undefined) return { hungUp: false };
      await call.leg.hangup();
      live.delete(callId);
      return { hungUp: true };
    },
  };
}

export type TelephonyActivities = ReturnType<typeof createTelephonyActivities>;

function attemptView(attempt: CallAttempt): PlaceCallOutput['attempts'][number] {
  return { trunk: attempt.trunk, outcome: attempt.outcome, ...(attempt.sipStatus === undefined ? {} : { sipStatus: attempt.sipStatus }) };
}

function cdrEvent(cdr: CallDetailRecord): Omit<CallEventSignal, 'callId'> {
  return {
    type: 'cdr', at: cdr.endedAt.toISOString(), trunk: cdr.trunk, cause: cdr.outcome, billableSeconds: cdr.billableSeconds,
    cost: formatMicros(cdr.costMicros), currency: cdr.currency, ...(cdr.sipStatus === undefined ? {} : { sipStatus: cdr.sipStatus }),
  };
}
