// MediaControl on rtpengine: the hub anchors a leg's RTP in rtpengine, plays
// WAV prompts into it with "play media", and learns digits from two places:
// rtpengine's DTMF log (RFC 4733/2833 events in the RTP stream) and SIP INFO
// bodies that the SIP adapter hands over.
//
// Inbound legs: the caller offers, rtpengine relays it to the hub's sink, the sink answers.
// Outbound legs the hub originates (offer-first): the sink offers through rtpengine before the
// INVITE, the INVITE carries rtpengine's SDP, and the callee's 200 OK answer completes the call
// in rtpengine. Either way the far party (caller or callee) is the one prompts are played to and
// whose telephone-events are digits.
import { randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { pino } from 'pino';
import type { CallEvent, CallLeg, DtmfSource, MediaControl, OutboundMediaOffer } from '../call-control.js';
import type { Logger } from '../../core/logger.js';
import { collectRulesSchema, DigitCollection, type CollectOutcome, type CollectRules } from './digit-collection.js';
import { parseDtmfLogDatagram, parseSipInfoDigit, type SipInfoDigit } from './dtmf.js';
import { MediaServerError, NgClient, type NgDestination } from './ng-client.js';
import { answerOfferWithSink, hasActiveAudio, sinkOffer } from './sdp.js';
import { readWavInfo } from './wav.js';

export { MediaServerError };

export type DigitEvent = Extract<CallEvent, { type: 'digit' }>;

export interface RtpengineMediaOptions {
  /** rtpengine's ng control address (`--listen-ng`). */
  ng: NgDestination;
  /**
   * Address this process listens on for rtpengine's DTMF log (`--dtmf-log-dest`
   * must point here) and for the media the hub side of a leg receives.
   * Port 0 picks a free one; read it back from `dtmfLogAddress`.
   */
  listen: { host: string; port: number };
  /**
   * Addresses DTMF log datagrams are accepted from; the ng host when omitted
   * (and it is an IP address). Anyone else who could send to the port could
   * otherwise type digits (a PIN, a menu choice) into any call.
   */
  dtmfLogSources?: readonly string[];
  /** Per-command answer deadline; 3 s when omitted. */
  ngTimeoutMs?: number;
  logger?: Logger;
}

/** A leg cannot be anchored: the SIP layer should answer with `sipStatus` (488) rather than 500. */
export class UnacceptableSdpError extends Error {
  readonly sipStatus = 488;
  constructor(reason: string) {
    super(reason);
    this.name = 'UnacceptableSdpError';
  }
}

/** The leg ended (hang-up or release) while a prompt or a collection was running. */
export class LegEndedError extends Error {
  constructor(readonly legId: string) {
    super(`Leg ${legId} ended`);
    this.name = 'LegEndedError';
  }
}

export class MediaUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MediaUsageError';
  }
}

export type PlayAndCollectOptions = CollectRules & { wavPath: string };

/** An outbound offer, with the call-id it has in rtpengine (for rtpengine's logs and queries). */
export interface RtpengineOutboundOffer extends OutboundMediaOffer {
  readonly mediaCallId: string;
}

interface AnchoredLeg {
  leg: CallLeg;
  /** rtpengine's call-id: the leg's SIP Call-ID, so rtpengine's logs line up with SIP traces. */
  callId: string;
  /** rtpengine tag of the far party (the caller), whose RTP carries the RFC 2833 digits. */
  farTag: string;
  /** rtpengine tag of the hub's side. */
  hubTag: string;
  /** The tag whose offer opened the call in rtpengine (the caller's inbound, the hub's outbound): deleting by it frees the call. */
  offerTag: string;
  collection: DigitCollection | undefined;
  /** Wakes a pending play() when the leg ends. */
  ended: Promise<never>;
  end: (error: Error) => void;
  unsubscribe: () => void;
}

const DEFAULT_NG_TIMEOUT_MS = 3_000;

export class RtpengineMediaControl implements MediaControl {
  private readonly legs = new Map<string, AnchoredLeg>();
  /** `${callId}\n${tag}` -> leg id, for DTMF log events. */
  private readonly legsByTag = new Map<string, string>();
  private readonly digitListeners = new Set<(event: DigitEvent) => void>();
  private closed = false;

  private constructor(
    private readonly ng: NgClient,
    private readonly dtmfSocket: Socket,
    private readonly sinkSocket: Socket,
    private readonly logger: Logger,
    private readonly dtmfLogSources: ReadonlySet<string> | undefined,
  ) {
    dtmfSocket.on('message', (datagram, from) => this.onDtmfLog(datagram, from.address));
    // The sink exists so that the hub side of a leg has a real address; what arrives there is not needed.
    sinkSocket.on('message', () => undefined);
    for (const socket of [dtmfSocket, sinkSocket]) socket.on('error', (error) => logger.error({ err: error }, 'media socket error'));
  }

  static async create(options: RtpengineMediaOptions): Promise<RtpengineMediaControl> {
    const logger = options.logger ?? pino({ level: 'silent' });
    const dtmfSocket = await bindUdp(options.listen.host, options.listen.port);
    const sinkSocket = await bindUdp(options.listen.host, 0).catch((error: unknown) => {
      dtmfSocket.close();
      throw error;
    });
    const ng = new NgClient(options.ng, options.ngTimeoutMs ?? DEFAULT_NG_TIMEOUT_MS, logger);
    const sources = options.dtmfLogSources ?? (isIP(options.ng.host) ? [options.ng.host] : undefined);
    if (sources === undefined) logger.warn({ ng: options.ng.host }, 'DTMF log accepted from any address: set dtmfLogSources to the rtpengine address');
    return new RtpengineMediaControl(ng, dtmfSocket, sinkSocket, logger, sources === undefined ? undefined : new Set(sources));
  }

  /** Where rtpengine must send its DTMF log (`--dtmf-log-dest`). */
  get dtmfLogAddress(): { host: string; port: number } {
    const { address, port } = this.dtmfSocket.address();
    return { host: address, port };
  }

  /** Every digit from every leg, RFC 2833 or SIP INFO, e.g. to pass on as call events. */
  onDigit(listener: (event: DigitEvent) => void): () => void {
    this.digitListeners.add(listener);
    return () => this.digitListeners.delete(listener);
  }

  async anchor(leg: CallLeg, remoteSdp: string): Promise<string> {
    this.assertOpen();
    if (leg.state === 'ended') throw new LegEndedError(leg.id);
    if (!hasActiveAudio(remoteSdp)) throw new UnacceptableSdpError('The SDP offers no active audio stream');
    const known = this.legs.get(leg.id);
    const anchored = known ?? this.track(leg);
    const common = { 'call-id': anchored.callId, 'from-tag': anchored.farTag };
    try {
      const offer = await this.ng.command('offer', {
        ...common,
        sdp: remoteSdp,
        // The hub side is a plain-RTP sink; rtpengine keeps whatever the caller uses (SRTP, ICE) on the caller's side.
        'transport-protocol': 'RTP/AVP',
        ICE: 'remove',
        replace: ['origin', 'session-connection'],
      });
      const hubAnswer = answerOfferWithSink(String(offer.sdp), this.sinkAddress());
      const answer = await this.ng.command('answer', { ...common, 'to-tag': anchored.hubTag, sdp: hubAnswer });
      // The caller's audio need not reach the sink; DTMF detection happens before this block applies.
      await this.ng.command('blockMedia', { ...common });
      return String(answer.sdp);
    } catch (error) {
      if (known === undefined) this.forget(anchored);
      if (error instanceof MediaServerError && error.command === 'offer') throw new UnacceptableSdpError(`rtpengine refused the SDP: ${error.reason}`);
      throw error;
    }
  }

  /**
   * Offer-first anchoring for a leg the hub originates. rtpengine gets the sink's offer under a
   * call-id of its own (the leg's SIP Call-ID does not exist yet) and returns the SDP for the
   * INVITE; the same offer may go to several trunks in turn, only the leg that answers completes it.
   */
  async offerOutbound(): Promise<RtpengineOutboundOffer> {
    this.assertOpen();
    const callId = `hub-out-${randomUUID()}`;
    const hubTag = `${callId}-hub`;
    const reply = await this.ng.command('offer', {
      'call-id': callId,
      'from-tag': hubTag,
      sdp: sinkOffer(this.sinkAddress()),
      'transport-protocol': 'RTP/AVP',
      replace: ['origin', 'session-connection'],
    });
    const sdp = String(reply.sdp);
    let settled = false;
    const discard = async (): Promise<void> => {
      try {
        await this.ng.command('delete', { 'call-id': callId, 'from-tag': hubTag });
      } catch (error) {
        if (!(error instanceof MediaServerError && /unknown call/i.test(error.reason))) throw error;
      }
    };
    return {
      sdp,
      mediaCallId: callId,
      answered: async (leg, answerSdp) => {
        if (settled) throw new MediaUsageError('This outbound media offer was already answered or cancelled');
        settled = true;
        this.assertOpen();
        const refusal = leg.state === 'ended' ? new LegEndedError(leg.id)
          : this.legs.has(leg.id) ? new MediaUsageError(`Leg ${leg.id} already has media anchored`)
          : !hasActiveAudio(answerSdp) ? new UnacceptableSdpError('The answer has no active audio stream')
          : undefined;
        if (refusal !== undefined) {
          await discard();
          throw refusal;
        }
        const anchored = this.track(leg, { callId, farTag: `${leg.id}-far`, hubTag, offerTag: hubTag });
        try {
          await this.ng.command('answer', { 'call-id': callId, 'from-tag': hubTag, 'to-tag': anchored.farTag, sdp: answerSdp });
          // The callee's audio need not reach the sink; DTMF detection happens before this block applies.
          await this.ng.command('blockMedia', { 'call-id': callId, 'from-tag': anchored.farTag });
        } catch (error) {
          this.forget(anchored);
          await discard().catch((cleanup: unknown) => this.logger.warn({ err: cleanup, legId: leg.id }, 'discarding an outbound media offer failed'));
          if (error instanceof MediaServerError && error.command === 'answer') throw new UnacceptableSdpError(`rtpengine refused the answer: ${error.reason}`);
          throw error;
        }
      },
      cancel: async () => {
        if (settled) return;
        settled = true;
        await discard();
      },
    };
  }

  async play(leg: CallLeg, wavPath: string): Promise<void> {
    const anchored = this.anchoredLeg(leg);
    const durationMs = await this.startPrompt(anchored, wavPath);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([anchored.ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, durationMs)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  async playAndCollect(leg: CallLeg, options: PlayAndCollectOptions): Promise<CollectOutcome> {
    const { wavPath, ...ruleInput } = options;
    const parsedRules = collectRulesSchema.safeParse(ruleInput);
    if (!parsedRules.success) {
      throw new MediaUsageError(`playAndCollect: ${parsedRules.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
    }
    const anchored = this.anchoredLeg(leg);
    if (anchored.collection !== undefined && !anchored.collection.isSettled) throw new MediaUsageError(`Leg ${leg.id} is already collecting digits`);
    let promptPlaying = false;
    const silencePrompt = async (): Promise<void> => {
      if (!promptPlaying) return;
      promptPlaying = false;
      await this.stopPrompt(anchored);
    };
    const collection = new DigitCollection(parsedRules.data, () => void silencePrompt());
    anchored.collection = collection;
    try {
      const durationMs = await this.startPrompt(anchored, wavPath);
      promptPlaying = true;
      setTimeout(() => (promptPlaying = false), durationMs).unref();
      collection.promptStarted(durationMs);
      // Digits that came while "play media" was on its way: the caller already answered, so the prompt stops at once.
      if (collection.hasDigits) void silencePrompt();
    } catch (error) {
      collection.fail(error as Error);
    }
    try {
      return await collection.outcome;
    } finally {
      if (anchored.collection === collection) anchored.collection = undefined;
      // A turn ended by digits while the prompt still plays: silence it before the next step speaks.
      await silencePrompt();
    }
  }

  /**
   * Feeds a SIP INFO received on `leg` into digit collection. Returns what the
   * SIP adapter should answer: 200 for `ok`, else the given 4xx status and reason.
   */
  receiveSipInfo(leg: CallLeg, contentType: string | undefined, body: string): SipInfoDigit {
    const parsed = parseSipInfoDigit(contentType, body);
    if (parsed.ok) this.deliverDigit(leg.id, parsed.digit, 'sip-info');
    return parsed;
  }

  async release(leg: CallLeg): Promise<void> {
    const anchored = this.legs.get(leg.id);
    if (anchored === undefined) return;
    this.forget(anchored);
    try {
      await this.ng.command('delete', { 'call-id': anchored.callId, 'from-tag': anchored.offerTag });
    } catch (error) {
      // The call may already be gone (rtpengine timed it out or restarted): nothing is left to free.
      if (!(error instanceof MediaServerError && /unknown call/i.test(error.reason))) throw error;
    }
  }

  /** Releases every anchored leg and closes the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    const legs = [...this.legs.values()].map((anchored) => anchored.leg);
    const results = await Promise.allSettled(legs.map((leg) => this.release(leg)));
    this.closed = true;
    this.ng.close();
    this.dtmfSocket.close();
    this.sinkSocket.close();
    for (const result of results) {
      if (result.status === 'rejected') this.logger.warn({ err: result.reason }, 'releasing a leg on close failed');
    }
  }

  private track(leg: CallLeg, ids?: Pick<AnchoredLeg, 'callId' | 'farTag' | 'hubTag' | 'offerTag'>): AnchoredLeg {
    let end!: (error: Error) => void;
    const ended = new Promise<never>((_, reject) => (end = reject));
    ended.catch(() => undefined); // observed through races only
    const anchored: AnchoredLeg = {
      leg,
      ...(ids ?? { callId: leg.sipCallId, farTag: `${leg.id}-far`, hubTag: `${leg.id}-hub`, offerTag: `${leg.id}-far` }),
      collection: undefined,
      ended,
      end,
      unsubscribe: () => undefined,
    };
    anchored.unsubscribe = leg.on((event) => {
      if (event.type === 'ended') {
        this.release(leg).catch((error: unknown) => this.logger.warn({ err: error, legId: leg.id }, 'releasing media of an ended leg failed'));
      }
    });
    this.legs.set(leg.id, anchored);
    this.legsByTag.set(tagKey(anchored.callId, anchored.farTag), leg.id);
    return anchored;
  }

  private forget(anchored: AnchoredLeg): void {
    anchored.unsubscribe();
    this.legs.delete(anchored.leg.id);
    this.legsByTag.delete(tagKey(anchored.callId, anchored.farTag));
    const error = new LegEndedError(anchored.leg.id);
    anchored.collection?.fail(error);
    anchored.end(error);
  }

  private anchoredLeg(leg: CallLeg): AnchoredLeg {
    this.assertOpen();
    const anchored = this.legs.get(leg.id);
    if (anchored === undefined) throw new MediaUsageError(`Leg ${leg.id} has no media anchored (call anchor() with its SDP first)`);
    return anchored;
  }

  /** Starts the prompt; resolves with how long it plays. */
  private async startPrompt(anchored: AnchoredLeg, wavPath: string): Promise<number> {
    // Read first: a missing or broken file is our fault and deserves a clear message, not rtpengine's "failed to start media".
    const wav = await readWavInfo(wavPath);
    // "play media" with the far party's tag plays to that party.
    const reply = await this.ng.command('playMedia', { 'call-id': anchored.callId, 'from-tag': anchored.farTag, file: wavPath });
    return typeof reply.duration === 'number' ? reply.duration : wav.durationMs;
  }

  private async stopPrompt(anchored: AnchoredLeg): Promise<void> {
    if (!this.legs.has(anchored.leg.id)) return;
    try {
      await this.ng.command('stopMedia', { 'call-id': anchored.callId, 'from-tag': anchored.farTag });
    } catch (error) {
      // The prompt may have ended on its own meanwhile; a prompt that keeps playing is a nuisance, not a failed call.
      this.logger.debug({ err: error, legId: anchored.leg.id }, 'stop media failed');
    }
  }

  private onDtmfLog(datagram: Buffer, source: string): void {
    if (this.dtmfLogSources !== undefined && !this.dtmfLogSources.has(source)) {
      this.logger.warn({ source }, 'DTMF log datagram from an address that is not rtpengine: dropped');
      return;
    }
    const parsed = parseDtmfLogDatagram(datagram);
    if (!parsed.ok) {
      this.logger.warn({ error: parsed.error }, 'unreadable DTMF log datagram from rtpengine');
      return;
    }
    if (parsed.event === undefined) return;
    const legId = this.legsByTag.get(tagKey(parsed.event.callId, parsed.event.sourceTag));
    // Digits from the hub's own side, or for a leg released a moment ago, belong to nobody.
    if (legId === undefined) return;
    this.deliverDigit(legId, parsed.event.digit, 'rfc2833');
  }

  private deliverDigit(legId: string, digit: string, source: DtmfSource): void {
    this.legs.get(legId)?.collection?.addDigit(digit);
    const event: DigitEvent = { type: 'digit', legId, at: new Date(), digit, source };
    for (const listener of this.digitListeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error, legId }, 'digit listener threw');
      }
    }
  }

  private sinkAddress(): { host: string; port: number } {
    const { address, port } = this.sinkSocket.address();
    return { host: address, port };
  }

  private assertOpen(): void {
    if (this.closed) throw new MediaUsageError('The media control is closed');
  }
}

function tagKey(callId: string, tag: string): string {
  return `${callId}\n${tag}`;
}

async function bindUdp(host: string, port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}
