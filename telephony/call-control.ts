/**
 * Call control as the rest of the hub sees it: the one port between workflows/activities and SIP.
 *
 * The production adapter implements it with drachtio-srf (telephony/sip). Everything above it
 * (trunk failover, ACD, IVR, transfers, the dialer) talks only to these types, so the same code
 * runs against a real drachtio-server and against the test stand-in.
 */

/** Why a leg ended, in call-center words; `sipStatus` keeps the exact code where there was one. */
export type HangupCause =
  | 'normal' // a party hung up after answer
  | 'busy' // 486 / 600
  | 'no-answer' // ring timeout reached, or 480 / 408 from the far end
  | 'rejected' // 403, 404, 603 and other final 4xx/6xx
  | 'failed' // 5xx, transport error, no response at all
  | 'cancelled' // we gave up before answer (CANCEL sent)
  | 'transferred' // the call left us through REFER
  | 'abandoned'; // the caller hung up before an agent took the call

export type DtmfSource = 'rfc2833' | 'sip-info';

export type CallEvent =
  | { type: 'ringing'; legId: string; at: Date; sipStatus: 180 | 183 }
  | { type: 'answered'; legId: string; at: Date }
  | { type: 'digit'; legId: string; at: Date; digit: string; source: DtmfSource }
  | { type: 'transferred'; legId: string; at: Date; to: string; mode: 'blind' | 'attended' }
  | { type: 'ended'; legId: string; at: Date; cause: HangupCause; sipStatus?: number; by: 'local' | 'remote' };

/** One SIP leg (a dialog once answered). */
export interface CallLeg {
  readonly id: string;
  /** SIP Call-ID of this leg: what CDRs and logs carry. */
  readonly sipCallId: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  /** Remote SDP once known (needed to anchor media). */
  readonly remoteSdp: string | undefined;
  readonly state: 'ringing' | 'answered' | 'ended';
  on(listener: (event: CallEvent) => void): () => void;
  hangup(): Promise<void>;
}

export interface InboundCall extends CallLeg {
  readonly headers: Readonly<Record<string, string>>;
  /** Tell the caller the call is progressing: 180 Ringing, or 183 with early media when an SDP is given. */
  ring(earlySdp?: string): Promise<void>;
  /** Answer with the given SDP (from the media server), or reject with an explicit status. */
  answer(localSdp: string): Promise<void>;
  reject(sipStatus: number, reason: string): Promise<void>;
}

export interface SipCredentials {
  username: string;
  password: string;
}

export interface OriginateRequest {
  /** Request-URI, e.g. `sip:+14155552671@carrier.example:5060`. */
  uri: string;
  /** Caller id shown to the callee (From user part). */
  callerId: string;
  /** Local SDP offer; from the media server, or a hold SDP for signalling-only legs. */
  sdp: string;
  ringTimeoutMs: number;
  headers?: Record<string, string>;
  /** Digest credentials when the peer challenges (registration-style trunks). */
  auth?: SipCredentials;
  /** Stops ringing with a CANCEL. */
  signal?: AbortSignal;
  /**
   * The call this leg is placed for (the caller's leg when dialling an agent): the new leg belongs to
   * that call, is torn down with it (a caller hanging up cancels the agent's ringing) and does not
   * count as another call against the capacity limit.
   */
  partOf?: CallLeg;
  /** Progress of the leg before the outcome is known (ringing, early media): lets a caller hear ringback. */
  onProgress?: (event: Extract<CallEvent, { type: 'ringing' }>) => void;
}

export type OriginateResult =
  | { outcome: 'answered'; leg: CallLeg; setupMs: number }
  | {
      outcome: Exclude<HangupCause, 'normal' | 'transferred' | 'abandoned'>;
      sipStatus: number | undefined;
      reason: string;
      setupMs: number;
    };

export type TransferRequest =
  | { mode: 'blind'; to: string; timeoutMs?: number } // REFER to the target; the peer places the new call and reports by NOTIFY
  | { mode: 'attended'; to: string; callerId: string; ringTimeoutMs: number }; // we call the target, then bridge

export type TransferResult =
  | { ok: true; mode: 'blind' | 'attended' }
  | { ok: false; sipStatus: number | undefined; reason: string };

export interface OptionsProbeResult {
  reachable: boolean;
  sipStatus: number | undefined;
  rttMs: number;
}

export interface CallControl {
  originate(request: OriginateRequest): Promise<OriginateResult>;
  /** Handler for new inbound INVITEs; reject early with an explicit status (503 over capacity). */
  onInboundCall(handler: (call: InboundCall) => void | Promise<void>): void;
  /** Join two answered legs (B2BUA): each side gets the other's SDP by re-INVITE. */
  bridge(a: CallLeg, b: CallLeg): Promise<void>;
  transfer(leg: CallLeg, request: TransferRequest): Promise<TransferResult>;
  /** SIP OPTIONS to a peer (trunk or PBX gateway health). */
  probe(uri: string, timeoutMs: number): Promise<OptionsProbeResult>;
  close(): Promise<void>;
}

/**
 * Media for a leg the hub originates, prepared before the INVITE: `sdp` goes out as the offer;
 * once the callee answers, `answered` anchors the leg with the callee's SDP (then play and
 * playAndCollect work on it as on an anchored inbound leg); when no leg comes of it, `cancel`.
 */
export interface OutboundMediaOffer {
  readonly sdp: string;
  answered(leg: CallLeg, answerSdp: string): Promise<void>;
  cancel(): Promise<void>;
}

/** Media operations (rtpengine in production and tests). */
export interface MediaControl {
  /** Anchor a leg's media; returns the SDP to send back to that leg. */
  anchor(leg: CallLeg, remoteSdp: string): Promise<string>;
  /** Offer-first anchoring for an outbound leg: the SDP to offer in the INVITE, completed by the callee's answer. */
  offerOutbound(): Promise<OutboundMediaOffer>;
  play(leg: CallLeg, wavPath: string): Promise<void>;
  /** Plays the prompt and resolves with the digits collected (RFC 2833 or SIP INFO). */
  playAndCollect(
    leg: CallLeg,
    options: { wavPath: string; maxDigits: number; timeoutMs: number; terminator?: string },
  ): Promise<{ digits: string; timedOut: boolean }>;
  release(leg: CallLeg): Promise<void>;
}
