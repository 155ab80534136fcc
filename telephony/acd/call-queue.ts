/**
 * A queue of answered callers waiting for agents. Callers are served in arrival order; each gets
 * the longest-idle offerable agent, except that a caller with a preferred agent (the contact's
 * responsible agent) waits for that agent first, for the queue's preferred-agent window, as long
 * as the agent is logged in and registered. An agent rings at most `ringTimeoutMs`; one who does
 * not answer is set not-ready and the caller moves to the next agent.
 *
 * Agents are rung only through offers from the roster (see roster.ts), never by extension lists.
 */
import type { Logger } from '../../core/logger.js';
import type { CallControl, CallEvent, CallLeg, OriginateResult } from '../call-control.js';
import type { QueueConfig } from './queue-config.js';
import type { AgentOffer, AgentRoster } from './roster.js';

export interface OfferRecord {
  agentId: string;
  at: Date;
  outcome: OriginateResult['outcome'] | 'withdrawn';
  reason: string | undefined;
}

export type QueueOutcome =
  | {
      outcome: 'connected';
      agentId: string;
      agentLeg: CallLeg;
      waitedMs: number;
      offers: OfferRecord[];
      /**
       * Release the agent (hang up their leg, wrap-up) and leave the caller's leg to someone else:
       * a transfer, or another queue. Without it, either side hanging up ends both.
       */
      releaseAgent: () => void;
    }
  | { outcome: 'abandoned' | 'timed-out'; waitedMs: number; offers: OfferRecord[] };

export interface EnqueueOptions {
  callId: string;
  preferredAgentId?: string;
  /** Why the caller is here when it is not the usual way (a failed transfer, an IVR loop guard). */
  reason?: string;
  /** Give up sooner than the queue's maxWaitMs (a dialer call abandoned after a few seconds). */
  maxWaitMs?: number;
}

export interface QueuedCall {
  readonly callId: string;
  readonly queue: string;
  readonly reason: string | undefined;
  readonly result: Promise<QueueOutcome>;
}

interface Waiting {
  call: CallLeg;
  options: EnqueueOptions;
  enqueuedAt: number;
  /** Monotonic, for the max-wait check (the injected clock is for timestamps). */
  enqueuedAtMono: number;
  /** The queue's maxWaitMs, or the caller's own shorter limit. */
  maxWaitMs: number;
  offers: OfferRecord[];
  tried: Set<string>;
  ringing: { offer: AgentOffer; cancel: AbortController } | undefined;
  /** While true, only the preferred agent may take this caller. */
  preferredWindowOpen: boolean;
  bridging: boolean;
  done: boolean;
  resolve: (outcome: QueueOutcome) => void;
  timers: NodeJS.Timeout[];
  unsubscribe: () => void;
}

export interface CallQueueDeps {
  callControl: Pick<CallControl, 'originate' | 'bridge'>;
  roster: AgentRoster;
  now?: () => Date;
  /** The SDP offered to the agent's phone; by default the caller's (a B2BUA re-INVITEs on bridge anyway). */
  offerSdp?: (call: CallLeg) => string;
  logger?: Pick<Logger, 'error'>;
}

const holdSdp = 'v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=inactive\r\n';

export class CallQueue {
  private readonly waiting: Waiting[] = [];
  private dispatching = false;
  private dispatchAgain = false;
  private readonly unsubscribeRoster: () => void;
  private readonly now: () => Date;

  constructor(
    readonly config: QueueConfig,
    private readonly deps: CallQueueDeps,
  ) {
    this.now = deps.now ?? (() => new Date());
    for (const agent of config.agents) deps.roster.add(agent);
    this.unsubscribeRoster = deps.roster.onChange(() => this.dispatch());
  }

  get name(): string {
    return this.config.name;
  }

  /** Calls waiting (or ringing an agent), oldest first. */
  get size(): number {
    return this.waiting.length;
  }

  /** The caller's leg must be answered already (IVR or hold music). */
  enqueue(call: CallLeg, options: EnqueueOptions): QueuedCall {
    let resolve!: (outcome: QueueOutcome) => void;
    const result = new Promise<QueueOutcome>((r) => (resolve = r));
    const entry: Waiting = {
      call, options, enqueuedAt: this.now().getTime(), enqueuedAtMono: performance.now(),
      maxWaitMs: Math.max(0, Math.min(this.config.maxWaitMs, options.maxWaitMs ?? this.config.maxWaitMs)), offers: [], tried: new Set(), ringing: undefined, done: false,
      preferredWindowOpen: options.preferredAgentId !== undefined && this.config.preferredAgentWindowMs > 0, bridging: false,
      resolve, timers: [], unsubscribe: () => undefined,
    };
    entry.unsubscribe = call.on((event: CallEvent) => {
      if (event.type === 'ended') this.finish(entry, 'abandoned');
    });
    entry.timers.push(setTimeout(() => this.finish(entry, 'timed-out'), entry.maxWaitMs));
    if (entry.preferredWindowOpen) {
      entry.timers.push(setTimeout(() => {
        // The window closed: the caller is open to every agent, look again.
        entry.preferredWindowOpen = false;
        this.dispatch();
      }, this.config.preferredAgentWindowMs));
    }
    this.waiting.push(entry);
    if (call.state === 'ended') this.finish(entry, 'abandoned');
    else this.dispatch();
    return { callId: options.callId, queue: this.name, reason: options.reason, result };
  }

  close(): void {
    this.unsubscribeRoster();
    for (const entry of [...this.waiting]) this.finish(entry, 'timed-out');
  }

  /** Match waiting callers to agents; re-entrant calls (claims change the roster) fold into one loop. */
  private dispatch(): void {
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.dispatchAgain = false;
        for (const entry of this.waiting) {
          if (entry.done || entry.ringing !== undefined) continue;
          const offer = this.pickAgent(entry);
          if (offer !== undefined) this.ring(entry, offer);
        }
      } while (this.dispatchAgain);
    } finally {
      this.dispatching = false;
    }
  }

  private pickAgent(entry: Waiting): AgentOffer | undefined {
    const { roster } = this.deps;
    const preferred = entry.options.preferredAgentId;
    if (preferred !== undefined && entry.preferredWindowOpen && !entry.tried.has(preferred) && roster.isPresent(preferred)) {
      // Worth waiting for: the preferred agent is at a registered phone, maybe finishing a call.
      return roster.claimForOffer(preferred, entry.options.callId);
    }
    // Agents this caller already rang are not-ready until they say otherwise; once back, they are
    // fair game again, after everyone the caller has not tried yet.
    const candidates = this.config.agents
      .filter((id) => roster.isOfferable(id))
      .map((id) => ({ id, tried: entry.tried.has(id) ? 1 : 0, idleSince: roster.view(id).idleSince?.getTime() ?? Number.POSITIVE_INFINITY }))
      .sort((a, b) => a.tried - b.tried || a.idleSince - b.idleSince || a.id.localeCompare(b.id));
    for (const candidate of candidates) {
      const offer = roster.claimForOffer(candidate.id, entry.options.callId);
      if (offer !== undefined) return offer;
    }
    return undefined;
  }

  private ring(entry: Waiting, offer: AgentOffer): void {
    const cancel = new AbortController();
    entry.ringing = { offer, cancel };
    entry.tried.add(offer.agentId);
    const at = this.now();
    const signal = AbortSignal.any([cancel.signal, offer.signal]);
    this.deps.callControl
      .originate({
        uri: offer.contactUri,
        callerId: entry.call.from,
        sdp: this.deps.offerSdp?.(entry.call) ?? entry.call.remoteSdp ?? holdSdp,
        ringTimeoutMs: this.config.ringTimeoutMs,
        headers: { 'X-Hub-Call-Id': entry.options.callId, 'X-Hub-Queue': this.name },
        signal,
        // The agent's leg is part of the caller's call: it does not count as a second call against
        // the capacity limit (a full hub would otherwise refuse to ring agents for callers it holds,
        // and mark them not-ready for it), and it goes if the caller does.
        partOf: entry.call,
      })
      .then(
        (result) => this.afterRing(entry, offer, at, result),
        // An adapter that throws instead of reporting is treated like a phone that did not answer.
        (error: unknown) => this.afterRing(entry, offer, at, { outcome: 'failed', sipStatus: undefined, reason: String(error), setupMs: 0 }),
      )
      .catch((error: unknown) => {
        // A bug in our own bookkeeping must not leave the caller waiting forever.
        this.logError(error, 'ACD ring bookkeeping failed; caller released from the queue');
        this.finish(entry, 'timed-out');
      });
  }

  private async afterRing(entry: Waiting, offer: AgentOffer, at: Date, result: OriginateResult): Promise<void> {
    // `entry.ringing` stays set until the outcome is booked: roster changes below re-enter
    // dispatch(), which must not offer this caller to a second agent meanwhile.
    try {
      await this.bookRing(entry, offer, at, result);
    } finally {
      entry.ringing = undefined;
    }
    if (entry.done) return;
    // The max-wait timer may have fired while a bridge was being set up and failed.
    if (performance.now() - entry.enqueuedAtMono >= entry.maxWaitMs) this.finish(entry, 'timed-out');
    else this.dispatch();
  }

  private async bookRing(entry: Waiting, offer: AgentOffer, at: Date, result: OriginateResult): Promise<void> {
    const { roster } = this.deps;
    if (result.outcome === 'answered') {
      const agentLeg = result.leg;
      if (entry.done || !roster.offerAnswered(offer)) {
        // The caller left (or the agent logged out) while the agent picked up.
        entry.offers.push({ agentId: offer.agentId, at, outcome: 'withdrawn', reason: 'caller gone at answer' });
        await agentLeg.hangup();
        if (roster.view(offer.agentId).status === 'ringing') roster.offerWithdrawn(offer);
        return;
      }
      entry.offers.push({ agentId: offer.agentId, at, outcome: 'answered', reason: undefined });
      await this.connect(entry, offer.agentId, agentLeg);
      return;
    }
    const agentSide = offer.signal.aborted;
    const callerSide = entry.done;
    if (result.outcome === 'cancelled' && callerSide && !agentSide) {
      entry.offers.push({ agentId: offer.agentId, at, outcome: 'withdrawn', reason: 'caller gone' });
      roster.offerWithdrawn(offer);
      return;
    }
    const reason = agentSide
      ? String((offer.signal.reason as Error | undefined)?.message ?? 'agent unavailable')
      : result.outcome === 'no-answer'
        ? `did not answer within ${this.config.ringTimeoutMs} ms`
        : `${result.outcome}${result.sipStatus ? ` (${result.sipStatus})` : ''}: ${result.reason}`;
    entry.offers.push({ agentId: offer.agentId, at, outcome: result.outcome, reason });
    roster.offerNotAnswered(offer, reason);
  }

  private async connect(entry: Waiting, agentId: string, agentLeg: CallLeg): Promise<void> {
    const { roster, callControl } = this.deps;
    // The caller stays in the queue (and `ringing`) until the bridge holds: if it fails, the agent
    // is released and the caller waits for the next agent instead of being hung up on.
    entry.bridging = true;
    try {
      await callControl.bridge(entry.call, agentLeg);
    } catch (error) {
      const reason = `bridge failed: ${error instanceof Error ? error.message : String(error)}`;
      entry.offers.push({ agentId, at: this.now(), outcome: 'failed', reason });
      await agentLeg.hangup().catch((hangupError: unknown) => this.logError(hangupError, 'agent leg hangup failed'));
      roster.callEnded(agentId, this.config.wrapUpMs);
      roster.setNotReady(agentId, reason);
      return;
    } finally {
      entry.bridging = false;
    }
    if (entry.done || entry.call.state === 'ended' || agentLeg.state === 'ended') {
      // One side hung up while the bridge was set up.
      this.finish(entry, 'abandoned');
      await Promise.allSettled([entry.call.hangup(), agentLeg.hangup()]);
      roster.callEnded(agentId, this.config.wrapUpMs);
      return;
    }
    this.settle(entry);
    const waitedMs = this.now().getTime() - entry.enqueuedAt;
    let ended = false;
    const release = (hangUpCaller: boolean) => {
      if (ended) return;
      ended = true;
      offCaller();
      offAgent();
      roster.callEnded(agentId, this.config.wrapUpMs);
      // An already-ended leg ignores the hangup.
      const legs = hangUpCaller ? [entry.call, agentLeg] : [agentLeg];
      void Promise.allSettled(legs.map((leg) => leg.hangup()));
    };
    // Whoever hangs up, the other side goes too. Except an agent leg that ended because the call
    // was transferred away from it (attended transfer: the adapter releases the agent before it
    // bridges the caller to the target): the caller is still wanted, on the new target.
    const offCaller = entry.call.on((event) => event.type === 'ended' && release(true));
    const offAgent = agentLeg.on((event) => event.type === 'ended' && release(event.cause !== 'transferred'));
    entry.resolve({ outcome: 'connected', agentId, agentLeg, waitedMs, offers: entry.offers, releaseAgent: () => release(false) });
  }

  private logError(error: unknown, message: string): void {
    if (this.deps.logger) this.deps.logger.error({ err: error, queue: this.name }, message);
    else console.error(message, error);
  }

  private finish(entry: Waiting, outcome: 'abandoned' | 'timed-out'): void {
    if (entry.done) return;
    // An agent has answered and the bridge is being set up: too late to give up waiting.
    if (outcome === 'timed-out' && entry.bridging) return;
    this.settle(entry);
    entry.ringing?.cancel.abort();
    entry.resolve({ outcome, waitedMs: this.now().getTime() - entry.enqueuedAt, offers: entry.offers });
  }

  /** The entry leaves the queue (connected, abandoned or timed out). */
  private settle(entry: Waiting): void {
    entry.done = true;
    entry.timers.forEach(clearTimeout);
    entry.unsubscribe();
    const index = this.waiting.indexOf(entry);
    if (index >= 0) this.waiting.splice(index, 1);
  }
}
