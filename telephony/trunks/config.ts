/**
 * SIP trunks of a project as data, validated with zod before anything dials.
 *
 * A `carrier` trunk reaches the public network through dial-prefix routes, each with its price
 * and billing increment. A `pbx` trunk is the office PBX behind an FXO/VoIP gateway: agents
 * transfer calls to its extensions, and its health decides whether a transfer is tried at all.
 */
import { z } from 'zod';
import { billingIncrementSchema, formatBillingIncrement, formatMicros, priceSchema } from '../cdr/billing.js';

const routeSchema = z.object({
  /** Digits the dialed number (E.164 without "+") starts with; "" is the default route. */
  prefix: z.string().regex(/^\d*$/, 'digits only, without "+" ("" matches every number)'),
  pricePerMinute: priceSchema,
  billingIncrement: billingIncrementSchema.prefault('60/60'),
  /** Digits removed from the front of the number before it is sent to this carrier. */
  strip: z.number().int().min(0).max(15).default(0),
  /** Digits (or a technical prefix) put in front after stripping. */
  prepend: z.string().regex(/^[0-9#*+]*$/).default(''),
});

const authSchema = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('registration'),
    username: z.string().min(1),
    password: z.string().min(1),
    /** Registration time asked of the carrier; the hub refreshes before the granted time runs out. */
    expiresSeconds: z.number().int().min(1).max(86_400).default(300),
    /** Back-off after a failed REGISTER: from `retryMinMs`, doubling, at most `retryMaxMs`. */
    retryMinMs: z.number().int().min(100).max(3_600_000).default(5_000),
    retryMaxMs: z.number().int().min(100).max(3_600_000).default(300_000),
  }),
  /** The carrier recognises our source address; nothing to send. */
  z.object({ mode: z.literal('ip') }),
]);

const healthSchema = z
  .object({
    /** Consecutive failures (5xx, 408, no response) that mark the trunk down. */
    failuresBeforeDown: z.number().int().min(1).max(100).default(3),
    probeIntervalMs: z.number().int().min(100).max(3_600_000).default(30_000),
    probeTimeoutMs: z.number().int().min(50).max(60_000).default(2_000),
    /**
     * Probe while up too, so a dead gateway is known before the next call or transfer.
     * Defaults to true for `pbx` (a gateway that lost power says nothing) and false for
     * carriers (many do not answer OPTIONS while they carry calls fine).
     */
    probeWhileUp: z.boolean().optional(),
  })
  .prefault({});

export const trunkConfigSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and "-"'),
    kind: z.enum(['carrier', 'pbx']),
    /** host[:port] of the carrier's SBC or the PBX gateway. */
    host: z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'expected host or host:port'),
    transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
    auth: authSchema,
    /** Lower goes first among routes with the same prefix length. */
    priority: z.number().int().min(0).max(1000).default(100),
    currency: z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 code, e.g. "EUR"').default('USD'),
    routes: z.array(routeSchema).default([]),
    health: healthSchema,
  })
  .superRefine((trunk, ctx) => {
    if (trunk.kind === 'carrier' && trunk.routes.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['routes'], message: 'a carrier trunk needs at least one route' });
    }
    if (trunk.auth.mode === 'registration' && trunk.auth.retryMaxMs < trunk.auth.retryMinMs) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'retryMaxMs'], message: 'must not be less than retryMinMs' });
    }
    const seen = new Set<string>();
    trunk.routes.forEach((route, index) => {
      if (seen.has(route.prefix)) {
        ctx.addIssue({ code: 'custom', path: ['routes', index, 'prefix'], message: `prefix "${route.prefix}" appears twice` });
      }
      seen.add(route.prefix);
    });
  })
  .transform((trunk) => ({
    ...trunk,
    health: { ...trunk.health, probeWhileUp: trunk.health.probeWhileUp ?? trunk.kind === 'pbx' },
  }));

export type TrunkConfigInput = z.input<typeof trunkConfigSchema>;
export type TrunkConfig = z.output<typeof trunkConfigSchema>;
export type TrunkRoute = TrunkConfig['routes'][number];

export const trunkSetSchema = z.array(trunkConfigSchema).superRefine((trunks, ctx) => {
  const names = new Set<string>();
  trunks.forEach((trunk, index) => {
    if (names.has(trunk.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `trunk "${trunk.name}" appears twice` });
    names.add(trunk.name);
  });
});

/** Request-URI for a number or extension through this trunk; without a user, the trunk itself (OPTIONS). */
export function trunkUri(trunk: TrunkConfig, user?: string): string {
  const transport = trunk.transport === 'udp' ? '' : `;transport=${trunk.transport}`;
  return `sip:${user === undefined ? '' : `${user}@`}${trunk.host}${transport}`;
}

/** The address of record a registration trunk registers: `sip:<username>@<host without port>`. */
export function trunkAor(trunk: TrunkConfig & { auth: { mode: 'registration' } }): string {
  return `sip:${trunk.auth.username}@${trunk.host.replace(/:\d+$/, '')}`;
}

/** Back to the input form (prices and increments as text): what is stored and shown. */
export function toTrunkInput(trunk: TrunkConfig): TrunkConfigInput {
  return {
    ...trunk,
    routes: trunk.routes.map((route) => ({
      ...route,
      pricePerMinute: formatMicros(route.pricePerMinute),
      billingIncrement: formatBillingIncrement(route.billingIncrement),
    })),
  };
}
