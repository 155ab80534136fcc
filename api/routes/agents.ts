// Agents' presence under the project key, for agent desktops and CRMs: who is ready, and setting an
// agent ready, not ready or logged out (with the softphone to ring). The roster lives in the
// telephony process; the API checks the request and forwards it to the process's control endpoint.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { fieldErrorsFrom } from '../../core/validation.js';
import { agentIdSchema, presenceSchema } from '../../telephony/runtime/presence.js';
import { TelephonyUnavailableError, type ControlAnswer, type TelephonyControlClient } from '../../telephony/runtime/control-client.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError, validationProblem } from '../problem.js';

const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });

const agentView = z
  .object({
    id: z.string(),
    status: z.enum(['logged-out', 'not-ready', 'ready', 'ringing', 'busy', 'wrap-up']),
    registered: z.boolean().describe('A softphone is registered and not expired'),
    registration: z.object({ contactUri: z.string(), expiresAt: z.string() }).optional(),
    idleSince: z.string().optional().describe('Waiting for a call since (ready agents): the longest idle gets the next call'),
    statusSince: z.string(),
    notReadyReason: z.string().optional(),
    callId: z.string().optional(),
  })
  .openapi('Agent');

// Documented loosely and checked in the handler with the roster's own schema, so every bad field is named at once.
const presenceBody = z
  .record(z.string(), z.unknown())
  .describe('status (ready, not-ready, logged-out), contact? (the softphone to ring, a SIP URI: sip:ann@10.0.0.7:5060), expiresSeconds? (1 to 86400, default 3600), reason? (why not ready)')
  .openapi('AgentPresence');

/** The control endpoint's answer as the API's: its problems keep their status and fields; the roster down is a 503. */
async function forward(request: Promise<ControlAnswer>): Promise<ControlAnswer> {
  try {
    return await request;
  } catch (error) {
    if (error instanceof TelephonyUnavailableError) {
      throw new ProblemError(503, 'Telephony unavailable', `Agents' presence is kept by the telephony process, which cannot be reached; try again. (${error.message})`, undefined, { 'retry-after': '5' });
    }
    throw error;
  }
}

function problemFrom(answer: ControlAnswer): never {
  const problem = (answer.body ?? {}) as { title?: string; detail?: string; errors?: { field: string; message: string }[] };
  throw new ProblemError(answer.status as 400, problem.title ?? 'Refused', problem.detail ?? `The telephony process answered ${answer.status}.`, problem.errors);
}

export function agentRoutes({ control }: { control: TelephonyControlClient }) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Agents'],
      summary: "The project's agents and their presence, as the telephony process holds them",
      security: [{ bearer: [] }],
      responses: { 200: { description: 'Agents', ...json(z.object({ agents: z.array(agentView) })) }, ...problemResponses(401, 503) },
    }),
    async (c) => {
      const answer = await forward(control.listAgents(c.get('project').id));
      if (answer.status !== 200) problemFrom(answer);
      c.header('cache-control', 'no-store');
      return c.json(answer.body as { agents: z.infer<typeof agentView>[] }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/{agentId}/presence',
      tags: ['Agents'],
      summary: 'Set an agent ready, not ready or logged out, and the softphone to ring',
      security: [{ bearer: [] }],
      request: { params: z.object({ agentId: agentIdSchema }), body: { required: true, ...json(presenceBody) } },
      responses: { 200: { description: 'The agent now', ...json(agentView) }, ...problemResponses(400, 401, 409, 415, 422, 503) },
    }),
    async (c) => {
      // Checked in full here, so a bad request is a 422 even while the telephony process is down.
      const presence = presenceSchema.safeParse(c.req.valid('json'));
      if (!presence.success) throw validationProblem(fieldErrorsFrom(presence.error), 'The agent presence is invalid.');
      const answer = await forward(control.setPresence(c.get('project').id, c.req.valid('param').agentId, presence.data));
      if (answer.status !== 200) problemFrom(answer);
      return c.json(answer.body as z.infer<typeof agentView>, 200);
    },
  );

  return app;
}
