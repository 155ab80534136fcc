// Connector instances of a project: /v1/connectors, and the installed
// connector types with their configuration schemas: /v1/connector-types.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import {
  InstanceConflictError,
  InstanceNotFoundError,
  InstanceValidationError,
  instanceInputSchema,
  instancePatchSchema,
  type ConnectorInstances,
} from '../../core/connectors/instances.js';
import { configJsonSchema, type ConnectorRegistry } from '../../connectors/registry.js';
import type { ConnectorRuntime } from '../../connectors/runtime.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError, validationProblem } from '../problem.js';

export interface ConnectorRoutesDeps {
  instances: ConnectorInstances;
  registry: ConnectorRegistry;
  runtime: ConnectorRuntime;
}

const instanceViewSchema = z
  .object({
    id: z.uuid(),
    kind: z.string(),
    name: z.string(),
    isPrimary: z.boolean(),
    config: z.record(z.string(), z.unknown()).describe('Configuration without credentials'),
    secrets: z.record(z.string(), z.literal('set')).describe('Which credentials are stored; values are never returned'),
    limits: z.unknown(),
    polling: z
      .object({ intervalSeconds: z.number().int(), enabled: z.boolean(), lastPolledAt: z.string().nullable(), lastError: z.string().nullable() })
      .nullable()
      .describe('Polling for changes (CRMs without webhooks) and how it goes'),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('ConnectorInstance');

const idParams = z.object({ id: z.uuid() });
const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });

function mapErrors(error: unknown): never {
  if (error instanceof InstanceValidationError) throw validationProblem(error.errors, 'The connector configuration is invalid.');
  if (error instanceof InstanceConflictError) throw new ProblemError(409, 'Conflict', error.message, [{ field: 'name', message: error.message }]);
  if (error instanceof InstanceNotFoundError) throw new ProblemError(404, 'Not found', error.message);
  throw error;
}

export function connectorRoutes({ instances, registry, runtime }: ConnectorRoutesDeps) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/connector-types',
      tags: ['Connectors'],
      summary: 'Installed connectors and the JSON Schema of their configuration',
      security: [{ bearer: [] }],
      responses: {
        200: {
          description: 'Connector types',
          ...json(z.object({ types: z.array(z.object({ id: z.string(), title: z.string(), secrets: z.array(z.string()), configSchema: z.unknown() })) })),
        },
        ...problemResponses(401),
      },
    }),
    (c) =>
      c.json(
        {
          types: [...registry.values()].map(({ definition }) => ({
            id: definition.id,
            title: definition.title,
            secrets: [...(definition.secrets ?? [])],
            configSchema: configJsonSchema(definition),
          })),
        },
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/connectors',
      tags: ['Connectors'],
      summary: 'Configure a CRM for the project',
      description: 'The configuration is validated by the connector\'s own schema now, not at first use. Credentials are sealed at rest and never returned.',
      security: [{ bearer: [] }],
      request: { body: { required: true, ...json(instanceInputSchema) } },
      responses: { 201: { description: 'Created', ...json(instanceViewSchema) }, ...problemResponses(400, 401, 409, 422) },
    }),
    async (c) => {
      const view = await instances.create(c.get('project').id, c.req.valid('json')).catch(mapErrors);
      return c.json(view, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/connectors',
      tags: ['Connectors'],
      summary: 'The project\'s connectors',
      security: [{ bearer: [] }],
      responses: { 200: { description: 'Connectors', ...json(z.object({ connectors: z.array(instanceViewSchema) })) }, ...problemResponses(401) },
    }),
    async (c) => c.json({ connectors: await instances.list(c.get('project').id) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/connectors/{id}',
      tags: ['Connectors'],
      summary: 'One connector',
      security: [{ bearer: [] }],
      request: { params: idParams },
      responses: { 200: { description: 'Connector', ...json(instanceViewSchema) }, ...problemResponses(401, 404, 422) },
    }),
    async (c) => c.json(await instances.get(c.get('project').id, c.req.valid('param').id).catch(mapErrors), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/connectors/{id}',
      tags: ['Connectors'],
      summary: 'Change a connector',
      description: 'Config keys in the patch replace stored ones; credentials not named stay as they are.',
      security: [{ bearer: [] }],
      request: { params: idParams, body: { required: true, ...json(instancePatchSchema) } },
      responses: { 200: { description: 'Updated', ...json(instanceViewSchema) }, ...problemResponses(400, 401, 404, 422) },
    }),
    async (c) => c.json(await instances.update(c.get('project').id, c.req.valid('param').id, c.req.valid('json')).catch(mapErrors), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/connectors/{id}',
      tags: ['Connectors'],
      summary: 'Remove a connector',
      security: [{ bearer: [] }],
      request: { params: idParams },
      responses: { 204: { description: 'Removed' }, ...problemResponses(401, 404, 422) },
    }),
    async (c) => {
      await instances.remove(c.get('project').id, c.req.valid('param').id).catch(mapErrors);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/connectors/{id}/check',
      tags: ['Connectors'],
      summary: 'Reach the CRM with this configuration (one lookup)',
      security: [{ bearer: [] }],
      request: { params: idParams },
      responses: {
        200: { description: 'Result', ...json(z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() })) },
        ...problemResponses(401, 404, 422),
      },
    }),
    async (c) => {
      const row = await instances.find(c.get('project').id, c.req.valid('param').id).catch(mapErrors);
      const started = performance.now();
      try {
        const crm = await runtime.get(row);
        // A lookup of a well-formed number reaches the CRM without writing anything.
        await crm.findContacts({ phone: '+14155552671' });
        return c.json({ ok: true, latencyMs: Math.round(performance.now() - started) }, 200);
      } catch (error) {
        return c.json({ ok: false, latencyMs: Math.round(performance.now() - started), error: error instanceof Error ? error.message : String(error) }, 200);
      }
    },
  );

  return app;
}
