// Provider facts: what a REST CRM's API is like (base URL, auth, rate-limit
// signals, pagination, batching), as data validated when the connector is
// registered, so a wrong fact fails at boot and not on the first call.
import { z } from 'zod';

const authSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('none') }),
  /** Authorization: Bearer <config[configKey]> */
  z.object({ mode: z.literal('bearer'), configKey: z.string().min(1) }),
  /** <header>: <config[configKey]> */
  z.object({ mode: z.literal('header'), header: z.string().min(1), configKey: z.string().min(1) }),
  /** ?<param>=<config[configKey]> */
  z.object({ mode: z.literal('query'), param: z.string().min(1), configKey: z.string().min(1) }),
  /** The secret is part of the base URL (e.g. an inbound-webhook URL); nothing to add per request. */
  z.object({ mode: z.literal('url') }),
]);

export const providerFactsSchema = z.object({
  /** Default base URL; connectors whose URL is per customer take it from their config. */
  baseUrl: z.url().optional(),
  auth: authSchema,
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  rateLimit: z
    .object({
      /** Statuses that mean "slow down". */
      throttleStatuses: z.array(z.number().int().min(400).max(599)).default([429]),
      /** Error codes in the body that mean "slow down" even on other statuses (e.g. QUERY_LIMIT_EXCEEDED). */
      throttleErrorCodes: z.array(z.string()).default([]),
      retryAfterHeader: z.string().default('retry-after'),
      /** Headers announcing the window; absent when the CRM does not send them. */
      limitHeader: z.string().optional(),
      remainingHeader: z.string().optional(),
      /** Milliseconds until the window resets, or seconds, per `resetUnit`. */
      resetHeader: z.string().optional(),
      resetUnit: z.enum(['seconds', 'milliseconds']).default('seconds'),
    })
    .prefault({}),
  errors: z
    .object({
      /** Dotted path to the CRM's error code in a JSON error body. */
      codePath: z.string().default('error'),
      /** Dotted path to its human message. */
      messagePath: z.string().default('message'),
    })
    .prefault({}),
  pagination: z
    .discriminatedUnion('style', [
      z.object({ style: z.literal('offset'), param: z.string(), pageSize: z.number().int().min(1) }),
      z.object({ style: z.literal('cursor'), param: z.string(), nextPath: z.string() }),
    ])
    .optional(),
  /** The CRM's batch method carries up to this many calls in one request. */
  batch: z.object({ maxCalls: z.number().int().min(2).max(1000) }).optional(),
});

export type ProviderFactsInput = z.input<typeof providerFactsSchema>;
export type ProviderFacts = z.output<typeof providerFactsSchema>;

export function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
