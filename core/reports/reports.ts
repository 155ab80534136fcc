// Reports for supervisors and ops, computed from what the hub stores: calls (CDRs: one row per
// trunk attempt, priced) and dialer attempts (campaigns: outcome, agent, answer and end times).
// Grouped by day in a time zone the reader chooses, or by trunk, direction, campaign, agent or
// outcome. The abandon rate is the US telemarketing rule's: abandoned / answered.
import { z } from 'zod';
import { Prisma, type Db } from '../db/client.js';
import { isTimeZone } from '../time-zone.js';
import { isoInstant, type FieldError } from '../validation.js';

/** Longest span one report may cover. */
export const MAX_REPORT_DAYS = 366;
const DEFAULT_DAYS = 7;

export const callGroupings = ['day', 'trunk', 'direction', 'outcome'] as const;
export const dialerGroupings = ['day', 'campaign', 'agent', 'outcome'] as const;

export const reportQuerySchema = z.object({
  from: isoInstant().optional().describe(`Start (inclusive), ISO 8601 with offset; default ${DEFAULT_DAYS} days before "to"`),
  to: isoInstant().optional().describe('End (exclusive); default now'),
  timeZone: z.string().min(1).max(64).default('UTC').describe('IANA time zone days are counted in ("Europe/Moscow")'),
  format: z.enum(['json', 'csv']).default('json'),
});

export class ReportQueryError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((error) => `${error.field}: ${error.message}`).join('; '));
  }
}

export interface ReportSpan {
  from: Date;
  to: Date;
  timeZone: string;
}

/** The span and zone of a report, checked: from before to, at most a year, a zone the clock knows. */
export function reportSpan(query: { from?: string | undefined; to?: string | undefined; timeZone: string }, now = Date.now()): ReportSpan {
  const errors: FieldError[] = [];
  const to = query.to === undefined ? new Date(now) : new Date(query.to);
  const from = query.from === undefined ? new Date(to.getTime() - DEFAULT_DAYS * 86_400_000) : new Date(query.from);
  if (from.getTime() >= to.getTime()) errors.push({ field: 'query.from', message: 'must be before "to"' });
  else if (to.getTime() - from.getTime() > MAX_REPORT_DAYS * 86_400_000) errors.push({ field: 'query.to', message: `at most ${MAX_REPORT_DAYS} days after "from"` });
  if (!isTimeZone(query.timeZone)) errors.push({ field: 'query.timeZone', message: `unknown time zone "${query.timeZone}" (an IANA name such as Europe/Moscow)` });
  if (errors.length > 0) throw new ReportQueryError(errors);
  return { from, to, timeZone: query.timeZone };
}

export interface CallReportRow {
  key: string;
  /** Calls (one per call id, its failover attempts together). */
  calls: number;
  /** Trunk attempts (a failover is a second attempt of the same call). */
  attempts: number;
  answered: number;
  billableSeconds: number;
  /** Currency -> total cost, exact decimal text ("12.340000"). */
  cost: Record<string, string>;
}

export interface DialerReportRow {
  key: string;
  attempts: number;
  answered: number;
  connected: number;
  abandoned: number;
  busy: number;
  noAnswer: number;
  failed: number;
  /** Attempts whose lease ran out (the worker lost them): dialled at most once more, never twice at once. */
  lost: number;
  /** answered / attempts that ended. */
  answerRate: number | null;
  /** abandoned / answered (the US telemarketing rule). */
  abandonRate: number | null;
  /** Seconds from answer to end of connected calls. */
  talkSeconds: number;
}

/** Call detail records grouped by `by`; a call counts in the group of its first attempt for `calls`. */
export async function callReport(db: Db, projectId: string, span: ReportSpan, by: (typeof callGroupings)[number]): Promise<CallReportRow[]> {
  const key = {
    day: Prisma.sql`to_char(started_at AT TIME ZONE ${span.timeZone}, 'YYYY-MM-DD')`,
    trunk: Prisma.sql`trunk_name`,
    direction: Prisma.sql`direction`,
    outcome: Prisma.sql`outcome`,
  }[by];
  const rows = await db.$queryRaw<{ key: string; currency: string; calls: bigint; attempts: bigint; answered: bigint; billable: bigint; cost: Prisma.Decimal }[]>`
    SELECT ${key} AS key, currency,
           count(DISTINCT call_id) AS calls, count(*) AS attempts,
           count(*) FILTER (WHERE answered_at IS NOT NULL) AS answered,
           coalesce(sum(billable_seconds), 0) AS billable, coalesce(sum(cost), 0) AS cost
    FROM call_detail_records
    WHERE project_id = ${projectId}::uuid AND started_at >= ${span.from} AND started_at < ${span.to}
    GROUP BY 1, 2 ORDER BY 1, 2`;
  const byKey = new Map<string, CallReportRow>();
  for (const row of rows) {
    const entry = byKey.get(row.key) ?? { key: row.key, calls: 0, attempts: 0, answered: 0, billableSeconds: 0, cost: {} };
    entry.calls += Number(row.calls);
    entry.attempts += Number(row.attempts);
    entry.answered += Number(row.answered);
    entry.billableSeconds += Number(row.billable);
    entry.cost[row.currency] = new Prisma.Decimal(row.cost).toFixed(6);
    byKey.set(row.key, entry);
  }
  return [...byKey.values()];
}

/** Dialer attempts of the project's campaigns launched in the span, grouped by `by`. */
export async function dialerReport(db: Db, projectId: string, span: ReportSpan, by: (typeof dialerGroupings)[number], campaign?: string): Promise<DialerReportRow[]> {
  const key = {
    day: Prisma.sql`to_char(a.launched_at AT TIME ZONE ${span.timeZone}, 'YYYY-MM-DD')`,
    campaign: Prisma.sql`c.name`,
    agent: Prisma.sql`coalesce(a.agent_id, '(none)')`,
    outcome: Prisma.sql`coalesce(a.outcome, '(in progress)')`,
  }[by];
  const onlyCampaign = campaign === undefined ? Prisma.empty : Prisma.sql`AND c.name = ${campaign}`;
  const rows = await db.$queryRaw<{ key: string; attempts: bigint; ended: bigint; answered: bigint; connected: bigint; abandoned: bigint; busy: bigint; no_answer: bigint; failed: bigint; lost: bigint; talk: number | null }[]>`
    SELECT ${key} AS key, count(*) AS attempts,
           count(*) FILTER (WHERE a.outcome IS NOT NULL) AS ended,
           count(*) FILTER (WHERE a.answered_at IS NOT NULL) AS answered,
           count(*) FILTER (WHERE a.outcome = 'connected') AS connected,
           count(*) FILTER (WHERE a.outcome = 'abandoned') AS abandoned,
           count(*) FILTER (WHERE a.outcome = 'busy') AS busy,
           count(*) FILTER (WHERE a.outcome = 'no-answer') AS no_answer,
           count(*) FILTER (WHERE a.outcome = 'failed') AS failed,
           count(*) FILTER (WHERE a.outcome = 'lost') AS lost,
           sum(extract(epoch FROM a.ended_at - a.answered_at)) FILTER (WHERE a.outcome = 'connected' AND a.ended_at IS NOT NULL AND a.answered_at IS NOT NULL)::float8 AS talk
    FROM dialer_attempts a JOIN campaigns c ON c.id = a.campaign_id
    WHERE c.project_id = ${projectId}::uuid AND a.launched_at >= ${span.from} AND a.launched_at < ${span.to} ${onlyCampaign}
    GROUP BY 1 ORDER BY 1`;
  return rows.map((row) => {
    const answered = Number(row.answered);
    const ended = Number(row.ended);
    return {
      key: row.key,
      attempts: Number(row.attempts),
      answered,
      connected: Number(row.connected),
      abandoned: Number(row.abandoned),
      busy: Number(row.busy),
      noAnswer: Number(row.no_answer),
      failed: Number(row.failed),
      lost: Number(row.lost),
      answerRate: ended > 0 ? round4(answered / ended) : null,
      abandonRate: answered > 0 ? round4(Number(row.abandoned) / answered) : null,
      talkSeconds: Math.round(row.talk ?? 0),
    };
  });
}

export const agentGroupings = ['agent', 'day'] as const;

export interface AgentReportRow {
  key: string;
  /** Seconds in each state within the span. */
  readySeconds: number;
  ringingSeconds: number;
  busySeconds: number;
  wrapUpSeconds: number;
  notReadySeconds: number;
  loggedInSeconds: number;
  /** Calls the agent took (moves into busy). */
  calls: number;
  /** (busy + wrap-up) / (ready + ringing + busy + wrap-up): handling time over the time the agent was available or handling. */
  occupancy: number | null;
}

/**
 * Agents' time per state from the roster's recorded changes (telephony/acd/status-log.ts). Each
 * state lasts from its change to the agent's next one, clipped to the span (and to now, for the
 * state an agent is still in); the state an agent was in when the span began counts from its start.
 * By day, a stretch counts on the day (in the zone) it starts within the span.
 */
export async function agentReport(db: Db, projectId: string, span: ReportSpan, by: (typeof agentGroupings)[number], now = new Date()): Promise<AgentReportRow[]> {
  const end = new Date(Math.min(span.to.getTime(), now.getTime()));
  const key = by === 'agent' ? Prisma.sql`agent_id` : Prisma.sql`to_char(greatest(at, ${span.from}) AT TIME ZONE ${span.timeZone}, 'YYYY-MM-DD')`;
  const rows = await db.$queryRaw<{ key: string; status: string; seconds: number; calls: bigint }[]>`
    WITH stretches AS (
      SELECT agent_id, to_status, at, lead(at) OVER (PARTITION BY agent_id ORDER BY at, id) AS next_at
      FROM agent_status_changes
      WHERE project_id = ${projectId}::uuid AND at < ${end}
    )
    SELECT ${key} AS key, to_status AS status,
           coalesce(sum(extract(epoch FROM least(coalesce(next_at, ${end}), ${end}) - greatest(at, ${span.from}))), 0)::float8 AS seconds,
           count(*) FILTER (WHERE to_status = 'busy' AND at >= ${span.from}) AS calls
    FROM stretches
    WHERE coalesce(next_at, ${end}) > ${span.from}
    GROUP BY 1, 2 ORDER BY 1, 2`;
  const byKey = new Map<string, AgentReportRow>();
  for (const row of rows) {
    const entry = byKey.get(row.key) ?? { key: row.key, readySeconds: 0, ringingSeconds: 0, busySeconds: 0, wrapUpSeconds: 0, notReadySeconds: 0, loggedInSeconds: 0, calls: 0, occupancy: null };
    const seconds = Math.max(0, row.seconds);
    if (row.status === 'ready') entry.readySeconds += seconds;
    else if (row.status === 'ringing') entry.ringingSeconds += seconds;
    else if (row.status === 'busy') entry.busySeconds += seconds;
    else if (row.status === 'wrap-up') entry.wrapUpSeconds += seconds;
    else if (row.status === 'not-ready') entry.notReadySeconds += seconds;
    if (row.status !== 'logged-out') entry.loggedInSeconds += seconds;
    entry.calls += Number(row.calls);
    byKey.set(row.key, entry);
  }
  return [...byKey.values()].map((entry) => {
    const handling = entry.busySeconds + entry.wrapUpSeconds;
    const available = handling + entry.readySeconds + entry.ringingSeconds;
    const rounded = (value: number) => Math.round(value);
    return {
      ...entry,
      readySeconds: rounded(entry.readySeconds),
      ringingSeconds: rounded(entry.ringingSeconds),
      busySeconds: rounded(entry.busySeconds),
      wrapUpSeconds: rounded(entry.wrapUpSeconds),
      notReadySeconds: rounded(entry.notReadySeconds),
      loggedInSeconds: rounded(entry.loggedInSeconds),
      occupancy: available > 0 ? round4(handling / available) : null,
    };
  });
}

const round4 = (value: number) => Math.round(value * 10_000) / 10_000;

/** Rows as CSV (RFC 4180), columns in the rows' key order; nested cost as one column per currency. */
export function toCsv(rows: readonly Record<string, unknown>[]): string {
  const flat = rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(row)) {
      if (value !== null && typeof value === 'object') for (const [inner, innerValue] of Object.entries(value)) out[`${name}_${inner}`] = innerValue;
      else out[name] = value;
    }
    return out;
  });
  const columns = [...new Set(flat.flatMap((row) => Object.keys(row)))];
  const cell = (value: unknown) => {
    const text = value === null || value === undefined ? '' : String(value);
    // A cell a spreadsheet would run as a formula is quoted with a leading apostrophe.
    const safe = /^[=+\-@\t\r]/.test(text) && !/^-?\d/.test(text) ? `'${text}` : text;
    return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
  };
  return [columns.join(','), ...flat.map((row) => columns.map((column) => cell(row[column])).join(','))].join('\r\n') + '\r\n';
}
