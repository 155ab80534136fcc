// Dialer campaigns and their tasks: PUT a campaign by name (validated by
// telephony/dialer/campaign-config.ts against the project's trunks and queues), pause / resume /
// stop it, push tasks in batches where each row is accepted, recognized as a duplicate or rejected
// with its fields named, list tasks by state, and take one out. Preview campaigns: an agent takes
// the next task to read, then dials or skips it (telephony/dialer/preview.ts).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { queryInteger } from '../../core/validation.js';
import { TelephonyConfigError } from '../../telephony/config-errors.js';
import type { CampaignStore } from '../../telephony/dialer/campaign-store.js';
import { InvalidTaskCursorError, MAX_TASKS_PER_BATCH, type DialerTasks } from '../../telephony/dialer/dialer-tasks.js';
import { DEFAULT_PREVIEW_HOLD_SECONDS, DEFAULT_SKIP_RETRY_MINUTES, type PreviewDesk } from '../../telephony/dialer/preview.js';
import { defaultCampaignDialerOptions } from '../../workflows/campaigns/shared.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError, validationProblem } from '../problem.js';

export interface CampaignRoutesDeps {
  campaigns: CampaignStore;
  tasks: DialerTasks;
  preview: PreviewDesk;
  /** Called after an outbox row is committed (a dialled preview), so it goes out at once. */
  onQueued?: (() => void) | undefined;
}

const nameParams = z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and "-"') });
const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });

const campaignBody = z
  .record(z.string(), z.unknown())
  .describe(
    'mode ("predictive" | "progressive" | "preview"), trunks [names], callerId, queue, dialingWindows [{days, from "HH:MM", to}] in the contact\'s local time, ' +
      'workSchedule {timeZone, windows}, retry {maxAttempts, rules [{outcome, weekdays, taskAgeDays {from, to}, retryAfterMinutes | null}]}, priority, abandonTarget (default 0.03), crmWritesPerMinute, ' +
      'pacing {connectSeconds (default 2: answered with no agent within it = abandoned, the contact hears a message), minSamples (default 40), maxLinesPerAgent (default 3)}',
  )
  .openapi('CampaignConfig');

const campaignView = z
  .object({
    id: z.uuid(),
    name: z.string(),
    state: z.enum(['active', 'paused', 'stopped']),
    config: z.record(z.string(), z.unknown()),
    tasks: z.object({ pending: z.number(), dialing: z.number(), previewing: z.number(), done: z.number(), failed: z.number(), removed: z.number() }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Campaign');

const figuresView = z
  .object({
    name: z.string(),
    state: z.enum(['active', 'paused', 'stopped']),
    at: z.string().nullable().describe("When the dialer's last tick stored these figures; null before the first active tick"),
    figures: z
      .object({
        dialLevel: z.number().describe('Calls ringing after the tick\'s launches per ready agent'),
        answerRate: z.number().describe('Estimated answer probability (recent calls, with a prior)'),
        abandonRate: z.number().describe('Abandoned / answered over the last 24 h (abandoned: answered, no agent within pacing.connectSeconds)'),
        occupancy: z.number().describe('Agents talking or wrapping up / logged-in agents'),
        pacing: z.string().describe('How the tick decided, e.g. "predictive: model" or "progressive: few samples"'),
        agents: z.object({ loggedIn: z.number(), ready: z.number() }),
        calls: z.object({ ringing: z.number(), waiting: z.number(), launched: z.number(), ahead: z.number().describe('Launches beyond one per ready agent without a call in flight') }),
        window: z.object({ answered: z.number(), abandoned: z.number() }),
      })
      .nullable(),
  })
  .openapi('CampaignFigures');

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
    state: z.enum(['pending', 'dialing', 'previewing', 'done', 'failed', 'removed']),
    attempts: z.number(),
    nextAttemptAt: z.string(),
    lastAttemptAt: z.string().nullable(),
    lastOutcome: z.string().nullable(),
    previewAgent: z.string().nullable().describe('Preview campaigns: the agent holding the task'),
    previewUntil: z.string().nullable(),
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

export function campaignRoutes({ campaigns, tasks, preview, onQueued }: CampaignRoutesDeps) {
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
      method: 'get',
      path: '/{name}/figures',
      tags: ['Dialer'],
      summary: "The dialer's live figures: dial level, answer rate, abandon rate, occupancy",
      description: 'Stored by the campaign\'s dialer at each tick while it is active (every 2 s), from the same state the pacer decides by.',
      security: [{ bearer: [] }],
      request: { params: nameParams },
      responses: { 200: { description: 'Figures', ...json(figuresView) }, ...problemResponses(401, 404, 422) },
    }),
    async (c) => c.json(await campaigns.figures(c.get('project').id, c.req.valid('param').name).catch(mapErrors), 200),
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
          state: z.enum(['pending', 'dialing', 'previewing', 'done', 'failed', 'removed']).optional(),
          cursor: z.string().max(200).optional(),
          limit: queryInteger(1, 500).optional(),
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

  const agentField = z.string().min(1).max(100).describe("The hub's agent id (as in /v1/telephony/agents/{agent})");
  const previewParams = nameParams.extend({ taskId: z.string().max(100) });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{name}/preview',
      tags: ['Dialer'],
      summary: 'Preview campaigns: the next task for an agent to read, held for them',
      description:
        'Gives the agent the task they hold, or holds the next due task inside its dialing window for them (holdSeconds, default ' +
        `${DEFAULT_PREVIEW_HOLD_SECONDS}). Nothing rings and no attempt is counted until the agent dials it. {"task": null} when none is due.`,
      security: [{ bearer: [] }],
      request: {
        params: nameParams,
        body: { required: true, ...json(z.object({ agent: agentField, holdSeconds: z.number().int().min(10).max(3600).optional() }).strict()) },
      },
      responses: { 200: { description: 'The task, or null', ...json(z.object({ task: taskView.nullable() })) }, ...problemResponses(400, 401, 404, 409, 422) },
    }),
    async (c) => {
      const { agent, holdSeconds } = c.req.valid('json');
      return c.json({ task: await preview.next(c.get('project').id, c.req.valid('param').name, agent, holdSeconds).catch(mapErrors) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{name}/preview/{taskId}/dial',
      tags: ['Dialer'],
      summary: 'Preview campaigns: the holding agent dials the task',
      description: 'Counts an attempt and starts it: the contact is rung and the answered call goes to the campaign\'s queue with this agent preferred. Outcomes and retries as for any attempt.',
      security: [{ bearer: [] }],
      request: { params: previewParams, body: { required: true, ...json(z.object({ agent: agentField }).strict()) } },
      responses: {
        202: { description: 'Dialling', ...json(z.object({ taskId: z.string(), attemptId: z.string(), attempt: z.number(), phone: z.string() })) },
        ...problemResponses(400, 401, 404, 409, 422),
      },
    }),
    async (c) => {
      const { name, taskId } = c.req.valid('param');
      const dialed = await preview.dial(c.get('project').id, name, taskId, c.req.valid('json').agent, defaultCampaignDialerOptions.attemptLeaseMs).catch(mapErrors);
      onQueued?.();
      return c.json(dialed, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{name}/preview/{taskId}/skip',
      tags: ['Dialer'],
      summary: 'Preview campaigns: the holding agent skips the task for later',
      description: `Back to pending without an attempt counted, due again after retryInMinutes (default ${DEFAULT_SKIP_RETRY_MINUTES}).`,
      security: [{ bearer: [] }],
      request: {
        params: previewParams,
        body: { required: true, ...json(z.object({ agent: agentField, retryInMinutes: z.number().int().min(0).max(60 * 24 * 30).optional() }).strict()) },
      },
      responses: { 200: { description: 'The task', ...json(taskView) }, ...problemResponses(400, 401, 404, 409, 422) },
    }),
    async (c) => {
      const { name, taskId } = c.req.valid('param');
      const { agent, retryInMinutes } = c.req.valid('json');
      return c.json(await preview.skip(c.get('project').id, name, taskId, agent, retryInMinutes).catch(mapErrors), 200);
    },
  );

  // After /{name}/tasks and /{name}/preview: a path parameter must not swallow those routes.
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
