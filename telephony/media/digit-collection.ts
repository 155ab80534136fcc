// The rules of one "play a prompt and collect digits" turn, apart from any media
// server: which digit ends it, and when waiting for the caller stops.
import { z } from 'zod';
import { DTMF_DIGIT } from './dtmf.js';

export const collectRulesSchema = z
  .object({
    maxDigits: z.number().int().min(1).max(64),
    /** Ends the turn early and is not part of the digits (usually '#'). */
    terminator: z.string().regex(DTMF_DIGIT, 'one of 0-9 * # A-D').optional(),
    /** Time the caller has after the prompt ended (or after barging in with a first digit). */
    timeoutMs: z.number().int().min(1).max(600_000),
    /** Longest pause between two digits; `timeoutMs` when omitted. */
    interDigitTimeoutMs: z.number().int().min(1).max(600_000).optional(),
  })
  .strict();

export type CollectRules = z.infer<typeof collectRulesSchema>;

export type CollectEnd = 'max-digits' | 'terminator' | 'timeout' | 'inter-digit-timeout';

export interface CollectOutcome {
  digits: string;
  /** True when the caller ran out of time, whether or not some digits came. */
  timedOut: boolean;
  endedBy: CollectEnd;
}

/**
 * One collection turn. Digits are taken from the moment it is created (so a
 * caller who knows the menu can press during the prompt); the clock for
 * `timeoutMs` starts when the prompt's length is known, and restarts at the
 * first digit if it arrives while the prompt is still playing (barge-in).
 */
export class DigitCollection {
  readonly outcome: Promise<CollectOutcome>;
  private digits = '';
  private settled = false;
  private promptEndsAt: number | undefined;
  private overallTimer: NodeJS.Timeout | undefined;
  private interDigitTimer: NodeJS.Timeout | undefined;
  private resolveOutcome!: (outcome: CollectOutcome) => void;
  private rejectOutcome!: (error: Error) => void;

  constructor(
    private readonly rules: CollectRules,
    /** Called once, at the first digit that arrives before the prompt has ended: stop the prompt. */
    private readonly onBargeIn: () => void = () => undefined,
  ) {
    this.outcome = new Promise<CollectOutcome>((resolve, reject) => {
      this.resolveOutcome = resolve;
      this.rejectOutcome = reject;
    });
  }

  get isSettled(): boolean {
    return this.settled;
  }

  get hasDigits(): boolean {
    return this.digits !== '';
  }

  /** The prompt started and lasts `durationMs`; 0 when there is no prompt. */
  promptStarted(durationMs: number): void {
    if (this.settled) return;
    this.promptEndsAt = Date.now() + durationMs;
    // A digit before the prompt even started already armed the clock.
    if (this.digits === '') this.armOverall(durationMs + this.rules.timeoutMs);
  }

  addDigit(digit: string): void {
    if (this.settled) return;
    const first = this.digits === '';
    if (digit === this.rules.terminator) {
      this.finish('terminator', false);
      return;
    }
    this.digits += digit;
    if (this.digits.length >= this.rules.maxDigits) {
      this.finish('max-digits', false);
      return;
    }
    if (first && (this.promptEndsAt === undefined || Date.now() < this.promptEndsAt)) {
      this.armOverall(this.rules.timeoutMs);
      this.onBargeIn();
    }
    clearTimeout(this.interDigitTimer);
    this.interDigitTimer = setTimeout(() => this.finish('inter-digit-timeout', true), this.rules.interDigitTimeoutMs ?? this.rules.timeoutMs);
  }

  /** Ends the turn with an error (the leg hung up, the prompt could not be played). */
  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimers();
    this.rejectOutcome(error);
  }

  private armOverall(delayMs: number): void {
    clearTimeout(this.overallTimer);
    this.overallTimer = setTimeout(() => this.finish('timeout', true), delayMs);
  }

  private finish(endedBy: CollectEnd, timedOut: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimers();
    this.resolveOutcome({ digits: this.digits, timedOut, endedBy });
  }

  private clearTimers(): void {
    clearTimeout(this.overallTimer);
    clearTimeout(this.interDigitTimer);
  }
}
