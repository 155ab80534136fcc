/**
 * The telephony domain joined to one call-control adapter: trunks with their health, the agent
 * roster, the queues, and (when media is given) the IVR. Inbound calls are answered here and
 * walked through the IVR into a queue; outbound calls go out through the trunks with failover;
 * agents transfer to office extensions through the PBX trunk.
 *
 * It owns no SIP and no audio itself: every decision stays in the domain modules, this only
 * wires them, so the same composition runs over the drachtio-srf adapter and a real
 * drachtio-server in production and over the stand-in with SIPp peers in the e2e tests.
 */
import type { Logger } from '../core/logger.js';
import { CallQueue, type QueuedCall } from './acd/call-queue.js';
import { transferToPbxExtension, type AgentNotice, type PbxTransferRequest, type PbxTransferResult } from './acd/pbx-transfer.js';
import type { QueueConfig } from './acd/queue-config.js';
import type { AgentRoster } from './acd/roster.js';
import type { CallControl, InboundCall, MediaControl } from './call-control.js';
import { carryOutIvrDecision, type CarriedOut } from './ivr/carry-out.js';
import type { IvrMenu } from './ivr/menu.js';
import { runIvr, type IvrDeps, type IvrResult } from './ivr/run-ivr.js';
import type { TrunkConfig } from './trunks/config.js';
import { placeCallWithFailover, type PlaceCallRequest, type PlaceCallResult } from './trunks/failover.js';
import { TrunkHealth, TrunkProbeScheduler } from './trunks/health.js';
import { TrunkRegistrar } from './trunks/registration.js';
import type { Registrations } from './registration/port.js';

/** Media with SIP INFO digits fed in by the signalling side (telephony/media/rtpengine-media.ts). */
export interface CallCenterMedia extends MediaControl {
  receiveSipInfo(leg: InboundCall, contentType: string | undefined, body: string): unknown;
}

export interface CallCenterOptions {
  callControl: CallControl;
  roster: AgentRoster;
  trunks: readonly TrunkConfig[];
  queues: readonly QueueConfig[];
  /** Where inbound callers go: through an IVR menu (needs media), or straight into a queue. Without it the hub only dials out. */
  inbound?: { ivr: IvrMenu } | { queue: string };
  media?: CallCenterMedia;
  /** Prompt name -> WAV path, and the CRM lookup, for the IVR. */
  ivr?: Pick<IvrDeps, 'promptPath' | 'lookupContact'>;
  /** The SDP a caller is answered with while nobody anchors their media (hold until an agent's media comes by re-INVITE). */
  holdSdp: string;
  notifyAgent: (agentId: string, notice: AgentNotice) => void;
  /** Attended transfers ring the extension this long before the caller goes to the fallback queue. */
  transferRingTimeoutMs?: number;
  logger?: Pick<Logger, 'error'>;
  /** Sends the registration trunks' REGISTERs (the drachtio adapter); without it they do not register. */
  registrations?: Pick<Registrations, 'register'>;
  /** How long one REGISTER to a carrier may take (default 10 s). */
  registrationTimeoutMs?: number;
}

/** What became of an inbound call once the hub handed it on. */
export interface InboundRouting {
  call: InboundCall;
  callId: string;
  ivr: IvrResult | undefined;
  carriedOut: CarriedOut;
  /** The agent the caller was offered to first (the contact's responsible agent), when queued with one. */
  preferredAgentId?: string;
}

/** Per call: how the caller's preferred agent is found. */
export interface InboundCallOptions {
  /**
   * Resolves with the caller's preferred agent (or undefined); must never reject and must settle
   * within its own deadline: the caller waits for it before being queued.
   */
  preferredAgent?: () => Promise<string | undefined>;
  /** Schedules a callback for this caller (the IVR's `callback` node); without it such a node queues the caller. */
  scheduleCallback?: IvrDeps['scheduleCallback'];
}

export class CallCenter {
  readonly health: TrunkHealth;
  readonly probes: TrunkProbeScheduler;
  /** Registration trunks' REGISTERs, started at once when `registrations` is given. */
  readonly trunkRegistrar: TrunkRegistrar | undefined;
  readonly queues = new Map<string, CallQueue>();
  private readonly routedListeners = new Set<(routing: InboundRouting) => void>();
  private callCounter = 0;

  constructor(private readonly options: CallCenterOptions) {
    this.health = new TrunkHealth(options.trunks);
    this.probes = new TrunkProbeScheduler(options.callControl, options.trunks, this.health, Date.now, options.logger);
    this.trunkRegistrar = options.registrations && new TrunkRegistrar(options.registrations, options.trunks, this.health, { timeoutMs: options.registrationTimeoutMs });
    this.trunkRegistrar?.start();
    for (const config of options.queues) {
      this.queues.set(config.name, new CallQueue(config, { callControl: options.callControl, roster: options.roster, logger: options.logger }));
    }
    const inbound = options.inbound;
    if (inbound === undefined) return;
    if ('ivr' in inbound && (options.media === undefined || options.ivr === undefined)) {
      throw new Error('an inbound IVR needs media and the IVR dependencies (prompts, CRM lookup)');
    }
    options.callControl.onInboundCall(async (call) => {
      await this.routeInbound(call, inbound);
    });
  }

  /** Every inbound call once it is queued, transferred, hung up or abandoned. */
  onInboundRouted(listener: (routing: InboundRouting) => void): () => void {
    this.routedListeners.add(listener);
    return () => this.routedListeners.delete(listener);
  }

  placeCall(request: PlaceCallRequest): Promise<PlaceCallResult> {
    return placeCallWithFailover(this.options.callControl, { trunks: this.options.trunks, health: this.health }, request);
  }

  /** An agent on a call hands it to an office extension; on failure the caller goes to `fallbackQueue` and the agent is told. */
  transferToExtension(request: Omit<PbxTransferRequest, 'callId'> & { callId: string; fallbackQueue: string }): Promise<PbxTransferResult> {
    const fallbackQueue = this.queue(request.fallbackQueue);
    return transferToPbxExtension(
      { callControl: this.options.callControl, trunks: this.options.trunks, health: this.health, fallbackQueue,
        notifyAgent: this.options.notifyAgent, attendedRingTimeoutMs: this.options.transferRingTimeoutMs },
      request,
    );
  }

  queue(name: string): CallQueue {
    const queue = this.queues.get(name);
    if (queue === undefined) throw new Error(`queue "${name}" is not running`);
    return queue;
  }

  /** Stops probes and queues; registration trunks unregister (awaited by `closeAndUnregister`). */
  close(): void {
    void this.closeAndUnregister();
  }

  /** Registration trunks unregister now; queues go on (a replaced call center serving its last callers). */
  async unregisterTrunks(): Promise<void> {
    await this.trunkRegistrar?.stop();
  }

  async closeAndUnregister(): Promise<void> {
    const unregistered = this.trunkRegistrar?.stop();
    this.probes.stop();
    for (const queue of this.queues.values()) queue.close();
    await unregistered;
  }

  /**
   * Answers an inbound call and hands it on (IVR, then queue / transfer / hang-up; or straight into a
   * queue). Used by the constructor's `inbound` entry, or directly by a router that picks the entry per
   * dialled number. Resolves with the routing, or undefined when it failed (the call is hung up).
   */
  async routeInbound(
    call: InboundCall,
    inbound: NonNullable<CallCenterOptions['inbound']>,
    callId = `in-${Date.now()}-${++this.callCounter}`,
    options: InboundCallOptions = {},
  ): Promise<InboundRouting | undefined> {
    if ('ivr' in inbound && (this.options.media === undefined || this.options.ivr === undefined)) {
      throw new Error('an inbound IVR needs media and the IVR dependencies (prompts, CRM lookup)');
    }
    const preferredAgent = options.preferredAgent ?? (async () => undefined);
    try {
      const routing = 'ivr' in inbound
        ? await this.throughIvr(call, callId, inbound.ivr, preferredAgent, options.scheduleCallback)
        : await this.straightToQueue(call, callId, inbound.queue, preferredAgent);
      for (const listener of [...this.routedListeners]) listener(routing);
      return routing;
    } catch (error) {
      this.options.logger?.error({ err: error, callId }, 'inbound call could not be routed');
      await call.hangup().catch(() => undefined);
      return undefined;
    }
  }

  private async straightToQueue(call: InboundCall, callId: string, queueName: string, preferredAgent: () => Promise<string | undefined>): Promise<InboundRouting> {
    // Asked beside the answer, so the caller rarely waits for it.
    const preferred = preferredAgent();
    // The queue takes answered callers only; the agent's media reaches the caller by re-INVITE on bridge.
    await call.answer(this.options.holdSdp);
    const preferredAgentId = await preferred;
    const queued: QueuedCall = this.queue(queueName).enqueue(call, { callId, ...(preferredAgentId === undefined ? {} : { preferredAgentId }) });
    return { call, callId, ivr: undefined, carriedOut: { kind: 'queued', queued }, ...(preferredAgentId === undefined ? {} : { preferredAgentId }) };
  }

  private async throughIvr(call: InboundCall, callId: string, menu: IvrMenu, preferredAgent: () => Promise<string | undefined>, scheduleCallback: IvrDeps['scheduleCallback']): Promise<InboundRouting> {
    const media = this.options.media as CallCenterMedia;
    const ivrDeps = this.options.ivr as Pick<IvrDeps, 'promptPath' | 'lookupContact'>;
    await call.answer(await media.anchor(call, call.remoteSdp ?? ''));
    // Digits by SIP INFO arrive with the signalling; rtpengine reports RFC 2833 ones itself.
    const offDigits = call.on((event) => {
      if (event.type === 'digit' && event.source === 'sip-info') media.receiveSipInfo(call, 'application/dtmf', event.digit);
    });
    let decision: IvrResult;
    try {
      decision = await runIvr({ ...ivrDeps, media, ...(scheduleCallback === undefined ? {} : { scheduleCallback }) }, menu, call, call.from);
    } finally {
      offDigits();
      // Past the IVR the caller talks to an agent or the PBX, not to rtpengine's prompts.
      await media.release(call);
    }
    // Asked once the IVR queues the caller: a CRM node before has the card in the screen pop's cache
    // by then, and a lookup beside the IVR would make that node share the queue's shorter deadline.
    const preferredAgentId = decision.kind === 'queue' ? await preferredAgent() : undefined;
    const carriedOut = await carryOutIvrDecision(
      { callControl: this.options.callControl, queues: this.queues, trunks: this.options.trunks, health: this.health },
      menu, decision, call, { callId, ...(preferredAgentId === undefined ? {} : { preferredAgentId }) },
    );
    return { call, callId, ivr: decision, carriedOut, ...(preferredAgentId === undefined || carriedOut.kind !== 'queued' ? {} : { preferredAgentId }) };
  }
}
