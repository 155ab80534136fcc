// Dialer campaigns and their tasks: PUT a campaign by name (validated by
// telephony/dialer/campaign-config.ts against the project's trunks and queues), pause / resume /
// stop it, push tasks in batches where each row is accepted, recognized as a duplicate or rejected
// with its fields named, list tasks by state, and take one out.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { TelephonyConfigError } from '../../telephony/config-errors.js';
import type { CampaignStore } from '../../telephony/dialer/campaign-store.js';
import { InvalidTaskCursorError, MAX_TASKS_PER_BATCH, type DialerTasks } from '../../telephony/dialer/dialer-tasks.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError, validationProblem } from '../problem.js';

export interface CampaignRoutesDeps {
  campaigns: CampaignStore;
  tasks: DialerTasks;
}

const nameParams = z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and "-"') });
const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });

const campaignBody = z
  .record(z.string(), z.unknown())
  .describe(
    'mode ("predictive" | "progressive" | "preview"), trunks [names], callerId, queue, dialingWindows [{days, from "HH:MM", to}] in the contact\'s local time, ' +
      'workSchedule {timeZone, windows}, retry {maxAttempts, rules [{outcome, weekdays, taskAgeDays {from, to}, retryAfterMinutes | null}]}, priority, abandonTarget (default 0.03), crmWritesPerMinute',
  )
  .openapi('CampaignConfig');

const campaignView = z
  .object({
    id: z.uuid(),
    name: z.string(),
    state: z.enum(['active', 'paused', 'stopped']),
    config: z.record(z.string(), z.unknown()),
    tasks: z.object({ pending: z.number(), dialing: z.number(), done: z.number(), failed: z.number(), removed: z.number() }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Campaign');

const taskRow = z
  .record(z.string(), z.unknown())
  .describe('{ externalId?, phones: [1-5 numbers], name?, fields?: {..}, priority? 0-100, timeZone? IANA }; each row is checked on its own')
  .openapi('DialerTaskInput');

const taskView = z
  .object({
    id: z.uuid(),
    externalId: z.string(),
    phones: z.array(z.string()),
    name: z.string().nullable(),
    fields: z.record(z.string(), z.unknown()),
    priority: z.number(),
    timeZones: z.array(z.string()),
    state: z.enum(['pending', 'dialing', 'done', 'failed', 'removed']),
    attempts: z.number(),
    nextAttemptAt: z.string(),
    lastAttemptAt: z.string().nullable(),
    lastOutcome: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('DialerTask');

const batchResult = z
  .object({
    accepted: z.number(),
    duplicates: z.number(),
    rejected: z.number(),
    results: z.array(
      z.object({
        index: z.number(),
        status: z.enum(['accepted', 'duplicate', 'rejected']),
        id: z.string().optional(),
        externalId: z.string().optional(),
        errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
      }),
    ),
  })
  .openapi('DialerTaskBatchResult');

function mapErrors(error: unknown): never {
  if (error instanceof TelephonyConfigError) {
    const title = error.status === 404 ? 'Not found' : error.status === 409 ? 'Conflict' : 'Invalid request';
    throw new ProblemError(error.status, title, error.message, error.errors.length > 0 ? error.errors : undefined);
  }
  if (error instanceof InvalidTaskCursorError) throw validationProblem([{ field: 'query.cursor', message: error.message }]);
  throw error;
}

export function campaignRoutes({ campaigns, tasks }: CampaignRoutesDeps) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'put',
      path: '/{name}',
      tags: ['Dialer'],
      summary: 'Create or replace a campaign (a new one starts paused)',
      security: [{ bearer: [] }],
      request: { params: nameParams, body: { required: true, ...json(campaignBody) } },
      responses: { 200: { description: 'Replaced', ...json(campaignView) }, 201: { description: 'Created', ...json(campaignView) }, ...problemResponses(400, 401, 422) },
    }),
    async (c) => {
      const { campaign, created } = await campaigns.put(c.get('project').id, c.req.valid('param').name, c.req.valid('json')).catch(mapErrors);
      return c.json(campaign, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Dialer'],
      summary: "The project's campaigns with task counts per state",
      security: [{ bearer: [] }],
      responses: { 200: { description: 'List', ...json(z.object({ campaigns: z.array(campaignView) })) }, ...problemResponses(401) },
    }),
    async (c) => c.json({ campaigns: await campaigns.list(c.get('project').id) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{name}',
      tags: ['Dialer'],
      summary: 'One campaign',
      security: [{ bearer: [] }],
      request: { params: nameParams },
      responses: { 200: { description: 'Campaign', ...json(campaignView) }, ...problemResponses(401, 404, 422) },
    }),
    async (c) => c.json(await campaigns.get(c.get('project').id, c.req.valid('param').name).catch(mapErrors), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{name}',
      tags: ['Dialer'],
      summary: 'Delete a campaign that is not active, with its tasks',
      security: [{ bearer: [] }],
      request: { params: nameParams },
      responses: { 204: { description: 'Deleted' }, ...problemResponses(401, 404, 409, 422) },
    }),
    async (c) => {
      await campaigns.remove(c.get('project').id, c.req.valid('param').name).catch(mapErrors);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{name}/tasks',
      tags: ['Dialer'],
      summary: `Add up to ${MAX_TASKS_PER_BATCH} tasks; good rows are stored, bad ones reported`,
      description:
        'Idempotent per task: a row with the externalId (or, without one, the content) of a stored task is a duplicate and changes nothing. ' +
        'Answers 200 with a result per row when at least one row was good (or a duplicate), 422 naming every bad field when none was.',
      security: [{ bearer: [] }],
      request: {
        params: nameParams,
        body: { required: true, ...json(z.object({ tasks: z.array(taskRow).min(1).max(MAX_TASKS_PER_BATCH) }).strict()) },
      },
      responses: { 200: { description: 'Per-row results', ...json(batchResult) }, ...problemResponses(400, 401, 404, 413, 422) },
    }),
    async (c) => {
      const outcome = await tasks.add(c.get('project').id, c.req.valid('param').name, c.req.valid('json').tasks).catch(mapErrors);
      if (outcome.accepted + outcome.duplicates === 0) {
        throw validationProblem(
          outcome.results.flatMap((result) => (result.status === 'rejected' ? result.errors : [])),
          `None of the ${outcome.rejected} task(s) could be accepted.`,
        );
      }
      return c.json(outcome, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{name}/tasks',
      tags: ['Dialer'],
      summary: 'Tasks of a campaign, oldest first, by state',
      security: [{ bearer: [] }],
      request: {
        params: nameParams,
        query: z.object({
          state: z.enum(['pending', 'dialing', 'done', 'failed', 'removed']).optional(),
          cursor: z.string().max(200).optional(),
          limit: z.coerce.number().int().min(1).max(500).optional(),
        }),
      },
      responses: { 200: { description: 'Page', ...json(z.object({ tasks: z.array(taskView), nextCursor: z.string().nullable() })) }, ...problemResponses(401, 404, 422) },
    }),
    async (c) => c.json(await tasks.list(c.get('project').id, c.req.valid('param').name, c.req.valid('query')).catch(mapErrors), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{name}/tasks/{taskId}',
      tags: ['Dialer'],
      summary: 'Take a task out of the campaign (not while it is being dialed)',
      security: [{ bearer: [] }],
      request: { params: nameParams.extend({ taskId: z.string().max(100) }) },
      responses: { 200: { description: 'Removed', ...json(taskView) }, ...problemResponses(401, 404, 409, 422) },
    }),
    async (c) => {
      const { name, taskId } = c.req.valid('param');
      return c.json(await tasks.remove(c.get('project').id, name, taskId).catch(mapErrors), 200);
    },
  );

  // After /{name}/tasks: a path parameter must not swallow the tasks routes.
  app.openapi(
    createRoute({
      method: 'post',
      path: '/{name}/{action}',
      tags: ['Dialer'],
      summary: 'Pause, resume or stop a campaign',
      security: [{ bearer: [] }],
      request: { params: nameParams.extend({ action: z.enum(['pause', 'resume', 'stop']) }) },
      responses: { 200: { description: 'Campaign', ...json(campaignView) }, ...problemResponses(401, 404, 409, 422) },
    }),
    async (c) => {
      const { name, action } = c.req.valid('param');
      return c.json(await campaigns.act(c.get('project').id, name, action).catch(mapErrors), 200);
    },
  );

  return app;
}
