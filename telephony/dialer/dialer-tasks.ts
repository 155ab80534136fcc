/**
 * Tasks to dial, as a lender's portal pushes them: batches where every row is judged on its own
 * (good rows are stored, bad rows come back with the field and the reason), idempotent by the
 * client's id or, without one, by the row's content, up to 5 phones per task, extra fields kept for
 * the agent. Listing by state with keyset pages; removal unless the task is being dialed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Prisma, Db } from '../../core/db/client.js';
import { decodeTimeCursor, encodeTimeCursor } from '../../core/db/time-cursor.js';
import { normalizePhone } from '../../core/phone.js';
import { fieldErrorsFrom, isUuid, type FieldError } from '../../core/validation.js';
import { TelephonyConfigError } from '../config-errors.js';
import { isTimeZone } from '../../core/time-zone.js';
import { zonesOfNumber } from './contact-zones.js';

export const MAX_PHONES_PER_TASK = 5;
export const MAX_TASKS_PER_BATCH = 1000;

const fieldValue = z.union([z.string().max(2000), z.number(), z.boolean(), z.null()]);

export const dialerTaskInputSchema = z
  .object({
    externalId: z.string().trim().min(1).max(200).optional().describe('Your id for the task (e.g. the application number); sending it again adds nothing'),
    phones: z.array(z.string().max(64)).min(1).max(MAX_PHONES_PER_TASK).describe('1 to 5 numbers, dialed in this order; national numbers are read in the project region'),
    name: z.string().trim().max(200).optional(),
    fields: z
      .record(z.string().min(1).max(100), fieldValue)
      .refine((fields) => Object.keys(fields).length <= 50, 'at most 50 fields')
      .optional()
      .describe('Shown to the agent as they are (application date and number, address...)'),
    priority: z.number().int().min(0).max(100).optional().describe('Higher is dialed first (default 50)'),
    timeZone: z.string().refine(isTimeZone, 'an IANA time zone such as "Europe/Moscow"').optional().describe('The contact\'s zone; derived from the number when absent'),
  })
  .strict();
export type DialerTaskInput = z.infer<typeof dialerTaskInputSchema>;

export type TaskResult =
  | { index: number; status: 'accepted' | 'duplicate'; id: string; externalId: string }
  | { index: number; status: 'rejected'; errors: FieldError[] };

export interface BatchOutcome {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: TaskResult[];
}

export type DialerTaskState = 'pending' | 'dialing' | 'previewing' | 'done' | 'failed' | 'removed';

export interface DialerTaskView {
  id: string;
  externalId: string;
  phones: string[];
  name: string | null;
  fields: Record<string, unknown>;
  priority: number;
  timeZones: string[];
  state: DialerTaskState;
  attempts: number;
  nextAttemptAt: string;
  lastAttemptAt: string | null;
  lastOutcome: string | null;
  /** Preview campaigns: the agent holding the task and until when. */
  previewAgent: string | null;
  previewUntil: string | null;
  createdAt: string;
}

interface Prepared {
  index: number;
  externalId: string;
  phones: string[];
  name: string | null;
  fields: Record<string, unknown>;
  priority: number;
  timeZones: string[];
}

export class DialerTasks {
  constructor(private readonly db: Db) {}

  /** `rows` is what the client sent (validated here row by row); `path` prefixes field names in errors. */
  async add(projectId: string, campaignName: string, rows: unknown[], path = 'tasks'): Promise<BatchOutcome> {
    const campaign = await this.campaign(projectId, campaignName);
    const project = await this.db.project.findUniqueOrThrow({ where: { id: projectId }, select: { defaultRegion: true, timezone: true } });
    const results: TaskResult[] = [];
    const prepared: Prepared[] = [];
    for (const [index, row] of rows.entries()) {
      const outcome = await prepare(row, index, path, project);
      if ('errors' in outcome) results.push({ index, status: 'rejected', errors: outcome.errors });
      else prepared.push(outcome);
    }
    // The same id twice in one batch is one task: the first row wins, later ones are duplicates.
    const firstById = new Map<string, Prepared>();
    for (const task of prepared) if (!firstById.has(task.externalId)) firstById.set(task.externalId, task);
    const fresh = [...firstById.values()];

    const inserted = fresh.length === 0 ? [] : await this.db.$queryRaw<{ id: string; external_id: string }[]>`
      INSERT INTO dialer_tasks (id, project_id, campaign_id, external_id, phones, name, fields, priority, time_zones, updated_at)
      SELECT t.id, ${projectId}::uuid, ${campaign.id}::uuid, t.external_id, t.phones::text[], t.name, t.fields::jsonb, t.priority, t.zones::text[], now()
      FROM unnest(${fresh.map(() => timeOrderedId())}::uuid[], ${fresh.map((task) => task.externalId)}::text[], ${fresh.map((task) => `{${task.phones.map(quoteArrayItem).join(',')}}`)}::text[],
                  ${fresh.map((task) => task.name)}::text[], ${fresh.map((task) => JSON.stringify(task.fields))}::text[],
                  ${fresh.map((task) => task.priority)}::int[], ${fresh.map((task) => `{${task.timeZones.map(quoteArrayItem).join(',')}}`)}::text[])
        AS t(id, external_id, phones, name, fields, priority, zones)
      ON CONFLICT (campaign_id, external_id) DO NOTHING
      RETURNING id, external_id`;
    const insertedIds = new Map(inserted.map((row) => [row.external_id, row.id]));
    const missing = prepared.filter((task) => !insertedIds.has(task.externalId)).map((task) => task.externalId);
    const existing = missing.length === 0 ? [] : await this.db.dialerTask.findMany({ where: { campaignId: campaign.id, externalId: { in: missing } }, select: { id: true, externalId: true } });
    const existingIds = new Map(existing.map((row) => [row.externalId, row.id]));
    for (const task of prepared) {
      const newId = insertedIds.get(task.externalId);
      const isFirst = firstById.get(task.externalId) === task;
      if (newId && isFirst) results.push({ index: task.index, status: 'accepted', id: newId, externalId: task.externalId });
      else results.push({ index: task.index, status: 'duplicate', id: newId ?? existingIds.get(task.externalId) ?? '', externalId: task.externalId });
    }
    results.sort((a, b) => a.index - b.index);
    return {
      accepted: results.filter((result) => result.status === 'accepted').length,
      duplicates: results.filter((result) => result.status === 'duplicate').length,
      rejected: results.filter((result) => result.status === 'rejected').length,
      results,
    };
  }

  async list(projectId: string, campaignName: string, query: { state?: DialerTaskState; cursor?: string; limit?: number }): Promise<{ tasks: DialerTaskView[]; nextCursor: string | null }> {
    const campaign = await this.campaign(projectId, campaignName);
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 500);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const rows = await this.db.dialerTask.findMany({
      where: {
        campaignId: campaign.id,
        ...(query.state ? { state: query.state } : {}),
        ...(after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : {}),
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { tasks: page.map(viewOf), nextCursor: rows.length > limit && last ? encodeTimeCursor(last.createdAt, last.id) : null };
  }

  /** Takes a task out of the campaign; refused while it is being dialed (the attempt's outcome would bring it back). */
  async remove(projectId: string, campaignName: string, taskId: string): Promise<DialerTaskView> {
    const campaign = await this.campaign(projectId, campaignName);
    if (!isUuid(taskId)) throw new TelephonyConfigError(404, `No task ${taskId} in campaign "${campaignName}".`, [{ field: 'path.taskId', message: 'not found' }]);
    const { count } = await this.db.dialerTask.updateMany({ where: { id: taskId, campaignId: campaign.id, state: { in: ['pending', 'failed'] } }, data: { state: 'removed' } });
    const row = await this.db.dialerTask.findFirst({ where: { id: taskId, campaignId: campaign.id } });
    if (!row) throw new TelephonyConfigError(404, `No task ${taskId} in campaign "${campaignName}".`, [{ field: 'path.taskId', message: 'not found' }]);
    if (count === 0 && row.state === 'dialing') throw new TelephonyConfigError(409, `Task ${taskId} is being dialed; remove it after the attempt.`, [{ field: 'path.taskId', message: 'being dialed' }]);
    if (count === 0 && row.state === 'done') throw new TelephonyConfigError(409, `Task ${taskId} is done; there is nothing left to dial.`, [{ field: 'path.taskId', message: 'done' }]);
    return viewOf(row);
  }

  private async campaign(projectId: string, name: string): Promise<{ id: string }> {
    const campaign = await this.db.campaign.findUnique({ where: { projectId_name: { projectId, name } }, select: { id: true } });
    if (!campaign) throw new TelephonyConfigError(404, `No campaign "${name}" in this project.`, [{ field: 'path.name', message: 'not found' }]);
    return campaign;
  }
}

async function prepare(row: unknown, index: number, path: string, project: { defaultRegion: string; timezone: string }): Promise<Prepared | { errors: FieldError[] }> {
  const parsed = dialerTaskInputSchema.safeParse(row);
  if (!parsed.success) return { errors: fieldErrorsFrom(parsed.error, [path, index]) };
  const input = parsed.data;
  const errors: FieldError[] = [];
  const phones: string[] = [];
  input.phones.forEach((phone, position) => {
    const normalized = normalizePhone(phone, project.defaultRegion);
    if (!normalized.ok) errors.push({ field: `${path}.${index}.phones.${position}`, message: `${normalized.reason}: "${phone}"` });
    else if (!phones.includes(normalized.e164)) phones.push(normalized.e164);
  });
  if (errors.length > 0) return { errors };
  const timeZones = input.timeZone ? [input.timeZone] : await zonesOfNumber(phones[0] as string);
  const fields = input.fields ?? {};
  const name = input.name && input.name !== '' ? input.name : null;
  const externalId = input.externalId ?? `sha256:${createHash('sha256').update(JSON.stringify([phones, name, sortedEntries(fields)])).digest('hex').slice(0, 32)}`;
  return {
    index,
    externalId,
    phones,
    name,
    fields,
    priority: input.priority ?? 50,
    // A number libphonenumber cannot place is called in the project's own zone.
    timeZones: timeZones.length > 0 ? timeZones : [project.timezone],
  };
}

function sortedEntries(fields: Record<string, unknown>): [string, unknown][] {
  return Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** One element of a PostgreSQL array literal. */
function quoteArrayItem(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

let lastIdMs = 0;
let idSequence = 0;

/**
 * A UUIDv7 (RFC 9562): milliseconds, then a counter within the millisecond, then random bits. Rows of
 * one batch share created_at, so ids in send order keep listings (created_at, id) in send order.
 */
export function timeOrderedId(now = Date.now()): string {
  if (now > lastIdMs) {
    lastIdMs = now;
    idSequence = 0;
  } else {
    idSequence += 1;
    // A 12-bit counter full within one millisecond borrows the next millisecond.
    if (idSequence > 0xfff) {
      lastIdMs += 1;
      idSequence = 0;
    }
  }
  const bytes = randomBytes(16);
  const ms = BigInt(lastIdMs);
  for (let index = 0; index < 6; index += 1) bytes[index] = Number((ms >> BigInt(8 * (5 - index))) & 0xffn);
  bytes[6] = 0x70 | (idSequence >> 8);
  bytes[7] = idSequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] as number) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}


type TaskRow = Prisma.DialerTaskGetPayload<object>;

export function viewOf(row: TaskRow): DialerTaskView {
  return {
    id: row.id,
    externalId: row.externalId,
    phones: row.phones,
    name: row.name,
    fields: row.fields as Record<string, unknown>,
    priority: row.priority,
    timeZones: row.timeZones,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt.toISOString(),
    lastAttemptAt: row.lastAttemptAt?.toISOString() ?? null,
    lastOutcome: row.lastOutcome,
    previewAgent: row.previewAgent,
    previewUntil: row.previewUntil?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

export class InvalidTaskCursorError extends Error {}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const position = decodeTimeCursor(cursor);
  if (!position) throw new InvalidTaskCursorError('not a cursor from this API; pass nextCursor of the previous page');
  return position;
}
