/**
 * Registration trunks REGISTER with their carrier: digest credentials answer the 401/407, the
 * registration is refreshed before the granted time runs out (same Call-ID, rising CSeq, RFC 3261
 * 10.2.4), and a failed REGISTER takes the trunk down (TrunkHealth) and is retried with back-off,
 * doubling from `retryMinMs` to `retryMaxMs`. Only a later accepted REGISTER brings it back up:
 * a carrier that refuses our registration refuses our calls too. Stopping unregisters (Expires: 0).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../core/logger.js';
import type { Registrations } from '../registration/port.js';
import { trunkAor, trunkUri, type TrunkConfig } from './config.js';
import type { TrunkHealth } from './health.js';

type RegistrationTrunk = TrunkConfig & { auth: Extract<TrunkConfig['auth'], { mode: 'registration' }> };

export interface TrunkRegistrarOptions {
  /** How long one REGISTER (with its challenge) may take before it counts as failed. */
  timeoutMs?: number | undefined;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

interface Binding {
  trunk: RegistrationTrunk;
  callId: string;
  cseq: number;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  failures: number;
  registered: boolean;
}

function isRegistrationTrunk(trunk: TrunkConfig): trunk is RegistrationTrunk {
  return trunk.auth.mode === 'registration';
}

/** When to refresh a registration granted for `seconds`: a minute early for long ones, half-way for short ones. */
export function refreshDelayMs(seconds: number): number {
  return seconds > 120 ? (seconds - 60) * 1000 : seconds * 500;
}

/** The n-th consecutive failure (1-based) waits this long before the next attempt. */
export function retryDelayMs(failures: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

export class TrunkRegistrar {
  private readonly bindings = new Map<string, Binding>();
  private stopped = false;

  constructor(
    private readonly registrations: Pick<Registrations, 'register'>,
    trunks: readonly TrunkConfig[],
    private readonly health: TrunkHealth,
    private readonly options: TrunkRegistrarOptions = {},
  ) {
    for (const trunk of trunks.filter(isRegistrationTrunk)) {
      this.bindings.set(trunk.name, { trunk, callId: `${randomUUID()}@hub`, cseq: 1, timer: undefined, running: undefined, failures: 0, registered: false });
    }
  }

  /** Registers every registration trunk now; refreshes and retries follow by themselves. */
  start(): void {
    this.stopped = false;
    for (const binding of this.bindings.values()) this.schedule(binding, 0);
  }

  /** Stops refreshing and removes the registrations that are up (bounded by the REGISTER timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    const removals: Promise<unknown>[] = [];
    for (const binding of this.bindings.values()) {
      clearTimeout(binding.timer);
      binding.timer = undefined;
      const unregister = async (): Promise<void> => {
        await binding.running?.catch(() => undefined);
        if (!binding.registered) return;
        binding.registered = false;
        await this.registrations.register(this.request(binding, 0));
      };
      removals.push(unregister().catch(() => undefined));
    }
    await Promise.all(removals);
  }

  /** Registers `trunk` now (out of schedule), e.g. after its credentials changed; resolves when answered. */
  async registerNow(trunk: string): Promise<void> {
    const binding = this.bindings.get(trunk);
    if (binding === undefined) throw new Error(`trunk "${trunk}" does not register`);
    clearTimeout(binding.timer);
    binding.timer = undefined;
    await this.attempt(binding);
  }

  private schedule(binding: Binding, delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(binding.timer);
    binding.timer = setTimeout(() => {
      binding.timer = undefined;
      void this.attempt(binding);
    }, delayMs);
    binding.timer.unref();
  }

  private request(binding: Binding, expiresSeconds: number) {
    const { trunk } = binding;
    return {
      uri: trunkUri(trunk), aor: trunkAor(trunk), contactUser: trunk.auth.username, expiresSeconds,
      auth: { username: trunk.auth.username, password: trunk.auth.password },
      callId: binding.callId, cseq: binding.cseq++, timeoutMs: this.options.timeoutMs ?? 10_000,
    };
  }

  private attempt(binding: Binding): Promise<void> {
    if (binding.running) return binding.running;
    binding.running = this.register(binding).finally(() => {
      binding.running = undefined;
    });
    return binding.running;
  }

  private async register(binding: Binding): Promise<void> {
    const { trunk } = binding;
    let result;
    try {
      result = await this.registrations.register(this.request(binding, trunk.auth.expiresSeconds));
    } catch (error) {
      result = { ok: false as const, sipStatus: undefined, reason: `REGISTER failed: ${(error as Error).message}`, cseq: binding.cseq };
    }
    // The registrar's digest exchange used CSeq numbers of its own; continue above them.
    binding.cseq = Math.max(binding.cseq, result.cseq + 1);
    if (this.stopped) return;
    const now = Date.now();
    if (result.ok) {
      const delay = refreshDelayMs(result.expiresSeconds);
      if (!binding.registered || binding.failures > 0) {
        this.options.logger?.info({ trunk: trunk.name, expires: result.expiresSeconds }, 'trunk registered with its carrier');
      }
      binding.failures = 0;
      binding.registered = true;
      this.health.recordRegistration(trunk.name, {
        ok: true, sipStatus: result.sipStatus, expiresAt: new Date(now + result.expiresSeconds * 1000), nextAttemptAt: new Date(now + delay),
      });
      this.schedule(binding, delay);
      return;
    }
    binding.failures += 1;
    binding.registered = false;
    const delay = retryDelayMs(binding.failures, trunk.auth.retryMinMs, trunk.auth.retryMaxMs);
    this.options.logger?.warn({ trunk: trunk.name, sipStatus: result.sipStatus, reason: result.reason, retryInMs: delay }, 'trunk registration failed');
    this.health.recordRegistration(trunk.name, { ok: false, sipStatus: result.sipStatus, reason: result.reason, nextAttemptAt: new Date(now + delay) });
    this.schedule(binding, delay);
  }
}
