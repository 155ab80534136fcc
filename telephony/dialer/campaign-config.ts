/**
 * What a dialer campaign is, as data (zod): how it dials (mode), through which trunks and with which
 * caller ID, to which ACD queue answered calls go, when it may call (dialing windows in the contact's
 * local time and the project's work schedule), how it retries, and its abandon target.
 * The API (`PUT /v1/campaigns/:name`) and the campaign runtime read campaigns through this schema
 * only, so they can never disagree on what a valid campaign is.
 */
import { z } from 'zod';
import { normalizePhone } from '../../core/phone.js';
import { isTimeZone } from '../../core/time-zone.js';

export const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof weekdays)[number];

const clock = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time of day "HH:MM" (00:00-24:00)')
  .transform((text) => Number(text.slice(0, 2)) * 60 + Number(text.slice(3, 5)));

/** Minutes from midnight, in some zone's local time; `to` is exclusive. */
export const windowSchema = z
  .object({
    days: z.array(z.enum(weekdays)).min(1).describe('Weekdays the window applies to'),
    from: clock.describe('Start, local time, "HH:MM"'),
    to: clock.describe('End (exclusive), local time, "HH:MM"; after `from`'),
  })
  .strict()
  // Only when both times are readable: a bad "from" is its own error, not a short window.
  .refine((window) => !(Number.isFinite(window.from) && Number.isFinite(window.to)) || window.to - window.from >= minimumWindowMinutes, {
    message: 'must end at least 15 minutes after it starts, on the same day',
    path: ['to'],
  });
export type DialingWindow = z.output<typeof windowSchema>;
export type DialingWindowInput = z.input<typeof windowSchema>;

/** Windows are checked in steps this fine; a shorter window could be stepped over. */
export const minimumWindowMinutes = 15;

const zoneName = z.string().refine(isTimeZone, 'an IANA time zone such as "Europe/Moscow"');

export const outcomes = ['busy', 'no-answer', 'failed', 'abandoned'] as const;
/** How an attempt that reached no agent ended (an answered and handled call completes the task). */
export type AttemptOutcome = (typeof outcomes)[number];

/** First matching rule wins; `retryAfterMinutes: null` stops the task. */
export const retryRuleSchema = z
  .object({
    outcome: z.enum([...outcomes, 'any']).default('any'),
    weekdays: z.array(z.enum(weekdays)).min(1).optional().describe("Only when the attempt ended on these days (contact's local time)"),
    taskAgeDays: z
      .object({ from: z.number().int().min(0).optional(), to: z.number().int().min(0).optional() })
      .strict()
      .optional()
      .describe('Only for tasks this many days old (day 0 = the day the task came in), inclusive'),
    retryAfterMinutes: z.number().int().min(1).max(60 * 24 * 30).nullable().describe('Wait before the next attempt; null: no more attempts'),
  })
  .strict();
export type RetryRule = z.output<typeof retryRuleSchema>;

export const defaultRetryRules: RetryRule[] = [
  { outcome: 'busy', retryAfterMinutes: 10 },
  { outcome: 'no-answer', retryAfterMinutes: 60 },
  { outcome: 'failed', retryAfterMinutes: 30 },
  { outcome: 'abandoned', retryAfterMinutes: 30 },
];

/** Monday to Friday 09:00-20:00 and Saturday 10:00-18:00, local time: inside common telemarketing rules. */
export const defaultDialingWindows: DialingWindowInput[] = [
  { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '20:00' },
  { days: ['sat'], from: '10:00', to: '18:00' },
];

/** Predictive pacing: what counts as abandoned, and when the pacer has seen enough to predict. */
export const pacingSchema = z
  .object({
    connectSeconds: z
      .number()
      .min(1)
      .max(10)
      .default(2)
      .describe('An answered call with no agent connected within this many seconds is abandoned: the contact hears the abandon message and the hub hangs up'),
    minSamples: z
      .number()
      .int()
      .min(5)
      .max(300)
      .default(40)
      .describe('Resolved calls and finished talks the pacer needs before it predicts (a quarter of it answered calls); until then one call per ready agent'),
    maxLinesPerAgent: z.number().min(1).max(5).default(3).describe('Calls in flight per logged-in agent, at most'),
  })
  .strict();
export type PacingConfig = z.output<typeof pacingSchema>;

export const campaignConfigSchema = z
  .object({
    mode: z.enum(['predictive', 'progressive', 'preview']).describe('predictive: paced by the pacer; progressive: one call per free agent; preview: the agent starts each call'),
    trunks: z.array(z.string().min(1)).min(1).max(20).describe('Trunk names, tried in this order by failover'),
    callerId: z.string().min(1).describe('Number shown to the contact (E.164 or national in the project region)'),
    queue: z.string().min(1).describe('ACD queue whose agents take the answered calls'),
    dialingWindows: z.array(windowSchema).min(1).prefault(defaultDialingWindows).describe("When a contact may be called, in the contact's local time"),
    workSchedule: z
      .object({ timeZone: zoneName, windows: z.array(windowSchema).min(1) })
      .strict()
      .optional()
      .describe("The project's working hours: no call starts outside them"),
    retry: z
      .object({
        maxAttempts: z.number().int().min(1).max(50).default(5),
        rules: z.array(retryRuleSchema).max(50).default(defaultRetryRules),
      })
      .strict()
      .default({ maxAttempts: 5, rules: defaultRetryRules }),
    priority: z.number().int().min(0).max(100).default(50).describe('Among campaigns sharing agents, higher dials first'),
    abandonTarget: z.number().min(0).max(0.05).default(0.03).describe('Abandoned / answered over the campaign window (default 3%)'),
    crmWritesPerMinute: z.number().positive().optional().describe('Cap on answered calls per minute so the CRM writes they cause stay within the connector budget'),
    ringTimeoutSeconds: z.number().int().min(5).max(120).optional().describe("How long a contact's phone rings before the attempt is given up as no answer (default: the hub's, 25 s)"),
    decisionIntervalSeconds: z
      .number().int().min(1).max(10).optional()
      .describe("How often the campaign reads its agents and decides how many calls to place (default: the hub's, 2 s); every second keeps a predictive campaign's agents busier at twice the Temporal work"),
    pacing: pacingSchema.prefault({}).describe('Predictive campaigns: the abandon rule and how much the pacer learns before it predicts'),
  })
  .strict();

export type CampaignConfig = z.output<typeof campaignConfigSchema>;

/** Field errors for what a schema cannot see: the caller ID as a phone, the project's trunks and queues. */
export function campaignReferenceErrors(
  config: CampaignConfig,
  known: { trunks: readonly string[]; queues: readonly string[]; defaultRegion: string },
): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  config.trunks.forEach((trunk, index) => {
    if (!known.trunks.includes(trunk)) errors.push({ field: `trunks.${index}`, message: `no trunk "${trunk}" in this project` });
  });
  if (!known.queues.includes(config.queue)) errors.push({ field: 'queue', message: `no ACD queue "${config.queue}" in this project` });
  const callerId = normalizePhone(config.callerId, known.defaultRegion);
  if (!callerId.ok) errors.push({ field: 'callerId', message: callerId.reason });
  return errors;
}

