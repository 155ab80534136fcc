/**
 * An ACD queue as data. There is deliberately no "strategy" field: distribution is always to the
 * longest-idle offerable agent, so no configuration can bring back a sequential hunt over empty desks.
 */
import { z } from 'zod';

export const queueConfigSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and "-"'),
    /** Agent ids who take calls from this queue; their order means nothing. */
    agents: z.array(z.string().min(1)).min(1, 'a queue needs at least one agent'),
    /** How long one agent rings before the call moves on (and the agent is set not-ready). */
    ringTimeoutMs: z.number().int().min(1).max(120_000).default(15_000),
    /** How long the contact's responsible agent gets the call first. 0 turns it off. */
    preferredAgentWindowMs: z.number().int().min(0).max(600_000).default(20_000),
    /** A caller waits at most this long before the queue gives the call back (voicemail, callback). */
    maxWaitMs: z.number().int().min(1).max(3_600_000).default(600_000),
    wrapUpMs: z.number().int().min(0).max(600_000).default(5_000),
  })
  .superRefine((queue, ctx) => {
    const seen = new Set<string>();
    queue.agents.forEach((agent, index) => {
      if (seen.has(agent)) ctx.addIssue({ code: 'custom', path: ['agents', index], message: `agent "${agent}" appears twice` });
      seen.add(agent);
    });
  });

export type QueueConfigInput = z.input<typeof queueConfigSchema>;
export type QueueConfig = z.output<typeof queueConfigSchema>;
