// Configuration of one Bitrix24 connector instance: the portal's inbound webhook
// (its URL carries the secret), how hub fields map onto the portal's fields, and
// the rate limit to declare.
import { z } from 'zod';
import { isPhoneRegion } from '../../core/phone.js';
import type { DeclaredLimits } from '../sdk/limits/types.js';
import { responsibleAgentsSchema } from '../sdk/responsible-agents.js';

/** `/rest/<user id>/<secret code>/` - how Bitrix24 prints an inbound webhook. */
const webhookPath = /\/rest\/(\d+)\/([A-Za-z0-9_-]+)\/?$/;

// Fields the connector writes itself; mapping a hub field onto them would fight it.
const reservedFields = new Set(['ID', 'PHONE', 'EMAIL', 'NAME', 'SECOND_NAME', 'LAST_NAME', 'ORIGINATOR_ID', 'ORIGIN_ID']);

const bitrixFieldName = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]*$/, 'must be a Bitrix24 field name such as UF_CRM_1720697698689 or ADDRESS')
  .refine((name) => !reservedFields.has(name), 'is written by the connector itself and cannot be mapped');

/** Documented request-intensity limits (leaky bucket: drain per second, bucket size). */
export const planLimits = {
  standard: { ratePerSecond: 2, burst: 50 },
  enterprise: { ratePerSecond: 5, burst: 250 },
} as const;

export const bitrix24ConfigSchema = z.object({
  /**
   * Inbound webhook, e.g. https://acme.bitrix24.ru/rest/1/abc123def456/. Real portals
   * require HTTPS; plain HTTP is accepted for the sandbox and on-premise test installs.
   */
  webhookUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .refine((value) => webhookPath.test(new URL(value).pathname), 'must be an inbound-webhook URL ending with /rest/<user id>/<token>/')
    .transform((value) => (value.endsWith('/') ? value : `${value}/`)),
  /** The outbound webhook's application token; events without it are refused. */
  applicationToken: z.string().min(8).optional(),
  /** Region for reading the national phone formats the portal stores ("8 (912) 345-67-89"). */
  phoneRegion: z
    .string()
    .refine((value) => isPhoneRegion(value), 'must be a region code with phone metadata, e.g. RU')
    .default('RU'),
  /**
   * Hub field name -> portal field, e.g. { applicationNumber: "UF_CRM_1720697698689",
   * hubTaskId: "UF_CRM_1720697712345", address: "ADDRESS" }. Unmapped hub fields are not written.
   */
  fieldMap: z.record(z.string().min(1), bitrixFieldName).default({}),
  /** Hub status -> deal STAGE_ID (e.g. { approved: "WON", rejected: "LOSE", review: "C2:PREPARATION" }); unmapped statuses are sent as they are. */
  dealStages: z.record(z.string().min(1), z.string().regex(/^[A-Z0-9_:]+$/, 'must be a STAGE_ID such as WON or C2:NEW')).default({}),
  /**
   * Portal user id -> the hub's agent id, e.g. { "17": "alice", "23": "bob" }. A contact's
   * responsible user (ASSIGNED_BY_ID) is read as its `responsibleAgent` - the agent who gets
   * its inbound calls and callbacks first - and a `responsibleAgent` the hub writes is sent as
   * the user mapped to it. Users not listed are nobody's agent in the hub; an agent with no
   * user listed is not written (the record keeps its responsible). Empty: ownership is not read.
   */
  responsibleAgents: responsibleAgentsSchema({ test: (key) => /^[1-9]\d*$/.test(key), message: 'must be a Bitrix24 user id such as 17' }),
  /** Who owns the calls the hub logs; defaults to the webhook's user. */
  responsibleUserId: z.number().int().positive().optional(),
  /** ORIGINATOR_ID written on activities, so the hub finds its own records again. */
  originatorId: z.string().min(1).max(50).default('contact-hub'),
  plan: z.enum(['standard', 'enterprise']).default('standard'),
  /**
   * Overrides the plan's documented limit, or 'undeclared' to declare nothing and
   * let adaptive limiting learn the portal's real limit.
   */
  limits: z
    .union([z.object({ ratePerSecond: z.number().positive().max(1000), burst: z.number().int().min(1).max(100_000) }), z.literal('undeclared')])
    .optional(),
}).superRefine((config, context) => {
  // The responsible user is written as ASSIGNED_BY_ID: the field map must not write it too.
  if (Object.keys(config.responsibleAgents).length === 0) return;
  for (const [hubName, portalName] of Object.entries(config.fieldMap)) {
    if (portalName === 'ASSIGNED_BY_ID' || hubName === 'responsibleAgent') {
      context.addIssue({ code: 'custom', path: ['fieldMap', hubName], message: 'responsibleAgents already maps responsibleAgent onto ASSIGNED_BY_ID' });
    }
  }
});

export type Bitrix24Config = z.output<typeof bitrix24ConfigSchema>;
export type Bitrix24ConfigInput = z.input<typeof bitrix24ConfigSchema>;

/** The webhook's user id, parsed from its URL (the schema guarantees it is there). */
export function webhookUserId(config: Bitrix24Config): number {
  return Number(webhookPath.exec(new URL(config.webhookUrl).pathname)?.[1]);
}

/**
 * The leaky bucket as declared limits: the drain rate as requests per window, and
 * the bucket size as the burst (a leaky bucket that drains Y per second and holds X
 * admits what a token bucket of X refilled at Y does).
 */
export function declaredLimits(config: Bitrix24Config): DeclaredLimits {
  if (config.limits === 'undeclared') return {};
  const { ratePerSecond, burst } = config.limits ?? planLimits[config.plan];
  const count = Math.max(1, Math.round(ratePerSecond));
  const requests = { count, windowMs: Math.round((1000 * count) / ratePerSecond) };
  // A bucket smaller than one second's drain adds nothing to even pacing at the rate.
  return burst >= count ? { requests, burst } : { requests };
}
