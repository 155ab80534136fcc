// Reports (core/reports): calls by day, trunk, direction or outcome, with their cost; dialer attempts
// by day, campaign, agent or outcome, with the abandon rate. JSON, or CSV for a spreadsheet.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { Db } from '../../core/db/client.js';
import { agentGroupings, agentReport, callGroupings, callReport, dialerGroupings, dialerReport, ReportQueryError, reportQuerySchema, reportSpan, toCsv, type ReportSpan } from '../../core/reports/reports.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { validationProblem } from '../problem.js';

const callRow = z
  .object({ key: z.string(), calls: z.number(), attempts: z.number(), answered: z.number(), billableSeconds: z.number(), cost: z.record(z.string(), z.string()).describe('Currency -> total, exact decimal') })
  .openapi('CallReportRow');
const dialerRow = z
  .object({
    key: z.string(),
    attempts: z.number(),
    answered: z.number(),
    connected: z.number(),
    abandoned: z.number(),
    busy: z.number(),
    noAnswer: z.number(),
    failed: z.number(),
    lost: z.number(),
    answerRate: z.number().nullable(),
    abandonRate: z.number().nullable().describe('abandoned / answered'),
    talkSeconds: z.number(),
  })
  .openapi('DialerReportRow');

const agentRow = z
  .object({
    key: z.string(),
    readySeconds: z.number(),
    ringingSeconds: z.number(),
    busySeconds: z.number(),
    wrapUpSeconds: z.number(),
    notReadySeconds: z.number(),
    loggedInSeconds: z.number(),
    calls: z.number(),
    occupancy: z.number().nullable().describe('(busy + wrap-up) / (ready + ringing + busy + wrap-up)'),
  })
  .openapi('AgentReportRow');

const reportBody = <S extends z.ZodType>(row: S) => ({
  content: {
    'application/json': { schema: z.object({ from: z.string(), to: z.string(), timeZone: z.string(), by: z.string(), rows: z.array(row) }) },
    'text/csv': { schema: z.string() },
  },
});

function spanOf(query: { from?: string | undefined; to?: string | undefined; timeZone: string }): ReportSpan {
  try {
    return reportSpan(query);
  } catch (error) {
    if (error instanceof ReportQueryError) throw validationProblem(error.errors, 'The report query is invalid.');
    throw error;
  }
}

function answer(c: Context, format: 'json' | 'csv', name: string, span: ReportSpan, by: string, rows: readonly object[]): Response {
  c.header('cache-control', 'no-store');
  if (format === 'csv') {
    c.header('content-disposition', `attachment; filename="${name}-by-${by}.csv"`);
    return c.body(toCsv(rows as Record<string, unknown>[]), 200, { 'content-type': 'text/csv; charset=utf-8' });
  }
  return c.json({ from: span.from.toISOString(), to: span.to.toISOString(), timeZone: span.timeZone, by, rows }, 200);
}

export function reportRoutes({ db }: { db: Db }) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/calls',
      tags: ['Reports'],
      summary: 'Calls (CDRs) in [from, to) by day, trunk, direction or outcome: calls, attempts, answered, billable seconds, cost per currency',
      security: [{ bearer: [] }],
      request: { query: reportQuerySchema.extend({ by: z.enum(callGroupings).default('day') }) },
      responses: { 200: { description: 'The report', ...reportBody(callRow) }, ...problemResponses(401, 422) },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const span = spanOf(query);
      return answer(c, query.format, 'calls', span, query.by, await callReport(db, c.get('project').id, span, query.by));
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/dialer',
      tags: ['Reports'],
      summary: 'Dialer attempts launched in [from, to) by day, campaign, agent or outcome, with answer and abandon rates',
      security: [{ bearer: [] }],
      request: { query: reportQuerySchema.extend({ by: z.enum(dialerGroupings).default('day'), campaign: z.string().min(1).max(100).optional().describe('One campaign by name') }) },
      responses: { 200: { description: 'The report', ...reportBody(dialerRow) }, ...problemResponses(401, 422) },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const span = spanOf(query);
      return answer(c, query.format, 'dialer', span, query.by, await dialerReport(db, c.get('project').id, span, query.by, query.campaign));
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/agents',
      tags: ['Reports'],
      summary: "Agents' work in [from, to) by agent or day: time ready, ringing, busy, in wrap-up, not ready and logged in, calls taken, occupancy",
      security: [{ bearer: [] }],
      request: { query: reportQuerySchema.extend({ by: z.enum(agentGroupings).default('agent') }) },
      responses: { 200: { description: 'The report', ...reportBody(agentRow) }, ...problemResponses(401, 422) },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const span = spanOf(query);
      return answer(c, query.format, 'agents', span, query.by, await agentReport(db, c.get('project').id, span, query.by));
    },
  );

  return app;
}
