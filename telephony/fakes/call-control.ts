/**
 * TEST DOUBLE - not a SIP stack. A scripted in-memory CallControl for unit tests of the
 * telephony domain (trunks, ACD, IVR). It follows the port's contract (telephony/call-control.ts):
 * originate resolves once with a final outcome, honours ringTimeoutMs and the abort signal (CANCEL ->
 * 'cancelled'), legs emit 'answered' / 'ended' events, hangup() ends a leg locally. Real SIP
 * behaviour (retransmissions, timers, REFER) is exercised by the adapter's suites against the
 * drachtio stand-in and SIPp; this double only lets the domain logic be driven deterministically.
 */
import type {
  CallControl, CallEvent, CallLeg, HangupCause, InboundCall, OptionsProbeResult, OriginateRequest, OriginateResult,
  TransferRequest, TransferResult,
} from '../call-control.js';

/** What the far end does with an INVITE. */
export type FarEnd =
  | { kind: 'answer'; afterMs?: number }
  | { kind: 'reject'; sipStatus: number; reason?: string; afterMs?: number }
  /** Rings (180) until our ring timeout: 'no-answer' without a status. */
  | { kind: 'ring' }
  /** Never answers at all, not even 100 Trying: 'failed' without a status once the ring timeout passes. */
  | { kind: 'silent' };

type Matcher = string | RegExp | ((uri: string) => boolean);

export interface Origination {
  request: OriginateRequest;
  at: Date;
  result: OriginateResult | undefined;
}

let legCounter = 0;

export class FakeLeg implements CallLeg {
  readonly id: string;
  readonly sipCallId: string;
  state: 'ringing' | 'answered' | 'ended' = 'ringing';
  remoteSdp: string | undefined = 'v=0 fake';
  private readonly listeners = new Set<(event: CallEvent) => void>();

  constructor(
    readonly direction: 'inbound' | 'outbound',
    readonly from: string,
    readonly to: string,
    private readonly now: () => Date,
  ) {
    legCounter += 1;
    this.id = `fake-leg-${legCounter}`;
    this.sipCallId = `fake-call-${legCounter}@test`;
  }

  on(listener: (event: CallEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async hangup(): Promise<void> {
    this.end('normal', 'local');
  }

  /** The far end hangs up. */
  remoteHangup(cause: HangupCause = 'normal', sipStatus?: number): void {
    this.end(cause, 'remote', sipStatus);
  }

  markAnswered(): void {
    if (this.state !== 'ringing') return;
    this.state = 'answered';
    this.emit({ type: 'answered', legId: this.id, at: this.now() });
  }

  emitDigit(digit: string): void {
    this.emit({ type: 'digit', legId: this.id, at: this.now(), digit, source: 'rfc2833' });
  }

  end(cause: HangupCause, by: 'local' | 'remote', sipStatus?: number): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.emit({ type: 'ended', legId: this.id, at: this.now(), cause, sipStatus, by });
  }

  emit(event: CallEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}

export class FakeInboundCall extends FakeLeg implements InboundCall {
  readonly headers: Readonly<Record<string, string>> = {};
  rejected: { sipStatus: number; reason: string } | undefined;
  /** How many times the caller was told the call is ringing (180/183). */
  ringsSent = 0;

  async ring(): Promise<void> {
    this.ringsSent += 1;
  }

  async answer(): Promise<void> {
    this.markAnswered();
  }

  async reject(sipStatus: number, reason: string): Promise<void> {
    this.rejected = { sipStatus, reason };
    this.end('rejected', 'local', sipStatus);
  }
}

export class FakeCallControl implements CallControl {
  readonly originations: Origination[] = [];
  readonly bridges: [CallLeg, CallLeg][] = [];
  readonly transfers: { leg: CallLeg; request: TransferRequest; result: TransferResult }[] = [];
  readonly probes: { uri: string; at: Date }[] = [];
  /** Called synchronously when an INVITE goes out: tests check invariants at that instant. */
  onOriginate: ((request: OriginateRequest) => void) | undefined;

  private readonly scripts: { matcher: Matcher; plan: FarEnd[] }[] = [];
  private readonly probeAnswers: { matcher: Matcher; result: OptionsProbeResult }[] = [];
  private readonly transferAnswers: { matcher: Matcher; result: TransferResult }[] = [];
  private inboundHandler: ((call: InboundCall) => void | Promise<void>) | undefined;

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Far-end behaviour for matching URIs; a list is used one entry per INVITE, the last one repeating. */
  script(matcher: Matcher, plan: FarEnd | FarEnd[]): this {
    this.scripts.unshift({ matcher, plan: Array.isArray(plan) ? [...plan] : [plan] });
    return this;
  }

  scriptProbe(matcher: Matcher, result: OptionsProbeResult): this {
    this.probeAnswers.unshift({ matcher, result });
    return this;
  }

  scriptTransfer(matcher: Matcher, result: TransferResult): this {
    this.transferAnswers.unshift({ matcher, result });
    return this;
  }

  originatedTo(matcher: Matcher): Origination[] {
    return this.originations.filter((origination) => matches(matcher, origination.request.uri));
  }

  async originate(request: OriginateRequest): Promise<OriginateResult> {
    const record: Origination = { request, at: this.now(), result: undefined };
    this.originations.push(record);
    this.onOriginate?.(request);
    const result = await this.farEnd(request, this.nextPlan(request.uri));
    record.result = result;
    return result;
  }

  onInboundCall(handler: (call: InboundCall) => void | Promise<void>): void {
    this.inboundHandler = handler;
  }

  /** A call arrives from outside. */
  async receiveCall(from: string, to: string): Promise<FakeInboundCall> {
    const call = new FakeInboundCall('inbound', from, to, this.now);
    await this.inboundHandler?.(call);
    return call;
  }

  async bridge(a: CallLeg, b: CallLeg): Promise<void> {
    if (a.state !== 'answered' || b.state !== 'answered') throw new Error(`bridge needs two answered legs (${a.state}, ${b.state})`);
    this.bridges.push([a, b]);
  }

  async transfer(leg: CallLeg, request: TransferRequest): Promise<TransferResult> {
    const scripted = this.transferAnswers.find((entry) => matches(entry.matcher, request.to));
    const result: TransferResult = scripted?.result ?? { ok: true, mode: request.mode };
    this.transfers.push({ leg, request, result });
    if (result.ok && leg instanceof FakeLeg) {
      leg.emit({ type: 'transferred', legId: leg.id, at: this.now(), to: request.to, mode: request.mode });
      if (request.mode === 'blind') leg.end('transferred', 'local');
    }
    return result;
  }

  async probe(uri: string): Promise<OptionsProbeResult> {
    this.probes.push({ uri, at: this.now() });
    return this.probeAnswers.find((entry) => matches(entry.matcher, uri))?.result ?? { reachable: true, sipStatus: 200, rttMs: 1 };
  }

  async close(): Promise<void> {}

  private nextPlan(uri: string): FarEnd {
    const script = this.scripts.find((entry) => matches(entry.matcher, uri));
    if (script === undefined) return { kind: 'reject', sipStatus: 404, reason: `no script for ${uri}` };
    return script.plan.length > 1 ? (script.plan.shift() as FarEnd) : (script.plan[0] as FarEnd);
  }

  private farEnd(request: OriginateRequest, plan: FarEnd): Promise<OriginateResult> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    return new Promise((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      const finish = (result: OriginateResult) => {
        timers.forEach(clearTimeout);
        request.signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onAbort = () => finish({ outcome: 'cancelled', sipStatus: 487, reason: 'Request Terminated', setupMs: elapsed() });
      if (request.signal?.aborted) {
        onAbort();
        return;
      }
      request.signal?.addEventListener('abort', onAbort, { once: true });
      const after = (ms: number, action: () => void) => timers.push(setTimeout(action, ms));
      const ringTimeout = () => {
        if (plan.kind === 'silent') finish({ outcome: 'failed', sipStatus: undefined, reason: 'no response', setupMs: elapsed() });
        else finish({ outcome: 'no-answer', sipStatus: undefined, reason: 'ring timeout', setupMs: elapsed() });
      };
      switch (plan.kind) {
        case 'answer':
          if ((plan.afterMs ?? 0) >= request.ringTimeoutMs) break;
          after(plan.afterMs ?? 0, () => {
            const leg = new FakeLeg('outbound', request.callerId, request.uri, this.now);
            leg.markAnswered();
            finish({ outcome: 'answered', leg, setupMs: elapsed() });
          });
          break;
        case 'reject':
          if ((plan.afterMs ?? 0) >= request.ringTimeoutMs) break;
          after(plan.afterMs ?? 0, () =>
            finish({ outcome: outcomeOf(plan.sipStatus), sipStatus: plan.sipStatus, reason: plan.reason ?? `status ${plan.sipStatus}`, setupMs: elapsed() }),
          );
          break;
        case 'ring':
        case 'silent':
          break;
      }
      after(request.ringTimeoutMs, ringTimeout);
    });
  }
}

/** The port's mapping of final statuses to causes (call-control.ts). */
function outcomeOf(status: number): Exclude<OriginateResult['outcome'], 'answered'> {
  if (status === 486 || status === 600) return 'busy';
  if (status === 480 || status === 408) return 'no-answer';
  if (status >= 500 && status <= 599) return 'failed';
  return 'rejected';
}

function matches(matcher: Matcher, uri: string): boolean {
  if (typeof matcher === 'string') return uri.includes(matcher);
  if (matcher instanceof RegExp) return matcher.test(uri);
  return matcher(uri);
}
