/**
 * Inbound INVITEs pass these small steps in order before the hub's handler sees them. Each step
 * either lets the call through or names an explicit SIP status and a reason, which goes back to the
 * caller in an X-Reason header, so a rejected call is never a silent drop or a bare 500.
 */
import type Srf from 'drachtio-srf';

export interface InboundRejection {
  status: number;
  reason: string;
  headers?: Record<string, string>;
}

export interface InboundContext {
  activeCalls: number;
  maxConcurrentCalls: number;
  closing: boolean;
  hasHandler: boolean;
}

export type InboundStep = (req: Srf.SrfRequest, context: InboundContext) => InboundRejection | undefined;

export const rejectWhenClosing: InboundStep = (_req, context) =>
  context.closing ? { status: 503, reason: 'shutting down', headers: { 'Retry-After': '5' } } : undefined;

export const rejectOverCapacity: InboundStep = (_req, context) =>
  context.activeCalls >= context.maxConcurrentCalls
    ? { status: 503, reason: `over capacity (${context.maxConcurrentCalls} concurrent calls)`, headers: { 'Retry-After': '1' } }
    : undefined;

export const rejectWithoutHandler: InboundStep = (_req, context) =>
  context.hasHandler ? undefined : { status: 480, reason: 'no inbound call handler registered' };

/** Answering needs the caller's Contact (in-dialog requests go there). */
export const rejectWithoutContact: InboundStep = (req) =>
  req.has('Contact') ? undefined : { status: 400, reason: 'missing Contact header' };

/** A re-INVITE or INVITE with a To tag for a dialog we do not know is not a new call. */
export const rejectUnknownDialog: InboundStep = (req) =>
  req.isNewInvite ? undefined : { status: 481, reason: 'no such dialog' };

export const defaultInboundSteps: readonly InboundStep[] = [
  rejectWhenClosing,
  rejectUnknownDialog,
  rejectOverCapacity,
  rejectWithoutContact,
  rejectWithoutHandler,
];

export function firstRejection(steps: readonly InboundStep[], req: Srf.SrfRequest, context: InboundContext): InboundRejection | undefined {
  for (const step of steps) {
    const rejection = step(req, context);
    if (rejection) return rejection;
  }
  return undefined;
}
