// Test tool: a CallLeg as the SIP adapter would hand it to the media control,
// without SIP. The media control only reads the leg's ids and state and listens
// for its 'ended' event, which `hangUp()` emits as a real dialog's BYE would.
import { randomUUID } from 'node:crypto';
import type { CallEvent, CallLeg } from '../../call-control.js';

export class TestLeg implements CallLeg {
  readonly id = randomUUID();
  readonly sipCallId: string;
  readonly direction = 'inbound' as const;
  readonly from = 'sip:+14155550100@127.0.0.1';
  readonly to = 'sip:ivr@127.0.0.1';
  state: CallLeg['state'] = 'answered';
  private readonly listeners = new Set<(event: CallEvent) => void>();

  constructor(
    readonly remoteSdp: string | undefined,
    sipCallId = `${randomUUID()}@127.0.0.1`,
  ) {
    this.sipCallId = sipCallId;
  }

  on(listener: (event: CallEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async hangup(): Promise<void> {
    this.hangUp('local');
  }

  hangUp(by: 'local' | 'remote'): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    for (const listener of this.listeners) listener({ type: 'ended', legId: this.id, at: new Date(), cause: 'normal', by });
  }
}
