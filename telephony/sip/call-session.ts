/**
 * One CallSession per call: it owns every leg of the call (the caller, the agent or carrier legs
 * it was bridged to) and tears the others down when a bridged leg ends or when it is destroyed.
 * The adapter counts live sessions for its capacity limit.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../core/logger.js';
import type { SipLeg } from './legs.js';

export class CallSession {
  readonly id = randomUUID();
  readonly log: Logger;
  private readonly legs = new Set<SipLeg>();
  /** The leg the call began with; when it ends, the call ends. */
  private anchor: SipLeg | undefined;
  private bridged = false;
  private closed = false;

  constructor(
    logger: Logger,
    private readonly onClosed: (session: CallSession) => void,
  ) {
    this.log = logger.child({ callSession: this.id });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get legCount(): number {
    return this.legs.size;
  }

  own(leg: SipLeg): void {
    if (this.legs.has(leg)) return;
    this.legs.add(leg);
    this.anchor ??= leg;
    leg.session = this;
    leg.on((event) => {
      if (event.type !== 'ended') return;
      if (leg.session !== this) return;
      this.legs.delete(leg);
      this.log.debug({ legId: leg.id, cause: event.cause, sipCallId: leg.sipCallId }, 'leg ended');
      // Any call is over when the leg it began with leaves (a caller hanging up stops the agent's
      // phone ringing), a bridged call when the far side of the bridge hangs up. The application
      // hanging up the other side of a bridge itself releases only that leg: the ACD frees an agent
      // this way and moves the caller to another queue (a failed PBX transfer); other legs end alone.
      if (leg === this.anchor || (this.bridged && event.by === 'remote')) void this.destroy();
      else {
        if (this.bridged && event.by === 'local') this.bridged = false;
        if (this.legs.size === 0) this.finish();
      }
    });
  }

  /** Takes over another session's legs (bridging two calls makes them one call). */
  absorb(other: CallSession): void {
    if (other === this) return;
    const legs = [...other.legs];
    other.legs.clear();
    for (const leg of legs) this.own(leg);
    other.finish();
  }

  /** Hangs up every leg but those kept, without ending the call (attended transfer moves the caller on). */
  async releaseOthers(keep: readonly SipLeg[]): Promise<void> {
    const others = [...this.legs].filter((leg) => !keep.includes(leg));
    for (const leg of others) {
      this.legs.delete(leg);
      leg.session = undefined;
    }
    this.bridged = false;
    await Promise.allSettled(others.map((leg) => leg.hangup('transferred')));
  }

  markBridged(): void {
    this.bridged = true;
  }

  async destroy(): Promise<void> {
    if (this.closed) return;
    const legs = [...this.legs];
    this.legs.clear();
    this.finish();
    await Promise.allSettled(legs.map((leg) => leg.hangup()));
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosed(this);
  }
}
