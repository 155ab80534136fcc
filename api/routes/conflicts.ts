// The conflict journal for supervisors: /v1/conflicts lists what CRMs disagree
// on (with every source's value and the rule's choice), one conflict, and
// resolving one with the value that should stand.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { queryInteger } from '../../core/validation.js';
import type { Db } from '../../core/db/client.js';
import { normalizePhone } from '../../core/phone.js';
import {
  ConflictAlreadyResolvedError,
  ConflictJournal,
  ConflictNotFoundError,
  InvalidCursorError,
} from '../../core/reconcile/journal.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError, validationProblem } from '../problem.js';

export interface ConflictRoutesDeps {
  db: Db;
  /** A resolution queued its write-back for the contact's journey (outbox). */
  onQueued: () => void;
  /** A supervisor decided for this contact: cached screen-pop cards of the number are stale. */
  onResolved?: ((projectId: string, contactPhone: string) => void) | undefined;
}

const candidateSchema = z.object({
  source: z.string().describe('Connector instance id'),
  sourceName: z.string(),
  value: z.unknown(),
  updatedAt: z.string().optional(),
  legacy: z.boolean().optional(),
  externalId: z.string().optional(),
  origin: z.enum(['crm', 'agent']).optional(),
});

const conflictSchema = z
  .object({
    id: z.uuid(),
    contactPhone: z.string().describe('E.164'),
    field: z.string(),
    candidates: z.array(candidateSchema).describe('What each source said'),
    rule: z.string().describe('The survivorship rule applied, e.g. "ranked[crm-a>crm-b]"'),
    chosenValue: z.unknown().describe('What the rule chose'),
    chosenSource: z.string().nullable(),
    status: z.enum(['open', 'resolved']),
    resolvedBy: z.string().nullable(),
    resolution: z
      .object({
        reason: z.enum(['supervisor', 'superseded', 'sources-agree']),
        value: z.unknown().optional(),
        note: z.string().optional(),
        supersededBy: z.string().optional(),
      })
      .nullable()
      .describe('supervisor: resolved through the API; superseded: the sources changed and a newer conflict holds them; sources-agree: the disagreement ended'),
    createdAt: z.string(),
    resolvedAt: z.string().nullable(),
  })
  .openapi('Conflict');

const idParams = z.object({ id: z.uuid() });
const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });

function notFound(id: string): ProblemError {
  return new ProblemError(404, 'Not found', `No conflict ${id} in this project.`, [{ field: 'path.id', message: 'no such conflict in this project' }]);
}

function mapErrors(id: string) {
  return (error: unknown): never => {
    if (error instanceof ConflictNotFoundError) throw notFound(id);
    if (error instanceof ConflictAlreadyResolvedError) {
      throw new ProblemError(409, 'Conflict', error.message, [{ field: 'path.id', message: `already resolved by ${error.conflict.resolvedBy ?? 'someone'}` }]);
    }
    throw error;
  };
}

export function conflictRoutes({ db, onQueued, onResolved }: ConflictRoutesDeps) {
  const journal = new ConflictJournal(db);
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/conflicts',
      tags: ['Conflicts'],
      summary: 'The conflict journal, oldest first',
      description: 'Pages with `cursor` (the `nextCursor` of the previous page) until `nextCursor` is null.',
      security: [{ bearer: [] }],
      request: {
        query: z.object({
          status: z.enum(['open', 'resolved']).optional(),
          phone: z.string().optional().describe('The contact\'s phone, in any format the project\'s region reads'),
          cursor: z.string().optional(),
          limit: queryInteger(1, 200).default(50),
        }),
      },
      responses: {
        200: { description: 'A page of conflicts', ...json(z.object({ conflicts: z.array(conflictSchema), nextCursor: z.string().nullable() })) },
        ...problemResponses(401, 422),
      },
    }),
    async (c) => {
      const project = c.get('project');
      const { status, phone, cursor, limit } = c.req.valid('query');
      let contactPhone: string | undefined;
      if (phone !== undefined) {
        const normalized = normalizePhone(phone, project.defaultRegion);
        if (!normalized.ok) throw validationProblem([{ field: 'query.phone', message: normalized.reason }]);
        contactPhone = normalized.e164;
      }
      const page = await journal
        .list(project.id, {
          limit,
          ...(status ? { status } : {}),
          ...(contactPhone ? { contactPhone } : {}),
          ...(cursor !== undefined ? { cursor } : {}),
        })
        .catch((error: unknown) => {
          if (error instanceof InvalidCursorError) throw validationProblem([{ field: 'query.cursor', message: error.message }]);
          throw error;
        });
      return c.json(page, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/conflicts/{id}',
      tags: ['Conflicts'],
      summary: 'One conflict',
      security: [{ bearer: [] }],
      request: { params: idParams },
      responses: { 200: { description: 'The conflict', ...json(conflictSchema) }, ...problemResponses(401, 404, 422) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      return c.json(await journal.get(c.get('project').id, id).catch(mapErrors(id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/conflicts/{id}/resolve',
      tags: ['Conflicts'],
      summary: 'Resolve a conflict with the value that should stand',
      description:
        'A conflict is resolved once: a second resolve answers 409 naming who resolved it. The value becomes the field\'s survivor for the contact: ' +
        'the contact\'s journey writes it to the field\'s owner and mirrors, and it stands until a CRM says something new for the field.',
      security: [{ bearer: [] }],
      request: {
        params: idParams,
        body: {
          required: true,
          ...json(
            z
              .object({
                value: z
                  .unknown()
                  .refine((value) => value !== undefined, 'required: the value that should stand (null clears the field)')
                  .describe('Any JSON value, one of the candidates or a corrected one'),
                resolvedBy: z.string().trim().min(1).max(200).describe('Who decided (supervisor login or name)'),
                note: z.string().max(2000).optional(),
              })
              .strict(),
          ),
        },
      },
      responses: { 200: { description: 'Resolved', ...json(conflictSchema) }, ...problemResponses(400, 401, 404, 409, 422) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const resolved = await journal
        .resolve(c.get('project').id, id, { value: body.value, resolvedBy: body.resolvedBy, note: body.note })
        .catch(mapErrors(id));
      onQueued();
      onResolved?.(c.get('project').id, resolved.contactPhone);
      return c.json(resolved, 200);
    },
  );

  return app;
}
