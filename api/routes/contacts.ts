// GET /v1/contacts/lookup: the screen pop, the caller's merged card from every
// CRM of the project, answered within a deadline (core/screenpop).
// GET /v1/contacts/links: which CRM record is which contact, flagged ones first to look at.
// GET /v1/contacts/journey: the contact's journey as it runs (merged view, set-aside records, calls).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { queryInteger } from '../../core/validation.js';
import type { ConnectorInstanceRecord } from '../../connectors/runtime.js';
import type { ConnectorOperations } from '../../connectors/sdk/types.js';
import type { Db } from '../../core/db/client.js';
import type { Logger } from '../../core/logger.js';
import { normalizePhone } from '../../core/phone.js';
import type { TemporalGateway } from '../../core/temporal/gateway.js';
import { InvalidLinkCursorError, listContactLinks } from '../../core/webhooks/contact-links.js';
import { describeJourney } from '../../workflows/journey/client.js';
import { journeyWorkflowId } from '../../workflows/journey/shared.js';
import { deadlineBounds, InvalidPhoneError, ScreenPopService } from '../../core/screenpop/service.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { validationProblem } from '../problem.js';

export interface ContactRoutesDeps {
  db: Db;
  /** Where the contacts' journeys run (GET /contacts/journey). */
  temporal: TemporalGateway;
  runtime: { get(instance: ConnectorInstanceRecord): Promise<ConnectorOperations> };
  logger?: Logger;
  /** A service shared with other parts of the process (to invalidate its cache); built from the deps above when absent. */
  screenPop?: ScreenPopService;
}

const sourceSchema = z.object({
  instanceId: z.string(),
  name: z.string(),
  kind: z.string(),
  status: z.enum(['ok', 'not-found', 'timeout', 'error']).describe('timeout: no answer by the deadline (still asked; a later lookup shows it)'),
  latencyMs: z.number(),
  externalIds: z.array(z.string()),
  error: z.string().optional(),
  setAside: z.string().optional().describe('The CRM holds the number, but the match rule says its record is someone else: left off the card, and why'),
});

const cardSchema = z
  .object({
    phone: z.string().describe('E.164'),
    found: z.boolean(),
    partial: z.boolean().describe('Some CRM contributed nothing (timeout or error)'),
    stale: z.boolean().describe('Some CRM is still being asked; ask again (the next ring) for the complete card'),
    fetchedAt: z.string(),
    cache: z.enum(['hit', 'miss']),
    ageMs: z.number(),
    tookMs: z.number(),
    contact: z.object({
      name: z.string().nullable(),
      email: z.string().nullable(),
      phone: z.string(),
      responsibleAgent: z.string().nullable(),
      fields: z.record(z.string(), z.unknown()),
      provenance: z.record(z.string(), z.string()).describe('Field -> connector instance whose value survived'),
    }),
    applications: z.array(
      z.object({
        number: z.string(),
        status: z.string().nullable(),
        open: z.boolean(),
        sources: z.array(z.object({ instanceId: z.string(), externalId: z.string() })),
      }),
    ),
    lastInteractions: z.array(z.object({ at: z.string(), kind: z.string(), subject: z.string(), instanceId: z.string() })),
    sources: z.array(sourceSchema),
    conflicts: z.array(
      z.object({
        field: z.string(),
        rule: z.string(),
        chosenValue: z.unknown(),
        chosenSource: z.string().nullable(),
        candidates: z.array(z.object({ source: z.string(), sourceName: z.string(), value: z.unknown(), updatedAt: z.string().nullable() })),
      }),
    ),
  })
  .openapi('ScreenPopCard');

const lookupRoute = createRoute({
  method: 'get',
  path: '/lookup',
  tags: ['Contacts'],
  summary: 'Screen pop: the caller\'s merged card from every CRM',
  description:
    'Asks every CRM of the project at once, each within `deadlineMs`. A CRM that misses it is listed with status `timeout` ' +
    'and the card is `partial` and `stale`; its answer still arrives and completes the cached card. Cards are cached ' +
    'for 10 s per number (`cache: hit`), and concurrent lookups of one number share one round of CRM requests.',
  security: [{ bearer: [] }],
  request: {
    query: z.object({
      phone: z.string().min(1).max(64).openapi({ example: '+1 415 555 2671' }).describe('Any format; national numbers are read in the project\'s region'),
      deadlineMs: z.coerce
        .number()
        .int()
        .min(deadlineBounds.minMs)
        .max(deadlineBounds.maxMs)
        .optional()
        .describe('How long each CRM may take (default 1000)'),
    }),
  },
  responses: {
    200: { description: 'The card', content: { 'application/json': { schema: cardSchema } } },
    ...problemResponses(401, 422),
  },
});

const linkSchema = z
  .object({
    contactPhone: z.string().describe('E.164: the contact'),
    connectorInstanceId: z.string(),
    connector: z.string().nullable().describe('The instance\'s name; null once it is deleted'),
    externalId: z.string().describe('The record\'s id in that CRM'),
    ambiguous: z.boolean().describe('One of several records of the number in its CRM, or set aside by the match rule: not merged without doubt'),
    updatedAt: z.string(),
  })
  .openapi('ContactLink');

const linksRoute = createRoute({
  method: 'get',
  path: '/links',
  tags: ['Contacts'],
  summary: 'Which CRM record is which contact (the identity link table)',
  description:
    'Every record the hub has tied to a contact, by phone then record; `ambiguous=true` lists the ones to look at: a CRM holding the number ' +
    'more than once, or a record the project\'s match rule set aside as someone else. Pages with `cursor` until `nextCursor` is null.',
  security: [{ bearer: [] }],
  request: {
    query: z.object({
      phone: z.string().min(1).max(64).optional().describe('One contact, in any format the project\'s region reads'),
      ambiguous: z.enum(['true', 'false']).optional(),
      cursor: z.string().optional(),
      limit: queryInteger(1, 200).default(50),
    }),
  },
  responses: {
    200: { description: 'A page of links', content: { 'application/json': { schema: z.object({ links: z.array(linkSchema), nextCursor: z.string().nullable() }) } } },
    ...problemResponses(401, 422),
  },
});

const journeyRoute = createRoute({
  method: 'get',
  path: '/journey',
  tags: ['Contacts'],
  summary: "A contact's journey: its merged view across the CRMs and what happened to it",
  description:
    'The `contactJourney` workflow of the number, asked within 3 s: `status` is Temporal\'s (RUNNING, COMPLETED...), `not-started` for a number ' +
    'the hub has not seen, or `unknown` with `reason` when Temporal does not answer. `state` holds the merged view, conflicts, records the match ' +
    'rule set aside (`setAsideRecords`), tasks, CRM changes, calls and dialer outcomes.',
  security: [{ bearer: [] }],
  request: { query: z.object({ phone: z.string().min(1).max(64).describe('Any format; national numbers are read in the project\'s region') }) },
  responses: {
    200: {
      description: 'The journey',
      content: {
        'application/json': {
          schema: z.object({ workflowId: z.string(), status: z.string(), state: z.record(z.string(), z.unknown()).optional(), reason: z.string().optional() }),
        },
      },
    },
    ...problemResponses(401, 422),
  },
});

/** The E.164 form of a phone in a query, read in the project's region, or a 422 naming `query.phone`. */
function queryPhone(phone: string, defaultRegion: string): string {
  const normalized = normalizePhone(phone, defaultRegion);
  if (!normalized.ok) throw validationProblem([{ field: 'query.phone', message: normalized.reason }], 'The phone number is not valid.');
  return normalized.e164;
}

export function contactRoutes(deps: ContactRoutesDeps) {
  const screenPop = deps.screenPop ?? new ScreenPopService({ db: deps.db, runtime: deps.runtime, ...(deps.logger ? { logger: deps.logger } : {}) });
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(lookupRoute, async (c) => {
    const project = c.get('project');
    const { phone, deadlineMs } = c.req.valid('query');
    const card = await screenPop.lookup({ projectId: project.id, phone, defaultRegion: project.defaultRegion, deadlineMs }).catch((error: unknown) => {
      if (error instanceof InvalidPhoneError) throw validationProblem([{ field: 'query.phone', message: error.reason }], 'The phone number is not valid.');
      throw error;
    });
    // A caller's personal data: never kept by a proxy or the browser.
    c.header('cache-control', 'no-store');
    return c.json(card, 200);
  });

  app.openapi(journeyRoute, async (c) => {
    const project = c.get('project');
    const workflowId = journeyWorkflowId(project.id, queryPhone(c.req.valid('query').phone, project.defaultRegion));
    const view = await deps.temporal.client().then(
      (client) => describeJourney(client, workflowId),
      (error: unknown) => ({ workflowId, status: 'unknown' as const, reason: error instanceof Error ? error.message : String(error) }),
    );
    c.header('cache-control', 'no-store');
    return c.json(view as { workflowId: string; status: string; state?: Record<string, unknown>; reason?: string }, 200);
  });

  app.openapi(linksRoute, async (c) => {
    const project = c.get('project');
    const { phone, ambiguous, cursor, limit } = c.req.valid('query');
    const contactPhone = phone === undefined ? undefined : queryPhone(phone, project.defaultRegion);
    const page = await listContactLinks(deps.db, project.id, {
      limit,
      ...(contactPhone === undefined ? {} : { contactPhone }),
      ...(ambiguous === undefined ? {} : { ambiguous: ambiguous === 'true' }),
      ...(cursor === undefined ? {} : { cursor }),
    }).catch((error: unknown) => {
      if (error instanceof InvalidLinkCursorError) throw validationProblem([{ field: 'query.cursor', message: error.message }]);
      throw error;
    });
    c.header('cache-control', 'no-store');
    return c.json(page, 200);
  });

  return app;
}
