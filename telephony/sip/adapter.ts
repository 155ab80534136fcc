/**
 * The production CallControl: drachtio-srf talking to a drachtio-server (or, in tests and the
 * embedded default, to the stand-in in telephony/standin, over the same TCP wire protocol).
 *
 * Inbound INVITEs pass the inbound steps (capacity, shutdown, ...) before the handler sees them;
 * every call is a CallSession that owns its legs; over capacity, new calls in either direction get
 * 503 rather than degrading the calls already up.
 */
import { performance } from 'node:perf_hooks';
import Srf from 'drachtio-srf';
import type { Logger } from '../../core/logger.js';
import type {
  CallControl,
  CallLeg,
  InboundCall,
  OptionsProbeResult,
  OriginateRequest,
  OriginateResult,
  TransferRequest,
  TransferResult,
} from '../call-control.js';
import type { IncomingRegister, OutgoingRegister, OutgoingRegisterResult, RegisterAnswer, Registrations } from '../registration/port.js';
import { CallSession } from './call-session.js';
import { defaultInboundSteps, firstRejection, type InboundStep } from './inbound-steps.js';
import { InboundLeg, OutboundLeg, SipLeg, causeForStatus } from './legs.js';
import { RegisterParseError, parseRegister, parseRegisterResponse } from './register-message.js';

export interface DrachtioCallControlOptions {
  host: string;
  port: number;
  secret: string;
  maxConcurrentCalls: number;
  logger: Logger;
  inboundSteps?: readonly InboundStep[];
  connectTimeoutMs?: number;
  /** How long a blind transfer waits for the transferee's final NOTIFY. */
  transferTimeoutMs?: number;
}

/** What drachtio-srf's request() gives back, typed for the parts used here. */
interface SentRequest {
  on(event: 'response', listener: (res: Srf.SrfResponse) => void): void;
}
type RequestFn = (
  uri: string,
  opts: { method: string; headers?: Record<string, string>; body?: string; auth?: { username: string; password: string } },
  callback: (err: unknown, req: SentRequest) => void,
) => void;

type FailedOutcome = Exclude<OriginateResult, { outcome: 'answered' }>['outcome'];

export class DrachtioCallControl implements CallControl, Registrations {
  private readonly sessions = new Set<CallSession>();
  private inboundHandler: ((call: InboundCall) => void | Promise<void>) | undefined;
  private registerHandler: ((request: IncomingRegister) => RegisterAnswer | Promise<RegisterAnswer>) | undefined;
  private closing = false;
  private maxConcurrentCalls: number;
  private readonly steps: readonly InboundStep[];

  private constructor(
    private readonly srf: Srf,
    private readonly options: DrachtioCallControlOptions,
    /** The server's SIP address, from the authenticate answer (`udp/10.0.0.1:5060`). */
    readonly sipAddress: { address: string; port: number },
  ) {
    this.steps = options.inboundSteps ?? defaultInboundSteps;
    this.maxConcurrentCalls = options.maxConcurrentCalls;
    srf.invite((req, res) => void this.onInvite(req, res));
    srf.use('options', (req, res) => {
      const busy = this.closing || this.sessions.size >= this.maxConcurrentCalls;
      res.send(busy ? 503 : 200);
    });
  }

  /** REGISTERs from phones reach `handler`; until one is set the server answers them 503 (no route). */
  onRegister(handler: (request: IncomingRegister) => RegisterAnswer | Promise<RegisterAnswer>): void {
    const first = this.registerHandler === undefined;
    this.registerHandler = handler;
    if (first) this.srf.use('register', (req, res) => void this.onRegisterRequest(req, res));
  }

  async register(request: OutgoingRegister): Promise<OutgoingRegisterResult> {
    const send = this.srf.request.bind(this.srf) as unknown as RequestFn;
    const host = /^sips?:(?:[^@]*@)?(.*)$/i.exec(request.uri)?.[1] ?? request.uri;
    return new Promise<OutgoingRegisterResult>((resolve) => {
      let settled = false;
      const settle = (result: OutgoingRegisterResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(
        () => settle({ ok: false, sipStatus: undefined, reason: `no answer from ${host} within ${request.timeoutMs} ms`, cseq: request.cseq }),
        request.timeoutMs,
      );
      timer.unref();
      send(
        request.uri,
        {
          method: 'REGISTER',
          headers: {
            From: `<${request.aor}>`,
            To: `<${request.aor}>`,
            // drachtio-server's convention: "localhost" stands for its own SIP address.
            Contact: `<sip:${request.contactUser}@localhost>`,
            Expires: String(request.expiresSeconds),
            // Lower case, as drachtio-srf's digest client writes it on the challenged retry (one header, not two).
            'call-id': request.callId,
            CSeq: `${request.cseq} REGISTER`,
          },
          auth: request.auth,
        },
        (error, sent) => {
          if (error) {
            settle({ ok: false, sipStatus: undefined, reason: `REGISTER not sent: ${(error as Error).message ?? String(error)}`, cseq: request.cseq });
            return;
          }
          sent.on('response', (res) => {
            if (res.status < 200) return;
            settle(parseRegisterResponse(res, request));
          });
        },
      );
    });
  }

  static async connect(options: DrachtioCallControlOptions): Promise<DrachtioCallControl> {
    const srf = new Srf();
    const log = options.logger;
    // drachtio-srf re-emits socket errors; without a listener Node would throw them.
    srf.on('error', (error) => log.warn({ err: error }, 'drachtio connection error'));
    const hostport = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        stopReconnecting(srf, log);
        reject(new Error(`no drachtio-server answered at ${options.host}:${options.port} within ${options.connectTimeoutMs ?? 10_000} ms`));
      }, options.connectTimeoutMs ?? 10_000);
      srf.on('connect', (error, hostPort) => {
        clearTimeout(timer);
        if (error) {
          stopReconnecting(srf, log);
          reject(error);
        }
        else resolve(hostPort);
      });
      // Typed as a Promise, but drachtio-srf's connect() returns nothing: the 'connect' event answers.
      void srf.connect({ host: options.host, port: options.port, secret: options.secret });
    });
    log.info({ drachtio: `${options.host}:${options.port}`, sip: hostport }, 'connected to drachtio-server');
    return new DrachtioCallControl(srf, options, parseHostport(hostport));
  }

  get activeCalls(): number {
    return this.sessions.size;
  }

  get capacity(): number {
    return this.maxConcurrentCalls;
  }

  /** Changes the capacity limit at run time (draining a node before maintenance, load tests). */
  setMaxConcurrentCalls(limit: number): void {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError('maxConcurrentCalls must be a non-negative integer');
    this.maxConcurrentCalls = limit;
  }

  onInboundCall(handler: (call: InboundCall) => void | Promise<void>): void {
    this.inboundHandler = handler;
  }

  async originate(request: OriginateRequest): Promise<OriginateResult> {
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    const parent = request.partOf ? asSipLeg(request.partOf) : undefined;
    if (parent && (parent.state === 'ended' || !parent.session || parent.session.isClosed)) {
      return { outcome: 'cancelled', sipStatus: undefined, reason: 'the call this leg was for has ended', setupMs: 0 };
    }
    if (this.closing || (!parent && this.sessions.size >= this.maxConcurrentCalls)) {
      return { outcome: 'failed', sipStatus: 503, reason: this.closing ? 'shutting down' : 'over capacity', setupMs: 0 };
    }
    if (request.signal?.aborted) return { outcome: 'cancelled', sipStatus: undefined, reason: 'aborted before dialling', setupMs: 0 };
    const leg = new OutboundLeg(request.callerId, request.uri);
    const session = parent?.session ?? this.newSession();
    session.own(leg);
    let provisional = false;
    // A CANCEL may only follow a provisional response; a peer that never answered at all gets no
    // CANCEL and we stop waiting for it at once (the INVITE transaction dies on its own timer).
    let giveUp: () => void = () => {};
    const silentPeer = new Promise<'silent'>((resolve) => (giveUp = () => resolve('silent')));
    leg.onCancelRequested = () => {
      if (!provisional) giveUp();
    };
    const ringTimer = setTimeout(() => leg.cancel('ring-timeout'), request.ringTimeoutMs);
    const onAbort = (): void => leg.cancel('caller');
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const uac = this.srf.createUAC(
      request.uri,
      {
        localSdp: request.sdp,
        headers: { From: `<sip:${request.callerId}@localhost>`, ...request.headers },
        ...(request.auth ? { auth: request.auth } : {}),
      },
      {
        // drachtio-srf calls this as (err, req) although its typings say (req).
        cbRequest: ((error: unknown, req: Srf.SrfRequest | undefined) => {
          if (error || !req) return;
          leg.request = req;
          leg.sipCallId = req.get('Call-ID');
        }) as unknown as (req: Srf.SrfRequest) => void,
        cbProvisional: (res) => {
          provisional = true;
          leg.provisional = true;
          // A cancel asked for before this first provisional goes out now.
          if (leg.cancelledBy && !leg.cancelSent) {
            leg.cancelSent = true;
            leg.request?.cancel(() => {});
          }
          if (res.status === 180 || res.status === 183) {
            const ringing = { type: 'ringing', legId: leg.id, at: new Date(), sipStatus: res.status } as const;
            leg.emit(ringing);
            try {
              request.onProgress?.(ringing);
            } catch (error) {
              session.log.warn({ err: error }, 'onProgress listener failed');
            }
          }
        },
      },
    );
    try {
      const first = await Promise.race([uac, silentPeer]);
      if (first === 'silent') {
        // Should the peer wake up and answer after all, that call is ended at once.
        uac.then((late) => late.destroy(), () => undefined).catch(() => undefined);
        const outcome = leg.cancelledBy === 'caller' ? 'cancelled' : 'failed';
        leg.markEnded(outcome, 'local');
        return { outcome, sipStatus: undefined, reason: 'no response from the peer', setupMs: elapsed() };
      }
      leg.attachDialog(first, request.sdp);
      if (leg.cancelledBy) {
        // The 200 crossed our CANCEL: the call exists now, so end it with a BYE.
        await leg.hangup();
        return { outcome: leg.cancelledBy === 'ring-timeout' ? 'no-answer' : 'cancelled', sipStatus: 200, reason: 'answered as we cancelled', setupMs: elapsed() };
      }
      return { outcome: 'answered', leg, setupMs: elapsed() };
    } catch (error) {
      const status = isSipError(error) ? error.status : undefined;
      const reason = isSipError(error) ? (error.reason ?? `SIP ${error.status}`) : String((error as Error).message ?? error);
      const outcome = failedOutcome(status, provisional, leg.cancelledBy);
      leg.markEnded(outcome, 'remote', status);
      return { outcome, sipStatus: status, reason, setupMs: elapsed() };
    } finally {
      clearTimeout(ringTimer);
      request.signal?.removeEventListener('abort', onAbort);
    }
  }

  async bridge(a: CallLeg, b: CallLeg): Promise<void> {
    const left = asSipLeg(a);
    const right = asSipLeg(b);
    if (left.state !== 'answered' || right.state !== 'answered') throw new Error('bridge needs two answered legs');
    const session = left.session ?? this.newSession();
    if (right.session) session.absorb(right.session);
    session.own(left);
    session.own(right);
    session.markBridged();
    // Each side is re-INVITEd with the other's SDP; a side that already has it is left alone.
    await Promise.all([
      right.remoteSdp ? left.updateLocalSdp(right.remoteSdp) : Promise.resolve(),
      left.remoteSdp ? right.updateLocalSdp(left.remoteSdp) : Promise.resolve(),
    ]);
  }

  async transfer(leg: CallLeg, request: TransferRequest): Promise<TransferResult> {
    const sipLeg = asSipLeg(leg);
    if (sipLeg.state !== 'answered' || !sipLeg.dialog) return { ok: false, sipStatus: undefined, reason: 'leg is not answered' };
    if (request.mode === 'blind') return this.blindTransfer(sipLeg, request.to, request.timeoutMs ?? this.options.transferTimeoutMs ?? 30_000);
    // The target is dialled as part of this call: no second call against capacity, and it goes if the caller does.
    const target = await this.originate({ uri: request.to, callerId: request.callerId, sdp: sipLeg.remoteSdp ?? '', ringTimeoutMs: request.ringTimeoutMs, partOf: sipLeg });
    if (target.outcome !== 'answered') return { ok: false, sipStatus: target.sipStatus, reason: `${request.to}: ${target.outcome} (${target.reason})` };
    // The leg we transfer leaves its old partners (the agent) and joins the target.
    const session = sipLeg.session;
    if (session) await session.releaseOthers([sipLeg, asSipLeg(target.leg)]);
    await this.bridge(sipLeg, target.leg);
    sipLeg.emit({ type: 'transferred', legId: sipLeg.id, at: new Date(), to: request.to, mode: 'attended' });
    return { ok: true, mode: 'attended' };
  }

  async probe(uri: string, timeoutMs: number): Promise<OptionsProbeResult> {
    const started = performance.now();
    const rtt = (): number => Math.round(performance.now() - started);
    const request = this.srf.request.bind(this.srf) as unknown as RequestFn;
    return new Promise<OptionsProbeResult>((resolve) => {
      const timer = setTimeout(() => resolve({ reachable: false, sipStatus: undefined, rttMs: rtt() }), timeoutMs);
      request(uri, { method: 'OPTIONS', headers: { From: '<sip:probe@localhost>' } }, (error, sent) => {
        if (error) {
          clearTimeout(timer);
          resolve({ reachable: false, sipStatus: undefined, rttMs: rtt() });
          return;
        }
        sent.on('response', (res) => {
          clearTimeout(timer);
          // Any answer but "overloaded" or "timed out" means the peer is there and handling SIP.
          resolve({ reachable: res.status < 500 && res.status !== 408, sipStatus: res.status, rttMs: rtt() });
        });
      });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.sessions].map((session) => session.destroy()));
    this.srf.disconnect();
  }

  private newSession(): CallSession {
    const session = new CallSession(this.options.logger, (closed) => this.sessions.delete(closed));
    this.sessions.add(session);
    return session;
  }

  private async onInvite(req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    const rejection = firstRejection(this.steps, req, {
      activeCalls: this.sessions.size,
      maxConcurrentCalls: this.maxConcurrentCalls,
      closing: this.closing,
      hasHandler: this.inboundHandler !== undefined,
    });
    if (rejection) {
      res.send(rejection.status, { headers: { 'X-Reason': rejection.reason, ...rejection.headers } });
      return;
    }
    const leg = new InboundLeg(this.srf, req, res);
    const session = this.newSession();
    session.own(leg);
    try {
      await this.inboundHandler!(leg);
    } catch (error) {
      session.log.error({ err: error, sipCallId: leg.sipCallId }, 'inbound call handler failed');
      if (leg.state === 'ringing') await leg.reject(500, 'inbound call handler failed');
      else await session.destroy();
    }
  }

  private async onRegisterRequest(req: Srf.SrfRequest, res: Srf.SrfResponse): Promise<void> {
    const handler = this.registerHandler;
    let answer: RegisterAnswer;
    try {
      const request = parseRegister(req);
      answer = handler ? await handler(request) : { status: 503, reason: 'Service Unavailable', headers: { 'X-Reason': 'no registrar' } };
    } catch (error) {
      if (error instanceof RegisterParseError) {
        answer = { status: 400, reason: 'Bad Request', headers: { 'X-Reason': error.message } };
      } else {
        // The registrar could not decide (its store is down): the phone retries, nothing is lost.
        this.options.logger.warn({ err: error }, 'REGISTER could not be handled');
        answer = { status: 503, reason: 'Service Unavailable', headers: { 'Retry-After': '5', 'X-Reason': 'registrar unavailable' } };
      }
    }
    try {
      res.send(answer.status, answer.reason, { headers: answer.headers ?? {} });
    } catch (error) {
      this.options.logger.warn({ err: error }, 'REGISTER answer could not be sent');
    }
  }

  private async blindTransfer(leg: SipLeg, to: string, timeoutMs: number): Promise<TransferResult> {
    const dialog = leg.dialog!;
    const outcome = new Promise<TransferResult>((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, sipStatus: 408, reason: `no final NOTIFY within ${timeoutMs} ms` }), timeoutMs);
      dialog.on('notify', (req, res) => {
        res.send(200);
        // The transferee reports the new call's progress as a message/sipfrag status line.
        const status = Number(/^SIP\/2\.0\s+(\d{3})/.exec(req.body ?? '')?.[1] ?? 0);
        if (status >= 200) {
          clearTimeout(timer);
          resolve(status < 300 ? { ok: true, mode: 'blind' } : { ok: false, sipStatus: status, reason: `transfer target answered ${status}` });
        }
      });
      dialog.on('destroy', () => {
        clearTimeout(timer);
        resolve({ ok: false, sipStatus: undefined, reason: 'transferee hung up before reporting the outcome' });
      });
    });
    const referred = await dialog.request({
      method: 'REFER',
      headers: { 'Refer-To': `<${to}>`, 'Referred-By': `<${dialog.local.uri}>` },
    } as unknown as Srf.SrfRequest);
    if (referred.status < 200 || referred.status >= 300) {
      return { ok: false, sipStatus: referred.status, reason: `REFER answered ${referred.status} ${referred.reason}` };
    }
    const result = await outcome;
    if (result.ok) {
      leg.emit({ type: 'transferred', legId: leg.id, at: new Date(), to, mode: 'blind' });
      await leg.hangup('transferred');
    }
    return result;
  }
}

/** Ends drachtio-srf's connection and its reconnect loop; it throws when the socket is already gone. */
function stopReconnecting(srf: Srf, log: Logger): void {
  try {
    srf.disconnect();
  } catch (error) {
    log.debug({ err: error }, 'drachtio connection already closed');
  }
}

/** drachtio-srf rejects with a SipError for a final non-2xx (its typings do not export the class). */
function isSipError(error: unknown): error is { status: number; reason?: string } {
  return error instanceof Error && error.name === 'SipError' && typeof (error as { status?: unknown }).status === 'number';
}

function asSipLeg(leg: CallLeg): SipLeg {
  if (!(leg instanceof SipLeg)) throw new Error('this leg does not belong to the drachtio adapter');
  return leg;
}

function failedOutcome(status: number | undefined, provisional: boolean, cancelledBy: OutboundLeg['cancelledBy']): FailedOutcome {
  if (cancelledBy === 'ring-timeout') return 'no-answer';
  if (cancelledBy === 'caller') return 'cancelled';
  if (status === undefined) return 'failed';
  // drachtio-server reports "no response at all" as a 408 it made up; without a provisional it is a dead peer.
  if (status === 408 && !provisional) return 'failed';
  const cause = causeForStatus(status);
  return cause === 'normal' || cause === 'transferred' || cause === 'abandoned' ? 'failed' : cause;
}

export function parseHostport(hostport: string): { address: string; port: number } {
  const first = hostport.split(',')[0] ?? '';
  const match = /(?:^|\/)(\[[^\]]+\]|[^/:]+):(\d+)$/.exec(first.trim());
  if (!match) throw new Error(`unexpected drachtio hostport "${hostport}"`);
  return { address: match[1]!, port: Number(match[2]) };
}
