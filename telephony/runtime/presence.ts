// An agent's presence as the hub takes it: ready, not ready (with a reason) or logged out, and the
// softphone to ring while it is registered. One schema for the telephony process's control endpoint
// and for the API's /v1/agents, which forwards to it.
import { z } from 'zod';

export const presenceSchema = z
  .object({
    status: z.enum(['ready', 'not-ready', 'logged-out']),
    contact: z.string().regex(/^sips?:[^\s]+$/, 'a SIP URI (sip:user@host:port)').optional(),
    expiresSeconds: z.number().int().min(1).max(86_400).default(3_600),
    reason: z.string().min(1).max(200).optional(),
  })
  .strict();

export type AgentPresenceInput = z.infer<typeof presenceSchema>;

/** Agent ids as queues name them (any text but a slash or a control character), 100 characters at most. */
export const agentIdSchema = z.string().min(1).max(100).regex(/^[^/\p{Cc}]+$/u, 'no slash or control character');
