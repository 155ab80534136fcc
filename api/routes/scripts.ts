// Call scripts of the project (core/agent-desk/scripts.ts): the questions the agent page asks.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ScriptError, type AgentScripts } from '../../core/agent-desk/scripts.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError } from '../problem.js';

const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });

const scriptBody = z
  .record(z.string(), z.unknown())
  .describe('title, intro?, questions: [{ id, prompt, field (name, email or fields.<key>), kind (text, number, yes-no, choice), options? (choice), required?, showIf? ({ question, equals }: asked only when an earlier question was answered so) }]')
  .openapi('ScriptInput');

const scriptView = z
  .object({
    name: z.string(),
    title: z.string(),
    intro: z.string().optional(),
    questions: z.array(
      z.object({
        id: z.string(),
        prompt: z.string(),
        field: z.string(),
        kind: z.enum(['text', 'number', 'yes-no', 'choice']),
        options: z.array(z.string()).optional(),
        required: z.boolean(),
        showIf: z.object({ question: z.string(), equals: z.union([z.string(), z.number(), z.boolean()]) }).optional(),
      }),
    ),
    updatedAt: z.string(),
  })
  .openapi('Script');

const nameParams = z.object({ name: z.string().max(200) });

function mapErrors(error: unknown): never {
  if (error instanceof ScriptError) {
    throw new ProblemError(error.status, error.status === 404 ? 'Not found' : 'Invalid request', error.message, error.errors.length > 0 ? error.errors : undefined);
  }
  throw error;
}

export function scriptRoutes({ scripts }: { scripts: AgentScripts }) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['Agent desk'],
      summary: "The project's call scripts",
      security: [{ bearer: [] }],
      responses: { 200: { description: 'Scripts by name', ...json(z.object({ scripts: z.array(scriptView) })) }, ...problemResponses(401) },
    }),
    async (c) => c.json({ scripts: await scripts.list(c.get('project').id) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/{name}',
      tags: ['Agent desk'],
      summary: 'Create or replace a call script',
      security: [{ bearer: [] }],
      request: { params: nameParams, body: { required: true, ...json(scriptBody) } },
      responses: { 200: { description: 'Replaced', ...json(scriptView) }, 201: { description: 'Created', ...json(scriptView) }, ...problemResponses(400, 401, 415, 422) },
    }),
    async (c) => {
      const { script, created } = await scripts.put(c.get('project').id, c.req.valid('param').name, c.req.valid('json')).catch(mapErrors);
      return c.json(script, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{name}',
      tags: ['Agent desk'],
      summary: 'A call script',
      security: [{ bearer: [] }],
      request: { params: nameParams },
      responses: { 200: { description: 'The script', ...json(scriptView) }, ...problemResponses(401, 404) },
    }),
    async (c) => c.json(await scripts.get(c.get('project').id, c.req.valid('param').name).catch(mapErrors), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{name}',
      tags: ['Agent desk'],
      summary: 'Delete a call script (pages already linked to it say so)',
      security: [{ bearer: [] }],
      request: { params: nameParams },
      responses: { 204: { description: 'Deleted' }, ...problemResponses(401, 404) },
    }),
    async (c) => {
      await scripts.remove(c.get('project').id, c.req.valid('param').name).catch(mapErrors);
      return c.body(null, 204);
    },
  );

  return app;
}
