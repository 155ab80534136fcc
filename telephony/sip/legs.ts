/**
 * Call legs of the drachtio-srf adapter: one object per SIP leg, wrapping the drachtio Dialog
 * once there is one, and turning SIP signalling into the port's CallEvents.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type Srf from 'drachtio-srf';
import type { CallEvent, CallLeg, HangupCause, InboundCall } from '../call-control.js';
import type { CallSession } from './call-session.js';
import { digitFromSipInfo } from './sip-info.js';

type LegState = CallLeg['state'];

export abstract class SipLeg implements CallLeg {
  readonly id = randomUUID();
  state: LegState = 'ringing';
  remoteSdp: string | undefined;
  /** SDP we last gave this leg; lets bridge() skip a re-INVITE that would change nothing. */
  localSdp: string | undefined;
  dialog: Srf.Dialog | undefined;
  /** The call this leg belongs to (set by CallSession.own). */
  session: CallSession | undefined;
  private readonly events = new EventEmitter();
  private endedWith: Extract<CallEvent, { type: 'ended' }> | undefined;

  protected constructor(
    readonly direction: 'inbound' | 'outbound',
    public sipCallId: string,
    readonly from: string,
    readonly to: string,
  ) {
    // A listener throwing must not break SIP handling; listeners are the caller's business.
    this.events.setMaxListeners(50);
  }

  on(listener: (event: CallEvent) => void): () => void {
    const wrapped = (event: CallEvent): void => listener(event);
    this.events.on('event', wrapped);
    return () => this.events.off('event', wrapped);
  }

  /** Resolves when the leg has ended (immediately if it already has). */
  ended(): Promise<Extract<CallEvent, { type: 'ended' }>> {
    if (this.endedWith) return Promise.resolve(this.endedWith);
    return new Promise((resolve) => {
      const off = this.on((event) => {
        if (event.type === 'ended') {
          off();
          resolve(event);
        }
      });
    });
  }

  emit(event: CallEvent): void {
    for (const listener of this.events.listeners('event') as ((event: CallEvent) => void)[]) {
      try {
        listener(event);
      } catch {
        // The listener's own bug; the leg keeps its state machine going regardless.
        continue;
      }
    }
  }

  /** Called once a dialog exists: wires BYE, INFO digits and re-INVITEs to leg state. */
  attachDialog(dialog: Srf.Dialog, localSdp: string): void {
    this.dialog = dialog;
    this.localSdp = localSdp;
    this.remoteSdp = dialog.remote.sdp;
    this.sipCallId = dialog.sip.callId;
    this.state = 'answered';
    this.emit({ type: 'answered', legId: this.id, at: new Date() });
    dialog.on('destroy', () => this.markEnded('normal', 'remote'));
    dialog.on('info', (req, res) => {
      res.send(200);
      const digit = digitFromSipInfo(req.get('Content-Type') ?? '', req.body ?? '');
      if (digit) this.emit({ type: 'digit', legId: this.id, at: new Date(), digit, source: 'sip-info' });
    });
    dialog.on('modify', (req, res) => {
      // The peer changed its media (hold, codec, new address): keep our answer, learn theirs.
      this.remoteSdp = req.body;
      res.send(200, { body: this.localSdp ?? dialog.local.sdp });
    });
  }

  markEnded(cause: HangupCause, by: 'local' | 'remote', sipStatus?: number): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endedWith = { type: 'ended', legId: this.id, at: new Date(), cause, by, ...(sipStatus === undefined ? {} : { sipStatus }) };
    this.emit(this.endedWith);
    this.events.removeAllListeners();
  }

  /** Re-INVITE with a new local SDP (bridging, hold). */
  async updateLocalSdp(sdp: string): Promise<void> {
    if (!this.dialog || this.state !== 'answered') throw new Error(`leg ${this.id} is not answered`);
    if (this.localSdp === sdp) return;
    const remote = await this.dialog.modify(sdp);
    this.localSdp = sdp;
    if (typeof remote === 'string' && remote) this.remoteSdp = remote;
  }

  async hangup(cause: HangupCause = 'normal'): Promise<void> {
    if (this.state === 'ended') return;
    if (this.dialog && this.state === 'answered') {
      this.markEnded(cause, 'local');
      await new Promise<void>((resolve) => this.dialog!.destroy(undefined, () => resolve()));
      return;
    }
    await this.hangupUnanswered();
  }

  protected abstract hangupUnanswered(): Promise<void>;
}

export class OutboundLeg extends SipLeg {
  request: Srf.SrfRequest | undefined;
  cancelledBy: 'ring-timeout' | 'caller' | undefined;

  constructor(from: string, to: string) {
    super('outbound', '', from, to);
  }

  /** Marks the leg cancelled; the CANCEL itself goes out once the peer has sent a provisional response. */
  cancel(by: 'ring-timeout' | 'caller'): void {
    if (this.state !== 'ringing' || this.cancelledBy) return;
    this.cancelledBy = by;
    this.onCancelRequested();
    if (this.provisional && !this.cancelSent) {
      this.cancelSent = true;
      this.request?.cancel(() => {});
    }
  }

  provisional = false;
  cancelSent = false;
  /** originate() listens here: a peer that never answered is given up on without a CANCEL. */
  onCancelRequested: () => void = () => {};

  protected override async hangupUnanswered(): Promise<void> {
    this.cancel('caller');
  }
}

export class InboundLeg extends SipLeg implements InboundCall {
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    private readonly srf: Srf,
    readonly req: Srf.SrfRequest,
    private readonly res: Srf.SrfResponse,
  ) {
    super('inbound', req.get('Call-ID'), req.callingNumber, req.calledNumber);
    this.headers = { ...(req as unknown as { headers: Record<string, string> }).headers };
    this.remoteSdp = req.body || undefined;
    req.on('cancel', () => this.markEnded('abandoned', 'remote', 487));
  }

  async answer(localSdp: string): Promise<void> {
    if (this.state !== 'ringing') throw new Error(`cannot answer leg ${this.id}: it is ${this.state}`);
    const dialog = await this.srf.createUAS(this.req, this.res, { localSdp });
    // The caller may have hung up between our 200 and now: the dialog tells us with destroy.
    this.attachDialog(dialog, localSdp);
  }

  async ring(earlySdp?: string): Promise<void> {
    if (this.state !== 'ringing' || this.res.finalResponseSent) return;
    if (earlySdp) {
      this.localSdp = earlySdp;
      this.res.send(183, { body: earlySdp, headers: { 'Content-Type': 'application/sdp' } });
    } else {
      this.res.send(180);
    }
  }

  async reject(sipStatus: number, reason: string): Promise<void> {
    if (this.state !== 'ringing') return;
    this.res.send(sipStatus, { headers: { 'X-Reason': reason } });
    this.markEnded(causeForStatus(sipStatus), 'local', sipStatus);
  }

  protected override async hangupUnanswered(): Promise<void> {
    await this.reject(480, 'hung up before answer');
  }
}

export function causeForStatus(status: number): HangupCause {
  if (status === 486 || status === 600) return 'busy';
  if (status === 480 || status === 408) return 'no-answer';
  if (status === 487) return 'cancelled';
  if (status >= 500 && status < 600) return 'failed';
  if (status >= 300) return 'rejected';
  return 'normal';
}
