/**
 * Walks a caller through an IVR menu and decides where the call goes. It does not enqueue or
 * transfer itself: it returns the decision (queue, transfer, hang up) for the call's session.
 *
 * Contradictory CRM records once sent callers round an IVR forever. The loop guard makes that
 * impossible whatever the data or the menu says: entering any node more than `maxVisitsPerNode`
 * times, or spending more than `maxDurationMs` in the IVR (checked at every node and enforced
 * during every prompt and CRM lookup), sends the caller to the menu's fallback queue, and the
 * result says why.
 */
import type { CallEvent, CallLeg, MediaControl } from '../call-control.js';
import type { IvrMenu, IvrNode } from './menu.js';

export interface ContactLookupResult {
  status: string;
}

export interface IvrDeps {
  media: Pick<MediaControl, 'play' | 'playAndCollect'>;
  /** Prompt name -> WAV path. */
  promptPath: (prompt: string) => string;
  /** The CRM lookup (screen-pop / connectors); undefined when no contact has this phone. */
  lookupContact: (phone: string, signal: AbortSignal) => Promise<ContactLookupResult | undefined>;
  /**
   * Schedules a callback for this caller (the `callback` node); absent where callbacks cannot be
   * made, when the node queues the caller instead. Resolves `ok: false` with why it could not.
   */
  scheduleCallback?: (request: { queue: string; delayMinutes: number }) => Promise<CallbackScheduled>;
  /** Monotonic milliseconds. */
  now?: () => number;
}

export type CallbackScheduled = { ok: true; callbackId: string; at: string } | { ok: false; reason: string };

/** How long scheduling a callback may keep the caller waiting before they are queued instead. */
const CALLBACK_SCHEDULE_TIMEOUT_MS = 3_000;

export interface TrailStep {
  node: string;
  /** Milliseconds since the caller entered the IVR. */
  atMs: number;
  digits?: string;
  crmStatus?: string;
  note?: string;
}

export type LoopGuardTrip =
  | { rule: 'node-visits'; node: string; visits: number; limit: number }
  | { rule: 'duration'; node: string; elapsedMs: number; limit: number };

export type IvrResult =
  | { kind: 'queue'; queue: string; trail: TrailStep[]; guard: LoopGuardTrip | undefined; reason: string | undefined }
  | { kind: 'transfer'; trunk: string; extension: string; trail: TrailStep[] }
  | { kind: 'hangup'; trail: TrailStep[] }
  | { kind: 'callback'; queue: string; callbackId: string; at: string; trail: TrailStep[] }
  | { kind: 'abandoned'; trail: TrailStep[] };

class Interrupted extends Error {
  constructor(readonly why: 'caller-gone' | 'duration') {
    super(why);
  }
}

export async function runIvr(deps: IvrDeps, menu: IvrMenu, leg: CallLeg, callerPhone: string): Promise<IvrResult> {
  const now = deps.now ?? (() => performance.now());
  const startedAt = now();
  const elapsed = () => now() - startedAt;
  const trail: TrailStep[] = [];
  const visits = new Map<string, number>();

  const callerGone = new AbortController();
  const off = leg.on((event: CallEvent) => {
    if (event.type === 'ended') callerGone.abort();
  });
  if (leg.state === 'ended') callerGone.abort();

  /** Runs one step, bounded by the IVR's remaining time and the caller's presence. */
  const bounded = async <T>(step: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const remaining = menu.maxDurationMs - elapsed();
    if (remaining <= 0) throw new Interrupted('duration');
    if (callerGone.signal.aborted) throw new Interrupted('caller-gone');
    const stepAbort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let onGone: (() => void) | undefined;
    const limits = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Interrupted('duration')), remaining);
      onGone = () => reject(new Interrupted('caller-gone'));
      callerGone.signal.addEventListener('abort', onGone, { once: true });
    });
    try {
      return await Promise.race([step(stepAbort.signal), limits]);
    } finally {
      clearTimeout(timer);
      if (onGone) callerGone.signal.removeEventListener('abort', onGone);
      stepAbort.abort();
    }
  };

  const toFallback = (guard: LoopGuardTrip): IvrResult => {
    const reason = guard.rule === 'node-visits'
      ? `loop guard: node "${guard.node}" entered ${guard.visits} times (limit ${guard.limit})`
      : `loop guard: ${Math.round(guard.elapsedMs)} ms in the IVR at node "${guard.node}" (limit ${guard.limit} ms)`;
    trail.push({ node: guard.node, atMs: elapsed(), note: reason });
    return { kind: 'queue', queue: menu.fallbackQueue, trail, guard, reason };
  };

  let current = menu.start;
  try {
    for (;;) {
      const count = (visits.get(current) ?? 0) + 1;
      visits.set(current, count);
      if (count > menu.maxVisitsPerNode) {
        return toFallback({ rule: 'node-visits', node: current, visits: count, limit: menu.maxVisitsPerNode });
      }
      if (elapsed() >= menu.maxDurationMs) {
        return toFallback({ rule: 'duration', node: current, elapsedMs: elapsed(), limit: menu.maxDurationMs });
      }
      const node = menu.nodes[current] as IvrNode;
      const step: TrailStep = { node: current, atMs: elapsed() };
      trail.push(step);
      try {
        const next = await visit(node, step);
        if (typeof next !== 'string') return next;
        current = next;
      } catch (error) {
        if (error instanceof Interrupted && error.why === 'duration') {
          return toFallback({ rule: 'duration', node: current, elapsedMs: elapsed(), limit: menu.maxDurationMs });
        }
        throw error;
      }
    }
  } catch (error) {
    if (error instanceof Interrupted && error.why === 'caller-gone') return { kind: 'abandoned', trail };
    if (callerGone.signal.aborted) return { kind: 'abandoned', trail };
    throw error;
  } finally {
    off();
  }

  async function visit(node: IvrNode, step: TrailStep): Promise<string | IvrResult> {
    switch (node.kind) {
      case 'menu': {
        const { digits, timedOut } = await bounded(() =>
          deps.media.playAndCollect(leg, { wavPath: deps.promptPath(node.prompt), maxDigits: node.maxDigits, timeoutMs: node.timeoutMs, terminator: '#' }),
        );
        step.digits = digits;
        if (digits === '' && timedOut) return node.noInput ?? current;
        return node.options[digits] ?? node.invalid ?? current;
      }
      case 'play':
        await bounded(() => deps.media.play(leg, deps.promptPath(node.prompt)));
        return node.next;
      case 'crm': {
        let contact: ContactLookupResult | undefined;
        try {
          contact = await bounded((signal) => withTimeout(deps.lookupContact(callerPhone, signal), node.timeoutMs, 'CRM lookup'));
        } catch (error) {
          if (error instanceof Interrupted) throw error;
          step.note = `CRM lookup failed: ${error instanceof Error ? error.message : String(error)}`;
          return node.onError ?? node.otherwise;
        }
        if (contact === undefined) {
          step.note = 'no contact for this phone';
          return node.notFound;
        }
        step.crmStatus = contact.status;
        return node.branches[contact.status] ?? node.otherwise;
      }
      case 'queue':
        if (node.prompt) await bounded(() => deps.media.play(leg, deps.promptPath(node.prompt as string)));
        return { kind: 'queue', queue: node.queue, trail, guard: undefined, reason: undefined };
      case 'transfer':
        return { kind: 'transfer', trunk: node.trunk, extension: node.extension, trail };
      case 'hangup':
        if (node.prompt) await bounded(() => deps.media.play(leg, deps.promptPath(node.prompt as string)));
        return { kind: 'hangup', trail };
      case 'callback': {
        let scheduled: CallbackScheduled;
        if (deps.scheduleCallback === undefined) {
          scheduled = { ok: false, reason: 'callbacks cannot be scheduled here' };
        } else {
          const schedule = deps.scheduleCallback;
          try {
            scheduled = await bounded(() => withTimeout(schedule({ queue: node.queue, delayMinutes: node.delayMinutes }), CALLBACK_SCHEDULE_TIMEOUT_MS, 'scheduling the callback'));
          } catch (error) {
            if (error instanceof Interrupted) throw error;
            scheduled = { ok: false, reason: error instanceof Error ? error.message : String(error) };
          }
        }
        // A caller who asked to be called back and cannot be is not dropped: they wait for an agent.
        if (!scheduled.ok) {
          step.note = `no callback: ${scheduled.reason}`;
          return { kind: 'queue', queue: node.queue, trail, guard: undefined, reason: `callback not scheduled (${scheduled.reason})` };
        }
        step.note = `callback ${scheduled.callbackId} at ${scheduled.at}`;
        if (node.prompt) await bounded(() => deps.media.play(leg, deps.promptPath(node.prompt as string)));
        return { kind: 'callback', queue: node.queue, callbackId: scheduled.callbackId, at: scheduled.at, trail };
      }
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
