// Callbacks: POST one (an agent's promise to call a contact back at a time), list them by state,
// cancel one. The callback's workflow does the timing and the calling (workflows/callbacks).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { TelephonyConfigError } from '../../telephony/config-errors.js';
import { callbackStates, type CallbackStore } from '../../telephony/callbacks/callback-store.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError } from '../problem.js';

const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });

const callbackBody = z
  .record(z.string(), z.unknown())
  .describe(
    'phone, at (ISO 8601 with offset), agent? (default: the contact\'s responsible agent when known), queue, callerId? (default: a campaign of the queue), note?, ownerWindowSeconds? (default 300)',
  )
  .openapi('CallbackInput');

const callbackView = z
  .object({
    id: z.uuid(),
    phone: z.string(),
    at: z.string(),
    agent: z.string().nullable(),
    queue: z.string(),
    callerId: z.string(),
    note: z.string().nullable(),
    ownerWindowSeconds: z.number(),
    retry: z.object({ maxAttempts: z.number(), retryAfterSeconds: z.number(), busyRetryAfterSeconds: z.number().optional() }).nullable().describe("The callback's own retry; null: the hub's default (3 calls, 10 minutes apart)"),
    state: z.enum(callbackStates),
    handledBy: z.string().nullable(),
    outcome: z.string().nullable().describe('How the last call ended; back in `scheduled` after a busy or rung-out call, which call it was and when the next one comes'),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Callback');

function mapErrors(error: unknown): never {
  if (error instanceof TelephonyConfigError) {
    const title = error.status === 404 ? 'Not found' : error.status === 409 ? 'Conflict' : 'Invalid request';
    throw new ProblemError(error.status, title, error.message, error.errors.length > 0 ? error.errors : undefined);
  }
  throw error;
}

export function callbackRoutes({ callbacks }: { callbacks: CallbackStore }) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Callbacks'],
      summary: 'Schedule a callback (the same number and time again returns the first one)',
      security: [{ bearer: [] }],
      request: { body: { required: true, ...json(callbackBody) } },
      responses: { 200: { description: 'Already scheduled', ...json(callbackView) }, 201: { description: 'Scheduled', ...json(callbackView) }, ...problemResponses(400, 401, 422) },
    }),
    async (c) => {
      const { callback, created } = await callbacks.create(c.get('project').id, c.req.valid('json')).catch(mapErrors);
      return c.json(callback, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Callbacks'],
      summary: "The project's callbacks by time, optionally in one state (at most 500)",
      security: [{ bearer: [] }],
      request: { query: z.object({ state: z.enum(callbackStates).optional() }) },
      responses: { 200: { description: 'List', ...json(z.object({ callbacks: z.array(callbackView) })) }, ...problemResponses(401, 422) },
    }),
    async (c) => c.json({ callbacks: await callbacks.list(c.get('project').id, c.req.valid('query').state) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['Callbacks'],
      summary: 'One callback',
      security: [{ bearer: [] }],
      request: { params: z.object({ id: z.string().max(100) }) },
      responses: { 200: { description: 'Callback', ...json(callbackView) }, ...problemResponses(401, 404) },
    }),
    async (c) => c.json(await callbacks.get(c.get('project').id, c.req.valid('param').id).catch(mapErrors), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags: ['Callbacks'],
      summary: 'Cancel a callback nobody is calling yet',
      security: [{ bearer: [] }],
      request: { params: z.object({ id: z.string().max(100) }) },
      responses: { 200: { description: 'Cancelled', ...json(callbackView) }, ...problemResponses(401, 404, 409) },
    }),
    async (c) => c.json(await callbacks.cancel(c.get('project').id, c.req.valid('param').id).catch(mapErrors), 200),
  );

  return app;
}
