// POST /v1/tasks (one task or a batch) and GET /v1/tasks/:id.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Db } from '../../core/db/client.js';
import {
  IdempotencyConflictError,
  persistTasks,
  prepareTasks,
  requestFingerprint,
  type AcceptedTask,
  type RejectedTask,
} from '../../core/tasks/intake.js';
import { taskBatchSchema, taskInputSchema, taskViewSchema, type TaskView } from '../../core/tasks/schema.js';
import type { TemporalGateway } from '../../core/temporal/gateway.js';
import { describeJourney, type JourneyView } from '../../workflows/journey/client.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError, validationProblem } from '../problem.js';

export interface TaskRoutesDeps {
  db: Db;
  temporal: TemporalGateway;
  maxTasksPerRequest: number;
  /** Called when new work was committed to the outbox. */
  onQueued: () => void;
}

const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

const acceptedTaskSchema = z.object({
  index: z.number().int().describe('Position in the request (0 for a single task)'),
  id: z.uuid(),
  phone: z.string(),
  journeyId: z.string(),
  duplicate: z.boolean().describe('A task with this externalId existed already; nothing new was queued'),
});
const rejectedTaskSchema = z.object({
  index: z.number().int(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })),
});

const postTasksRoute = createRoute({
  method: 'post',
  path: '/',
  tags: ['Tasks'],
  summary: 'Accept one task or a batch',
  description:
    'Stores the tasks durably and queues each for its contact journey (a Temporal workflow). ' +
    'A batch accepts the valid rows and reports the invalid ones. Send `Idempotency-Key` to make retries safe: ' +
    'the same key with the same body replays the first answer; with another body it is refused (422).',
  security: [{ bearer: [] }],
  request: {
    headers: z.object({ 'idempotency-key': z.string().optional() }),
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.union([taskInputSchema, z.object({ tasks: z.array(taskInputSchema) })]),
        },
      },
    },
  },
  responses: {
    200: {
      description: 'Single task that duplicates an existing externalId',
      content: { 'application/json': { schema: z.object({ task: acceptedTaskSchema }) } },
    },
    202: {
      description: 'Accepted: stored and queued for its journey',
      content: {
        'application/json': {
          schema: z.union([
            z.object({ task: acceptedTaskSchema }),
            z.object({ accepted: z.array(acceptedTaskSchema), rejected: z.array(rejectedTaskSchema) }),
          ]),
        },
      },
    },
    ...problemResponses(400, 401, 413, 422),
  },
});

const getTaskRoute = createRoute({
  method: 'get',
  path: '/{id}',
  tags: ['Tasks'],
  summary: 'A task, its status and its journey',
  security: [{ bearer: [] }],
  request: {
    params: z.object({ id: z.uuid() }),
    query: z.object({
      journey: z.enum(['true', 'false']).default('true').describe('Ask Temporal for the journey state'),
    }),
  },
  responses: {
    200: {
      description: 'The task',
      content: {
        'application/json': {
          schema: z.object({ task: taskViewSchema, journey: z.record(z.string(), z.unknown()).optional() }),
        },
      },
    },
    ...problemResponses(401, 404, 422),
  },
});

export function taskRoutes(deps: TaskRoutesDeps) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  // Registered for the OpenAPI document; the body is validated per row below so
  // a batch can accept its good rows and report its bad ones.
  app.openAPIRegistry.registerPath(postTasksRoute);

  app.post('/', async (c) => {
    const project = c.get('project');
    const idempotencyKey = c.req.header('idempotency-key');
    if (idempotencyKey !== undefined && !idempotencyKeyPattern.test(idempotencyKey)) {
      throw validationProblem([{ field: 'header.idempotency-key', message: '1-255 visible ASCII characters' }]);
    }
    const raw = await c.req.text();
    const body = parseJson(raw);
    const { items, single } = splitBatch(body, deps.maxTasksPerRequest);
    const { prepared, rejected } = prepareTasks(project, items, (index) => (single ? [] : ['tasks', index]));
    if (prepared.length === 0) {
      throw validationProblem(
        rejected.flatMap((row) => row.errors),
        single ? 'The task has invalid fields.' : 'No task in the batch is valid.',
      );
    }
    const answer = await persistTasks(
      deps.db,
      project,
      prepared,
      (accepted) => buildAnswer(accepted, rejected, single),
      idempotencyKey === undefined
        ? undefined
        : { key: idempotencyKey, fingerprint: requestFingerprint('POST', '/v1/tasks', raw) },
    ).catch((error: unknown) => {
      if (error instanceof IdempotencyConflictError) {
        throw validationProblem([{ field: 'header.idempotency-key', message: error.message }], error.message);
      }
      throw error;
    });
    if (answer.queued > 0) deps.onQueued();
    if (answer.replayed) c.header('idempotent-replayed', 'true');
    return c.json(answer.body as object, answer.status as 200 | 202);
  });

  app.openapi(getTaskRoute, async (c) => {
    const project = c.get('project');
    const { id } = c.req.valid('param');
    const { journey } = c.req.valid('query');
    const task = await deps.db.task.findFirst({ where: { id, projectId: project.id } });
    if (!task) throw new ProblemError(404, 'Not found', `No task ${id} in this project.`);
    const view: TaskView = {
      id: task.id,
      externalId: task.externalId,
      phone: task.phone,
      name: task.name,
      email: task.email,
      data: task.data as Record<string, unknown>,
      status: task.status,
      journeyId: task.journeyId,
      result: task.result ?? null,
      error: task.error,
      createdAt: task.createdAt.toISOString(),
      updatedAt: task.updatedAt.toISOString(),
    };
    if (journey === 'false') return c.json({ task: view }, 200);
    return c.json({ task: view, journey: await journeyOf(deps.temporal, task.journeyId) }, 200);
  });

  return app;
}

async function journeyOf(temporal: TemporalGateway, workflowId: string): Promise<JourneyView> {
  try {
    return await describeJourney(await temporal.client(), workflowId);
  } catch (error) {
    return { workflowId, status: 'unknown', reason: error instanceof Error ? error.message : String(error) };
  }
}

function parseJson(raw: string): unknown {
  if (raw.trim() === '') {
    throw new ProblemError(400, 'Malformed JSON', 'The request body is empty; send a task or {"tasks": [...]}.', [
      { field: '(body)', message: 'empty' },
    ]);
  }
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new ProblemError(400, 'Malformed JSON', 'The request body is not valid JSON.', [
      { field: '(body)', message: (error as Error).message },
    ]);
  }
}

function splitBatch(body: unknown, max: number): { items: unknown[]; single: boolean } {
  if (Array.isArray(body)) return checkSize(body, max, '(body)');
  if (body !== null && typeof body === 'object' && 'tasks' in body) {
    const batch = taskBatchSchema.safeParse(body);
    if (!batch.success) {
      throw validationProblem(batch.error.issues.map((issue) => ({ field: ['tasks', ...issue.path.slice(1)].join('.'), message: issue.message })));
    }
    return checkSize(batch.data.tasks, max, 'tasks');
  }
  return { items: [body], single: true };
}

function checkSize(items: unknown[], max: number, field: string): { items: unknown[]; single: boolean } {
  if (items.length === 0) throw validationProblem([{ field, message: 'a batch carries at least one task' }]);
  if (items.length > max) {
    throw new ProblemError(413, 'Batch too large', `At most ${max} tasks per request; split the batch.`, [
      { field, message: `${items.length} tasks, limit ${max}` },
    ]);
  }
  return { items, single: false };
}

function buildAnswer(accepted: AcceptedTask[], rejected: RejectedTask[], single: boolean): { status: number; body: unknown } {
  if (single) {
    const task = accepted[0] as AcceptedTask;
    return { status: task.duplicate ? 200 : 202, body: { task } };
  }
  return { status: 202, body: { accepted, rejected } };
}
