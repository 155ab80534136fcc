// Where the adaptive state lives: in the process, or in Redis so that every
// process using a key learns from every throttle (one process being told
// "too many requests" slows them all, and a Retry-After pauses them all).
//
// Redis layout, per key (prefix `limits:<key>`):
//   :state:v1   hash { version, json } - the AdaptiveState, compare-and-set by version
//   :events:v1  channel - "<version>:<json>" after each change
//               (v1: the shape of AdaptiveState; a new shape gets new names, so
//               processes of two releases never read each other's state)
//   :successes  counter of 2xx answers, the clock the limit is measured with
//   :peers      zset of live processes (score: last seen), to share limits fairly
//               among them when Redis goes away
// Changes are computed locally from the cached state and written with a
// compare-and-set; on conflict the latest state is read and the change redone.
import { randomUUID } from 'node:crypto';
import type { AdaptiveState } from './adaptive.js';
import type { RedisLink } from './redis-link.js';
import type { LimiterLogger } from './types.js';

export type StateChange = (state: AdaptiveState, successes: number) => AdaptiveState;

export interface ControllerStore {
  readonly state: AdaptiveState;
  /** 2xx answers counted for the key, by every process sharing it. */
  successes(): number;
  countSuccess(): void;
  /** Applies `change` (atomically across processes when shared). Never rejects: shared failures fall back to the local copy. */
  update(change: StateChange, options?: { freshSuccesses?: boolean }): Promise<void>;
  /** Called after every change, local or from another process. */
  onChange(listener: () => void): void;
  /** Processes sharing the key as last seen (1 when not shared). */
  peers(): number;
  /** Sends what is only local yet (after Redis was away) and reads what others did meanwhile. */
  resync(): Promise<void>;
  close(): Promise<void>;
}

export class LocalControllerStore implements ControllerStore {
  private counted = 0;
  private readonly listeners: (() => void)[] = [];

  constructor(public state: AdaptiveState) {}

  successes(): number {
    return this.counted;
  }

  countSuccess(): void {
    this.counted += 1;
  }

  async update(change: StateChange): Promise<void> {
    const next = change(this.state, this.counted);
    if (next === this.state) return;
    this.state = next;
    for (const listener of this.listeners) listener();
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  peers(): number {
    return 1;
  }

  async resync(): Promise<void> {}

  async close(): Promise<void> {}
}

// Sets the state only if nobody changed it since `expected` was read, and
// tells everyone. Returns {1, version} or {0, current version, current json}.
const compareAndSetScript = `
local current = redis.call('HGET', KEYS[1], 'version') or '0'
if current ~= ARGV[1] then
  return {0, current, redis.call('HGET', KEYS[1], 'json') or ''}
end
local version = tostring(tonumber(current) + 1)
redis.call('HSET', KEYS[1], 'version', version, 'json', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[3], version .. ':' .. ARGV[2])
return {1, version}
`;

/** Bump when AdaptiveState changes shape. */
const stateSchema = 'v1';
/** Shared state is forgotten a week after its last change (a removed connector instance). */
const stateTtlMs = 7 * 24 * 60 * 60 * 1000;
/** A process not seen for this long no longer counts as a peer. */
const peerTimeoutMs = 5_000;

export class RedisControllerStore implements ControllerStore {
  state: AdaptiveState;
  private version = '0';
  private remoteSuccesses = 0;
  private pendingSuccesses = 0;
  /** Changed while Redis was away: written back when it returns. */
  private dirty = true;
  private lastPeers = 1;
  private lastFlushAt = 0;
  private flushQueued = false;
  private queue: Promise<void> = Promise.resolve();
  private readonly listeners: (() => void)[] = [];
  private readonly processId = randomUUID();
  private readonly keys: { state: string; events: string; successes: string; peers: string };
  private readonly flushTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly link: RedisLink,
    keyPrefix: string,
    initial: AdaptiveState,
    private readonly logger: LimiterLogger,
    private readonly context: object,
  ) {
    this.state = initial;
    this.keys = {
      state: `${keyPrefix}:state:${stateSchema}`,
      events: `${keyPrefix}:events:${stateSchema}`,
      successes: `${keyPrefix}:successes`,
      peers: `${keyPrefix}:peers`,
    };
    link.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.keys.events) this.receive(message);
    });
    // ioredis resubscribes after a reconnect too; subscribing twice is harmless.
    link.subscriber.on('ready', () => {
      link.subscriber.subscribe(this.keys.events).catch((error: unknown) => this.reportFailure(error));
    });
    // Success counts go to Redis in small batches, not per request; when
    // idle, only liveness is refreshed, once a second.
    this.flushTimer = setInterval(() => {
      // One flush waiting at a time: a slow Redis must not pile them up.
      if (this.flushQueued || (this.pendingSuccesses === 0 && Date.now() - this.lastFlushAt < 1000)) return;
      this.flushQueued = true;
      void this.serialized(() => {
        this.flushQueued = false;
        return this.flush();
      });
    }, 250);
    this.flushTimer.unref();
  }

  successes(): number {
    return this.remoteSuccesses + this.pendingSuccesses;
  }

  countSuccess(): void {
    this.pendingSuccesses += 1;
  }

  peers(): number {
    return this.lastPeers;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  update(change: StateChange, options: { freshSuccesses?: boolean } = {}): Promise<void> {
    return this.serialized(async () => {
      try {
        if (options.freshSuccesses) await this.flush();
        const outcome = await this.compareAndSet(change);
        if (outcome === 'written') return;
        // Offline was reported when the connection dropped; conflicts are news.
        if (outcome === 'conflict') this.reportFailure(new Error('shared limiter state kept changing under five compare-and-set attempts'));
      } catch (error) {
        this.reportFailure(error);
      }
      // Redis is away or busy: the change holds locally (a throttle must slow
      // this process at once) and is written back when Redis returns.
      this.adopt(change(this.state, this.successes()), this.version);
      this.dirty = true;
    });
  }

  private async compareAndSet(change: StateChange): Promise<'written' | 'offline' | 'conflict'> {
    // Other processes may have changed the state since it was cached: a
    // failed compare-and-set brings their version, and the change is redone on it.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const next = change(this.state, this.successes());
      if (next === this.state) return 'written';
      if (!this.link.ready) return 'offline';
      const [written, version, json] = (await this.link.client.eval(
        compareAndSetScript,
        1,
        this.keys.state,
        this.version,
        JSON.stringify(next),
        this.keys.events,
        String(stateTtlMs),
      )) as [number, string, string?];
      if (written === 1) {
        this.adopt(next, version);
        this.dirty = false;
        return 'written';
      }
      // Missing state (Redis lost it) or unreadable: ours becomes the shared one on the retry.
      const remote = json ? parseState(json) : null;
      if (json && !remote) this.logger.warn({ ...this.context, state: json.slice(0, 200) }, 'replacing an unreadable shared limiter state');
      this.adopt(remote ?? this.state, version);
    }
    return 'conflict';
  }

  async resync(): Promise<void> {
    await this.serialized(async () => {
      if (!this.link.ready) return;
      await this.flush();
      const [version, json] = await this.link.client.hmget(this.keys.state, 'version', 'json');
      const remote = json ? parseState(json) : null;
      if (!remote || !version) {
        // Redis lost the state (or never had it): ours becomes the shared one.
        this.version = '0';
        this.dirty = true;
      } else if (this.dirty && newestEvidence(this.state) > newestEvidence(remote)) {
        // We learned something while Redis was away that the others did not.
        this.version = version;
      } else {
        this.adopt({ ...remote, pausedUntil: Math.max(remote.pausedUntil, this.state.pausedUntil) }, version);
        this.dirty = false;
      }
    });
    if (this.dirty) await this.update((state) => ({ ...state }));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.flushTimer);
    await this.queue;
    if (this.link.ready) {
      await this.link.client.zrem(this.keys.peers, this.processId).catch((error: unknown) => this.reportFailure(error));
    }
  }

  /** One Redis exchange at a time: a compare-and-set must not race this process's own. */
  private serialized(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work).catch((error: unknown) => this.reportFailure(error));
    this.queue = run;
    return run;
  }

  private async flush(): Promise<void> {
    if (this.closed || !this.link.ready) return;
    const pending = this.pendingSuccesses;
    const now = Date.now();
    this.lastFlushAt = now;
    const results = await this.link.client
      .multi()
      .incrby(this.keys.successes, pending)
      .pexpire(this.keys.successes, stateTtlMs)
      .zadd(this.keys.peers, now, this.processId)
      .zremrangebyscore(this.keys.peers, '-inf', now - peerTimeoutMs)
      .zcard(this.keys.peers)
      .pexpire(this.keys.peers, stateTtlMs)
      .exec();
    if (!results) throw new Error('Redis discarded the success-count transaction');
    for (const [error] of results) if (error) throw error;
    this.pendingSuccesses -= pending;
    this.remoteSuccesses = Number(results[0]![1]);
    this.lastPeers = Math.max(1, Number(results[4]![1]));
  }

  private receive(message: string): void {
    const separator = message.indexOf(':');
    const state = parseState(message.slice(separator + 1));
    if (separator < 0 || !state) {
      this.logger.warn({ ...this.context, message: message.slice(0, 200) }, 'ignored an unreadable shared limiter state');
      return;
    }
    // Messages arrive in the order the compare-and-set wrote them.
    this.adopt(state, message.slice(0, separator));
  }

  private adopt(state: AdaptiveState, version: string): void {
    this.version = version;
    if (state === this.state) return;
    this.state = state;
    for (const listener of this.listeners) listener();
  }

  private reportFailure(error: unknown): void {
    this.logger.warn({ ...this.context, error: error instanceof Error ? error.message : String(error) }, 'shared limiter state not updated in Redis; using the local copy');
  }
}

function newestEvidence(state: AdaptiveState): number {
  return state.throttles.at(-1)?.at ?? 0;
}

function parseState(json: string): AdaptiveState | null {
  try {
    const value: unknown = JSON.parse(json);
    if (value && typeof value === 'object' && 'ratePerSecond' in value && 'throttles' in value) return value as AdaptiveState;
    return null;
  } catch {
    return null;
  }
}
