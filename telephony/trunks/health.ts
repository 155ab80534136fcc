/**
 * Trunk health: a trunk is marked down after N consecutive failures (5xx, 408, no response) and
 * brought back up only by an OPTIONS probe that gets an answer. Down trunks are skipped by route
 * selection and PBX transfers, so one dead carrier or an FXO gateway without power costs a caller
 * nothing but the failed attempt that found out.
 */
import type { Logger } from '../../core/logger.js';
import type { CallControl } from '../call-control.js';
import { trunkUri, type TrunkConfig } from './config.js';

export type TrunkStatus = 'up' | 'down';

/** Registration of a `registration` trunk with its carrier (telephony/trunks/registration.ts). */
export interface TrunkRegistrationState {
  status: 'registering' | 'registered' | 'failed';
  /** When the granted registration runs out. */
  expiresAt: Date | undefined;
  lastAttemptAt: Date | undefined;
  /** The registrar's last final answer; undefined when it did not answer. */
  sipStatus: number | undefined;
  /** Why the last attempt failed, in words. */
  lastError: string | undefined;
  consecutiveFailures: number;
  nextAttemptAt: Date | undefined;
}

export interface TrunkHealthState {
  trunk: string;
  status: TrunkStatus;
  consecutiveFailures: number;
  /** When the trunk went down (or last came up). */
  since: Date;
  /** The failure that counted last, in words: what ops and the agent see. */
  lastFailure: string | undefined;
  lastProbe: { at: Date; reachable: boolean; sipStatus: number | undefined; rttMs: number } | undefined;
  /** Registration trunks only: a trunk whose REGISTER fails is down whatever OPTIONS says. */
  registration: TrunkRegistrationState | undefined;
}

export type HealthChange = { trunk: string; status: TrunkStatus; reason: string; at: Date };

export class TrunkHealth {
  private readonly states = new Map<string, TrunkHealthState>();
  private readonly listeners = new Set<(change: HealthChange) => void>();
  private readonly updateListeners = new Set<(trunk: string) => void>();

  constructor(
    private readonly trunks: readonly TrunkConfig[],
    private readonly now: () => Date = () => new Date(),
  ) {
    for (const trunk of trunks) {
      this.states.set(trunk.name, {
        trunk: trunk.name, status: 'up', consecutiveFailures: 0, since: now(), lastFailure: undefined, lastProbe: undefined,
        registration: trunk.auth.mode === 'registration'
          ? { status: 'registering', expiresAt: undefined, lastAttemptAt: undefined, sipStatus: undefined, lastError: undefined, consecutiveFailures: 0, nextAttemptAt: undefined }
          : undefined,
      });
    }
  }

  isUp(trunk: string): boolean {
    return this.state(trunk).status === 'up';
  }

  state(trunk: string): TrunkHealthState {
    const state = this.states.get(trunk);
    if (state === undefined) throw new Error(`unknown trunk "${trunk}"`);
    return state;
  }

  snapshot(): TrunkHealthState[] {
    return [...this.states.values()].map((state) => ({ ...state, registration: state.registration && { ...state.registration } }));
  }

  onChange(listener: (change: HealthChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Any change worth showing (up/down, a registration or its refresh); for publishing the state. */
  onUpdate(listener: (trunk: string) => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /** A call or transfer through the trunk failed in a way that blames the trunk. */
  recordFailure(trunk: string, reason: string): void {
    const state = this.state(trunk);
    state.consecutiveFailures += 1;
    state.lastFailure = reason;
    const threshold = this.config(trunk).health.failuresBeforeDown;
    if (state.status === 'up' && state.consecutiveFailures >= threshold) {
      this.setStatus(state, 'down', `${state.consecutiveFailures} consecutive failures, last: ${reason}`);
    }
  }

  /** The trunk answered a call (any final answer from the far end counts: the trunk works). */
  recordSuccess(trunk: string): void {
    const state = this.state(trunk);
    state.consecutiveFailures = 0;
  }

  /** Probe result: only an answered OPTIONS brings a down trunk back. */
  recordProbe(trunk: string, result: { reachable: boolean; sipStatus: number | undefined; rttMs: number }): void {
    const state = this.state(trunk);
    state.lastProbe = { at: this.now(), ...result };
    if (result.reachable) {
      state.consecutiveFailures = 0;
      // Reachable is not enough for a trunk the carrier will not register: calls would be refused.
      if (state.registration?.status === 'failed') return;
      if (state.status === 'down') this.setStatus(state, 'up', `OPTIONS answered${result.sipStatus ? ` ${result.sipStatus}` : ''} in ${result.rttMs} ms`);
    } else {
      this.recordFailure(trunk, result.sipStatus ? `OPTIONS answered ${result.sipStatus}` : 'no answer to OPTIONS');
    }
  }

  /** A REGISTER to the carrier succeeded (brings the trunk up) or failed (takes it down). */
  recordRegistration(
    trunk: string,
    result: { ok: true; sipStatus: number; expiresAt: Date; nextAttemptAt: Date } | { ok: false; sipStatus: number | undefined; reason: string; nextAttemptAt: Date },
  ): void {
    const state = this.state(trunk);
    const previous = state.registration;
    if (previous === undefined) throw new Error(`trunk "${trunk}" does not register`);
    const at = this.now();
    if (result.ok) {
      state.registration = { status: 'registered', expiresAt: result.expiresAt, lastAttemptAt: at, sipStatus: result.sipStatus, lastError: undefined, consecutiveFailures: 0, nextAttemptAt: result.nextAttemptAt };
      state.consecutiveFailures = 0;
      if (state.status === 'down') this.setStatus(state, 'up', `REGISTER accepted (${result.sipStatus})`);
      this.updated(trunk);
      return;
    }
    state.registration = {
      status: 'failed', expiresAt: undefined, lastAttemptAt: at, sipStatus: result.sipStatus, lastError: result.reason,
      consecutiveFailures: previous.consecutiveFailures + 1, nextAttemptAt: result.nextAttemptAt,
    };
    state.lastFailure = result.reason;
    if (state.status === 'up') this.setStatus(state, 'down', `registration failed: ${result.reason}`);
    this.updated(trunk);
  }

  private updated(trunk: string): void {
    for (const listener of [...this.updateListeners]) listener(trunk);
  }

  private config(trunk: string): TrunkConfig {
    const config = this.trunks.find((candidate) => candidate.name === trunk);
    if (config === undefined) throw new Error(`unknown trunk "${trunk}"`);
    return config;
  }

  private setStatus(state: TrunkHealthState, status: TrunkStatus, reason: string): void {
    state.status = status;
    state.since = this.now();
    const change = { trunk: state.trunk, status, reason, at: state.since };
    for (const listener of this.listeners) listener(change);
    this.updated(state.trunk);
  }
}

/**
 * Sends OPTIONS through the port's probe(): to down trunks (to bring them back) and, where the
 * trunk asks for it, to up trunks (to notice a dead gateway before a transfer does).
 */
export class TrunkProbeScheduler {
  private timer: NodeJS.Timeout | undefined;
  private readonly lastProbeAt = new Map<string, number>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly callControl: Pick<CallControl, 'probe'>,
    private readonly trunks: readonly TrunkConfig[],
    private readonly health: TrunkHealth,
    private readonly clock: () => number = Date.now,
    private readonly logger?: Pick<Logger, 'error'>,
  ) {}

  /** Probes every trunk that is due; one round at a time. */
  async probeDue(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.probeRound().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  start(tickMs = 250): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.probeDue().catch((error: unknown) => {
        // probe() reports unreachability as a result; a throw is a bug in the adapter, keep probing.
        if (this.logger) this.logger.error({ err: error }, 'trunk probe round failed');
        else console.error('trunk probe round failed', error);
      });
    }, tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async probeRound(): Promise<void> {
    const now = this.clock();
    const due = this.trunks.filter((trunk) => {
      const wanted = !this.health.isUp(trunk.name) || trunk.health.probeWhileUp;
      const last = this.lastProbeAt.get(trunk.name);
      return wanted && (last === undefined || now - last >= trunk.health.probeIntervalMs);
    });
    await Promise.all(
      due.map(async (trunk) => {
        this.lastProbeAt.set(trunk.name, now);
        const result = await this.callControl.probe(trunkUri(trunk), trunk.health.probeTimeoutMs);
        this.health.recordProbe(trunk.name, result);
      }),
    );
  }
}
