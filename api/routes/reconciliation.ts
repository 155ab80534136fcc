// The project's survivorship rules: GET and PUT /v1/reconciliation. Rules name
// sources by connector instance id; every id is checked against the project's
// instances, so a typo is a 422 naming where it sits, not a rule that silently
// never matches.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Db } from '../../core/db/client.js';
import { ProjectNotFoundError, ProjectReconciliation, RulesValidationError } from '../../core/reconcile/project-rules.js';
import { reconcileRulesSchema } from '../../core/reconcile/rules.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError, validationProblem } from '../problem.js';

export interface ReconciliationRoutesDeps {
  db: Db;
  /** The rules were saved: cards merged under the old ones (this process's screen pop) are stale. */
  onChanged?: ((projectId: string) => void) | undefined;
}

const viewSchema = z.object({
  rules: reconcileRulesSchema,
  sources: z
    .array(z.object({ id: z.uuid(), name: z.string(), kind: z.string(), isPrimary: z.boolean(), legacy: z.boolean() }))
    .describe('The project\'s connector instances, primary first: the ids rules may name'),
  storedErrors: z
    .array(z.object({ field: z.string(), message: z.string() }))
    .optional()
    .describe('The stored rules are invalid (edited outside the API): why; `rules` are the defaults in force'),
});

const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });

function mapErrors(error: unknown): never {
  if (error instanceof RulesValidationError) throw validationProblem(error.errors, 'The reconciliation rules are invalid.');
  if (error instanceof ProjectNotFoundError) throw new ProblemError(404, 'Not found', error.message);
  throw error;
}

export function reconciliationRoutes({ db, onChanged }: ReconciliationRoutesDeps) {
  const projectRules = new ProjectReconciliation(db);
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reconciliation',
      tags: ['Reconciliation'],
      summary: 'The project\'s survivorship rules and the sources they may name',
      security: [{ bearer: [] }],
      responses: { 200: { description: 'Rules', ...json(viewSchema) }, ...problemResponses(401, 404) },
    }),
    async (c) => c.json(await projectRules.get(c.get('project').id).catch(mapErrors), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/reconciliation',
      tags: ['Reconciliation'],
      summary: 'Replace the project\'s survivorship rules',
      description:
        'Per field: `rule` (ranked | most-recent | agent-wins with a fallback), `ignoreEmpty`, `owner` and `mirrors` ' +
        '(written with the surviving value). `legacySources` are never written and win only where no other source has a value. ' +
        'Sources are connector instance ids of this project. `match` says what must agree, beyond the phone, for two CRMs\' records to be one contact.',
      security: [{ bearer: [] }],
      request: { body: { required: true, ...json(reconcileRulesSchema) } },
      responses: { 200: { description: 'Saved', ...json(viewSchema) }, ...problemResponses(400, 401, 404, 422) },
    }),
    async (c) => {
      const projectId = c.get('project').id;
      const saved = await projectRules.put(projectId, c.req.valid('json')).catch(mapErrors);
      onChanged?.(projectId);
      return c.json(saved, 200);
    },
  );

  return app;
}
