// Telephony configuration of a project: trunks, ACD queues, IVR menus (PUT by name, idempotent),
// and the call detail records. Bodies are validated by the telephony schemas themselves
// (telephony/trunks/config.ts, telephony/acd/queue-config.ts, telephony/ivr/menu.ts), so the API
// and the runtime can never disagree on what a valid configuration is.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Db } from '../../core/db/client.js';
import { listCallDetailRecords } from '../../telephony/cdr/store.js';
import { TelephonyConfigError } from '../../telephony/config-errors.js';
import type { InboundNumberStore } from '../../telephony/inbound/numbers.js';
import type { CallFlowStore } from '../../telephony/ivr/call-flow-store.js';
import { announceTelephonyConfigChanged } from '../../telephony/runtime/config-changes.js';
import type { AgentAccountStore } from '../../telephony/registration/agent-accounts.js';
import type { TrunkStatusStore } from '../../telephony/trunks/status-store.js';
import type { TrunkStore } from '../../telephony/trunks/store.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError } from '../problem.js';
import { isoInstant } from '../../core/validation.js';

export interface TelephonyRoutesDeps {
  db: Db;
  trunks: TrunkStore;
  flows: CallFlowStore;
  numbers: InboundNumberStore;
  /** Agents' SIP accounts (what their phones register with). */
  agents: AgentAccountStore;
  /** Trunk health as the telephony process reports it. */
  trunkStatus: TrunkStatusStore;
}

const nameParams = z.object({ name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and "-"') });
const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });
const anyObject = (name: string, description: string) => z.record(z.string(), z.unknown()).describe(description).openapi(name);

const trunkBody = anyObject('Trunk', 'kind ("carrier" | "pbx"), host, transport, auth ({mode:"registration",username,password} | {mode:"ip"}), priority, currency, routes [{prefix, pricePerMinute, billingIncrement, strip, prepend}], health. The password is write-only: shown as "set".');
const queueBody = anyObject('Queue', 'agents, ringTimeoutMs, preferredAgentWindowMs, maxWaitMs, wrapUpMs. Distribution is always longest-idle.');
const agentBody = anyObject('AgentSipAccount', 'username (SIP user part the phone registers as; default: the agent id), password (digest, at least 8 characters; required on create, write-only: shown as "set", kept when omitted).');
const ivrBody = anyObject('IvrMenu', 'start, fallbackQueue, maxVisitsPerNode, maxDurationMs, nodes {id: menu | play | crm | queue | transfer | hangup}.');
const numberBody = anyObject('InboundNumber', 'Where calls to this number (digits only, E.164 without "+") go: {"ivr": menu} or {"queue": queue}. A number belongs to one project.');

function mapErrors(error: unknown): never {
  if (error instanceof TelephonyConfigError) {
    const title = error.status === 404 ? 'Not found' : error.status === 409 ? 'Conflict' : 'Invalid request';
    throw new ProblemError(error.status, title, error.message, error.errors.length > 0 ? error.errors : undefined);
  }
  throw error;
}

export function telephonyRoutes({ db, trunks, flows, numbers, agents, trunkStatus }: TelephonyRoutesDeps) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  /** A queue or IVR menu that an inbound number sends callers to cannot be removed from under it. */
  const refuseIfNumbersUse = async (projectId: string, kind: 'queue' | 'ivr', name: string) => {
    const users = await numbers.numbersUsing(projectId, kind, name);
    if (users.length > 0) {
      throw new TelephonyConfigError(409, `${kind === 'ivr' ? 'IVR menu' : 'Queue'} "${name}" receives the calls of number(s) ${users.join(', ')}; change them first.`, [{ field: 'name', message: 'in use' }]);
    }
  };

  const resources = [
    {
      path: 'trunks', tag: 'Telephony', what: 'trunk', body: trunkBody, listKey: 'trunks',
      put: async (projectId: string, name: string, input: unknown) => {
        const { trunk, created } = await trunks.put(projectId, name, input);
        return { value: trunk, created };
      },
      list: (projectId: string) => trunks.list(projectId),
      get: (projectId: string, name: string) => trunks.get(projectId, name),
      remove: (projectId: string, name: string) => trunks.remove(projectId, name, (trunk) => flows.menusUsing(projectId, 'trunk', trunk)),
    },
    {
      path: 'queues', tag: 'Telephony', what: 'ACD queue', body: queueBody, listKey: 'queues',
      put: async (projectId: string, name: string, input: unknown) => {
        const { queue, created } = await flows.putQueue(projectId, name, input);
        return { value: queue, created };
      },
      list: (projectId: string) => flows.list(projectId, 'queue'),
      get: (projectId: string, name: string) => flows.get(projectId, 'queue', name),
      remove: async (projectId: string, name: string) => {
        await refuseIfNumbersUse(projectId, 'queue', name);
        await flows.remove(projectId, 'queue', name);
      },
    },
    {
      path: 'agents', tag: 'Telephony', what: 'agent SIP account', body: agentBody, listKey: 'agents',
      put: async (projectId: string, name: string, input: unknown) => {
        const { account, created } = await agents.put(projectId, name, input);
        return { value: account, created };
      },
      list: (projectId: string) => agents.list(projectId),
      get: (projectId: string, name: string) => agents.get(projectId, name),
      remove: (projectId: string, name: string) => agents.remove(projectId, name),
    },
    {
      path: 'ivr-menus', tag: 'Telephony', what: 'IVR menu', body: ivrBody, listKey: 'menus',
      put: async (projectId: string, name: string, input: unknown) => {
        const { menu, created } = await flows.putIvr(projectId, name, input);
        return { value: menu, created };
      },
      list: (projectId: string) => flows.list(projectId, 'ivr'),
      get: (projectId: string, name: string) => flows.get(projectId, 'ivr', name),
      remove: async (projectId: string, name: string) => {
        await refuseIfNumbersUse(projectId, 'ivr', name);
        await flows.remove(projectId, 'ivr', name);
      },
    },
    {
      path: 'numbers', tag: 'Telephony', what: 'inbound number', body: numberBody, listKey: 'numbers',
      put: (projectId: string, name: string, input: unknown) => numbers.put(projectId, name, input),
      list: (projectId: string) => numbers.list(projectId),
      get: (projectId: string, name: string) => numbers.get(projectId, name),
      remove: (projectId: string, name: string) => numbers.remove(projectId, name),
    },
  ];

  for (const resource of resources) {
    app.openapi(
      createRoute({
        method: 'put',
        path: `/${resource.path}/{name}`,
        tags: [resource.tag],
        summary: `Create or replace a ${resource.what}`,
        security: [{ bearer: [] }],
        request: { params: nameParams, body: { required: true, ...json(resource.body) } },
        responses: {
          200: { description: 'Replaced', ...json(resource.body) },
          201: { description: 'Created', ...json(resource.body) },
          ...problemResponses(400, 401, 409, 422),
        },
      }),
      async (c) => {
        const projectId = c.get('project').id;
        const { value, created } = await resource.put(projectId, c.req.valid('param').name, c.req.valid('json')).catch(mapErrors);
        await announceTelephonyConfigChanged(db, projectId);
        return c.json(value as Record<string, unknown>, created ? 201 : 200);
      },
    );
    app.openapi(
      createRoute({
        method: 'get',
        path: `/${resource.path}`,
        tags: [resource.tag],
        summary: `The project's ${resource.what}s`,
        security: [{ bearer: [] }],
        responses: { 200: { description: 'List', ...json(z.record(z.string(), z.array(resource.body))) }, ...problemResponses(401) },
      }),
      async (c) => c.json({ [resource.listKey]: (await resource.list(c.get('project').id)) as Record<string, unknown>[] }, 200),
    );
    app.openapi(
      createRoute({
        method: 'get',
        path: `/${resource.path}/{name}`,
        tags: [resource.tag],
        summary: `One ${resource.what}`,
        security: [{ bearer: [] }],
        request: { params: nameParams },
        responses: { 200: { description: resource.what, ...json(resource.body) }, ...problemResponses(401, 404, 422) },
      }),
      async (c) => c.json((await resource.get(c.get('project').id, c.req.valid('param').name).catch(mapErrors)) as Record<string, unknown>, 200),
    );
    app.openapi(
      createRoute({
        method: 'delete',
        path: `/${resource.path}/{name}`,
        tags: [resource.tag],
        summary: `Remove a ${resource.what}`,
        security: [{ bearer: [] }],
        request: { params: nameParams },
        responses: { 204: { description: 'Removed' }, ...problemResponses(401, 404, 409, 422) },
      }),
      async (c) => {
        const projectId = c.get('project').id;
        await resource.remove(projectId, c.req.valid('param').name).catch(mapErrors);
        await announceTelephonyConfigChanged(db, projectId);
        return c.body(null, 204);
      },
    );
  }

  const trunkStatusSchema = z
    .object({
      trunk: z.string(), status: z.string(), since: z.string(), lastFailure: z.string().nullable(),
      registration: z.record(z.string(), z.unknown()).nullable().describe('registration trunks: status (registering | registered | failed), expiresAt, lastAttemptAt, sipStatus, lastError, consecutiveFailures, nextAttemptAt'),
      updatedAt: z.string(),
    })
    .openapi('TrunkStatus');

  app.openapi(
    createRoute({
      method: 'get',
      path: '/trunks/{name}/status',
      tags: ['Telephony'],
      summary: "A trunk's health as the telephony process last reported it: up/down and why, registration with the carrier",
      security: [{ bearer: [] }],
      request: { params: nameParams },
      responses: { 200: { description: 'Status', ...json(trunkStatusSchema) }, ...problemResponses(401, 404, 422) },
    }),
    async (c) => c.json(await trunkStatus.get(c.get('project').id, c.req.valid('param').name).catch(mapErrors), 200),
  );

  const cdrSchema = z
    .object({
      callId: z.string(), attempt: z.number().int(), trunk: z.string(), outcome: z.string(), sipStatus: z.number().int().nullable(),
      startedAt: z.string(), answeredAt: z.string().nullable(), endedAt: z.string(), durationMs: z.number().int(),
      billableSeconds: z.number().int(), billingIncrement: z.string(), pricePerMinute: z.string(), cost: z.string(), currency: z.string(),
    })
    .openapi('CallDetailRecord');

  app.openapi(
    createRoute({
      method: 'get',
      path: '/cdrs',
      tags: ['Telephony'],
      summary: 'Call detail records started in [from, to): one per trunk attempt, cost as exact decimals',
      security: [{ bearer: [] }],
      request: { query: z.object({ from: isoInstant(), to: isoInstant() }) },
      responses: { 200: { description: 'Records', ...json(z.object({ records: z.array(cdrSchema) })) }, ...problemResponses(401, 422) },
    }),
    async (c) => {
      const { from, to } = c.req.valid('query');
      if (Date.parse(from) >= Date.parse(to)) {
        throw new ProblemError(422, 'Invalid request', '"from" must be before "to".', [{ field: 'query.from', message: 'must be before "to"' }]);
      }
      const records = await listCallDetailRecords(db, c.get('project').id, { from: new Date(from), to: new Date(to) });
      return c.json({
        records: records.map((record) => ({
          ...record,
          startedAt: record.startedAt.toISOString(),
          answeredAt: record.answeredAt?.toISOString() ?? null,
          endedAt: record.endedAt.toISOString(),
        })),
      }, 200);
    },
  );

  return app;
}
