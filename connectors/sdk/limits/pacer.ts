// Pacing, concurrency and the per-window reservoir, in one process or shared by
// every process through Redis. The only module that touches bottleneck: its
// last release is from 2019, so it stays replaceable behind this interface.
//
// Bottleneck facts this module works around (measured, see ENVIRONMENT.md):
// - the local reservoir refreshes only on the heartbeat, each refresh starts
//   the next window at the heartbeat's time (windows drift longer), and
//   updateSettings() on a local limiter stops that heartbeat for good (its
//   _startHeartbeat clears a running one). The local pacer therefore refills
//   its reservoir from its own timer, aligned to the window;
// - in Redis the "increase" form of the reservoir advances in whole intervals
//   (no drift), so the shared limiter uses it, refilling to `count` each window;
// - after Redis loses its state, bottleneck's own recovery never fires on
//   Redis 7 ("ERR " prefix) and queued jobs hang: every error is reported to
//   the owner, which rebuilds the pacer (see limiter.ts), and the owner only
//   ever hands a pacer a couple of jobs at a time.
import Bottleneck from 'bottleneck';
import { Redis, type RedisOptions } from 'ioredis';

export interface PacerSettings {
  /** Least time between two starts (0: none). */
  minTimeMs: number;
  /** Jobs (weights) in flight at once; null: no cap. */
  maxConcurrent: number | null;
  /** At most `count` starts (weights) per fixed window. */
  window: { count: number; windowMs: number } | null;
  /**
   * A bucket instead of the window: holds `size` starts (`initial` at first), refilled
   * by `window.count` each `window.windowMs`, never above `size`. Needs `window`.
   */
  bucket: { size: number; initial: number } | null;
}

/** A started job held its shared slot past `jobTimeoutMs`; bottleneck freed the slot while the job still runs. */
export class SlotExpiredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlotExpiredError';
  }
}

export interface Pacer {
  readonly shared: boolean;
  /** Resolves when jobs can be submitted; rejects when the shared state cannot be set up. */
  ready(): Promise<void>;
  /** Runs `task` when pacing, concurrency and reservoir allow; its slot is held until the task settles. */
  run(weight: number, task: () => Promise<void>): Promise<void>;
  setMinTime(minTimeMs: number): Promise<void>;
  /** Drops the pacer; jobs already running finish, queued ones are abandoned (the owner re-queues them). */
  close(): Promise<void>;
}

/** Bottleneck fields its type declarations leave out. */
type BottleneckOptions = Bottleneck.ConstructorOptions & { heartbeatInterval?: number; clientTimeout?: number };

export function createLocalPacer(settings: PacerSettings, onError: (error: unknown) => void): Pacer {
  const initial = settings.bucket?.initial ?? settings.window?.count;
  const limiter = new Bottleneck({ ...commonOptions(settings), ...(initial !== undefined ? { reservoir: initial } : {}) });
  const refill = settings.window ? refillEachWindow(limiter, settings.window, settings.bucket, onError) : null;
  return new BottleneckPacer(limiter, false, onError, null, async () => {
    if (refill) clearTimeout(refill.timer);
    await limiter.disconnect(false);
  });
}

/**
 * At every window boundary (counted from now, without drift): sets the reservoir
 * back to `count`, or with a bucket adds `count` up to the bucket's size.
 */
function refillEachWindow(
  limiter: Bottleneck,
  window: { count: number; windowMs: number },
  bucket: { size: number } | null,
  onError: (error: unknown) => void,
) {
  const origin = Date.now();
  const state = { timer: setTimeout(() => undefined, 0) };
  let boundary = 0;
  const arm = () => {
    boundary += 1;
    state.timer = setTimeout(
      () => {
        // Added, not set: a job taking a token between the read and the add leaves the bucket lower, never fuller.
        const refilled = bucket
          ? limiter.currentReservoir().then((left) => {
              const room = Math.min(window.count, bucket.size - (left ?? 0));
              return room > 0 ? limiter.incrementReservoir(room) : undefined;
            })
          : updateSettings(limiter, { reservoir: window.count });
        refilled.catch(onError);
        arm();
      },
      Math.max(0, origin + boundary * window.windowMs - Date.now()),
    );
    state.timer.unref();
  };
  clearTimeout(state.timer);
  arm();
  return state;
}

export interface SharedPacerOptions {
  /** Bottleneck's id: every process using it shares one state in Redis. */
  id: string;
  redisUrl: string;
  redisOptions: RedisOptions;
  /** A started job holds its shared slot at most this long (a process that dies frees its slots after it). */
  jobTimeoutMs: number;
}

export function createSharedPacer(settings: PacerSettings, shared: SharedPacerOptions, onError: (error: unknown) => void): Pacer {
  const client = new Redis(shared.redisUrl, shared.redisOptions);
  const connection = new Bottleneck.IORedisConnection({ client });
  // The connection relays client errors here; the limiter below relays them too.
  connection.on('error', onError);
  const options: BottleneckOptions = {
    ...commonOptions(settings),
    id: shared.id,
    datastore: 'ioredis',
    connection,
    // The first process to create the shared state sets these; the id carries
    // a hash of them so a changed declaration starts a fresh state.
    ...(settings.window
      ? {
          reservoir: settings.bucket?.initial ?? settings.window.count,
          reservoirIncreaseAmount: settings.window.count,
          reservoirIncreaseMaximum: settings.bucket?.size ?? settings.window.count,
          reservoirIncreaseInterval: settings.window.windowMs,
        }
      : {}),
    // Liveness in Redis (a silent process is dropped after clientTimeout) and
    // how soon a refilled reservoir is noticed by waiting jobs.
    heartbeatInterval: 250,
    clientTimeout: 10_000,
    // No `timeout` (key expiry): bottleneck computes the TTL from nextRequest,
    // which a fractional minTime makes fractional, and PEXPIRE then fails.
  };
  const limiter = new Bottleneck(options);
  // Cutting the connection first marks it terminated, so bottleneck does not
  // try to unsubscribe over a dead one (it would, in a forEach nobody awaits).
  return new BottleneckPacer(limiter, true, onError, shared.jobTimeoutMs, () => connection.disconnect(false));
}

/** Bottleneck's declarations say updateSettings returns the limiter; 2.19.5 returns a promise of it (rejecting when Redis fails). */
function updateSettings(limiter: Bottleneck, options: Bottleneck.ConstructorOptions): Promise<unknown> {
  return limiter.updateSettings(options) as unknown as Promise<Bottleneck>;
}

function commonOptions(settings: PacerSettings): BottleneckOptions {
  return { minTime: settings.minTimeMs, maxConcurrent: settings.maxConcurrent };
}

class BottleneckPacer implements Pacer {
  private closed = false;

  constructor(
    private readonly limiter: Bottleneck,
    readonly shared: boolean,
    private readonly onError: (error: unknown) => void,
    private readonly expirationMs: number | null,
    private readonly disconnect: () => Promise<void>,
  ) {
    limiter.on('error', onError);
  }

  async ready(): Promise<void> {
    await this.limiter.ready();
  }

  async run(weight: number, task: () => Promise<void>): Promise<void> {
    try {
      await this.limiter.schedule({ weight, ...(this.expirationMs !== null ? { expiration: this.expirationMs } : {}) }, task);
    } catch (error) {
      // Bottleneck says so only in words: "This job timed out after <n> ms."
      if (error instanceof Bottleneck.BottleneckError && /timed out after/.test(error.message)) throw new SlotExpiredError(error.message);
      throw error;
    }
  }

  async setMinTime(minTimeMs: number): Promise<void> {
    await updateSettings(this.limiter, { minTime: minTimeMs });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Queued jobs are dropped without running (their owner re-queues them);
    // running ones finish on their own. A dead Redis can keep stop() waiting
    // on a script forever, so the connection is cut after a second regardless.
    const stopped = this.limiter.stop({ dropWaitingJobs: true }).catch(this.onError);
    try {
      await Promise.race([stopped, delay(1000)]);
    } finally {
      await this.disconnect();
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
