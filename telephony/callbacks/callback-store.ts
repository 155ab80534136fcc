/**
 * Callbacks: a promise to call a contact back at a given time, owned first by an agent (given, or the
 * contact's responsible agent) and then by an ACD queue. Stored in PostgreSQL with an outbox row in
 * the same transaction, so the callback's workflow is started even if Temporal is down when it is
 * made (never lost), and started once (one row per project, number and time; the workflow id comes
 * from the callback id). Cancelling moves the row to `cancelled` and tells the workflow the same way.
 */
import { z } from 'zod';
import type { Db } from '../../core/db/client.js';
import { normalizePhone } from '../../core/phone.js';
import { fieldErrorsFrom, isoInstant, type FieldError } from '../../core/validation.js';
import { callbackWorkflowId, type CallbackRetry } from '../../workflows/callbacks/shared.js';
import { TelephonyConfigError } from '../config-errors.js';
import type { CallbackScheduled } from '../ivr/run-ivr.js';

export const CALLBACK_START_OUTBOX_KIND = 'callback.start';
export const CALLBACK_CANCEL_OUTBOX_KIND = 'callback.cancel';

export const callbackStates = ['scheduled', 'waiting_owner', 'waiting_queue', 'dialing', 'done', 'failed', 'cancelled'] as const;
export type CallbackState = (typeof callbackStates)[number];
/** States a callback can still be cancelled in: nobody is calling the contact yet. */
const cancellable: CallbackState[] = ['scheduled', 'waiting_owner', 'waiting_queue'];

/** How far ahead a callback may be promised: a durable timer holds it, and a year is already no callback. */
const CALLBACK_HORIZON_MS = 366 * 24 * 3600 * 1000;
/**
 * How late a new callback may be: one a little in the past (a clock behind, a request queued
 * for a while) is overdue and dialled at once; one more than a day past is a client's bug (an
 * epoch, a wrong year), which would otherwise ring the contact now for nothing they asked.
 */
const CALLBACK_OVERDUE_MS = 24 * 3600 * 1000;

export const callbackInputSchema = z
  .object({
    phone: z.string().min(1).max(64).describe("The contact's number; national numbers are read in the project region"),
    at: isoInstant()
      .refine((text) => !(Date.parse(text) > Date.now() + CALLBACK_HORIZON_MS), 'at most a year ahead')
      .describe('When to call back, ISO 8601 with a zone offset ("2026-11-25T15:30:00+03:00"), at most a year ahead; up to a day in the past is overdue and dialled at once'),
    agent: z.string().trim().min(1).max(100).optional().describe("The agent it belongs to; default: the contact's responsible agent, when known"),
    queue: z.string().min(1).max(100).describe('ACD queue that takes the callback when the owner does not in time'),
    callerId: z.string().min(1).max(64).optional().describe('Number shown to the contact; default: the caller ID of a campaign of the project using the queue'),
    note: z.string().max(2000).optional(),
    ownerWindowSeconds: z.number().int().min(0).max(24 * 3600).default(300).describe('How long the owner alone is offered the callback (default 300 s)'),
    retry: z
      .object({
        maxAttempts: z.number().int().min(1).max(10).describe('Calls in all, the first included (1: never called again)'),
        retryAfterSeconds: z.number().int().min(5).max(7 * 24 * 3600).describe('Wait before calling again'),
        busyRetryAfterSeconds: z.number().int().min(5).max(7 * 24 * 3600).optional().describe('Wait after a busy line, when it differs (default: retryAfterSeconds)'),
      })
      .strict()
      .optional()
      .describe("When the contact is busy or lets it ring out: how many calls and how far apart (default: the hub's, 3 calls 10 minutes apart)"),
  })
  .strict();

export interface CallbackView {
  id: string;
  phone: string;
  at: string;
  agent: string | null;
  queue: string;
  callerId: string;
  note: string | null;
  ownerWindowSeconds: number;
  /** The callback's own retry; null: the hub's default. */
  retry: { maxAttempts: number; retryAfterSeconds: number; busyRetryAfterSeconds?: number } | null;
  state: CallbackState;
  handledBy: string | null;
  outcome: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What a callback's workflow needs; the outbox row carries it. */
export interface CallbackStart {
  projectId: string;
  callbackId: string;
  phone: string;
  at: string;
  agent?: string;
  queue: string;
  callerId: string;
  ownerWindowSeconds: number;
  /** The callback's own retry (absent: the hub's default). */
  retry?: CallbackRetry;
}

/** The contact's responsible agent, when the hub knows it (the journey's merged view); undefined otherwise. */
export type OwnerLookup = (projectId: string, phone: string) => Promise<string | undefined>;

type Row = Awaited<ReturnType<Db['callback']['findUniqueOrThrow']>>;

export class CallbackStore {
  constructor(
    private readonly db: Db,
    private readonly deps: { ownerOf?: OwnerLookup; onQueued?: () => void } = {},
  ) {}

  /** Creates the callback (201) or returns the one already made for this number and time (200). */
  async create(projectId: string, input: unknown): Promise<{ callback: CallbackView; created: boolean }> {
    const parsed = callbackInputSchema.safeParse(input);
    if (!parsed.success) throw new TelephonyConfigError(422, 'The callback is invalid.', namedFieldErrors(parsed.error));
    const body = parsed.data;
    const project = await this.db.project.findUniqueOrThrow({ where: { id: projectId }, select: { defaultRegion: true } });
    const errors: FieldError[] = [];
    const phone = normalizePhone(body.phone, project.defaultRegion);
    if (!phone.ok) errors.push({ field: 'phone', message: `${phone.reason}: "${body.phone}"` });
    const queue = await this.db.callFlow.findFirst({ where: { projectId, kind: 'queue', name: body.queue }, select: { name: true } });
    if (queue === null) errors.push({ field: 'queue', message: `no ACD queue "${body.queue}" in this project` });
    let callerId: string | undefined;
    if (body.callerId !== undefined) {
      const given = normalizePhone(body.callerId, project.defaultRegion);
      if (given.ok) callerId = given.e164;
      else errors.push({ field: 'callerId', message: given.reason });
    } else {
      const campaigns = await this.db.campaign.findMany({ where: { projectId }, select: { config: true }, orderBy: { updatedAt: 'desc' } });
      const used = campaigns.map((row) => row.config as { queue?: string; callerId?: string }).find((config) => config.queue === body.queue && config.callerId);
      const normalized = used?.callerId === undefined ? undefined : normalizePhone(used.callerId, project.defaultRegion);
      if (normalized?.ok) callerId = normalized.e164;
      else errors.push({ field: 'callerId', message: `required: no campaign of this project uses queue "${body.queue}" to take a caller ID from` });
    }
    if (errors.length > 0 || !phone.ok || callerId === undefined) throw new TelephonyConfigError(422, 'The callback is invalid.', errors);

    const at = new Date(body.at);
    const existing = await this.db.callback.findUnique({ where: { projectId_phone_at: { projectId, phone: phone.e164, at } } });
    if (existing) return { callback: viewOf(existing), created: false };
    // Checked after the lookup: repeating a request for a callback already made answers it, however late.
    if (at.getTime() < Date.now() - CALLBACK_OVERDUE_MS) {
      throw new TelephonyConfigError(422, 'The callback is invalid.', [{ field: 'at', message: 'more than a day in the past' }]);
    }
    const agent = body.agent ?? (await this.ownerOf(projectId, phone.e164));
    const row = await this.db.$transaction(async (tx) => {
      // Two identical requests at once: the unique index keeps one; the other reads it back.
      const inserted = await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO callbacks (id, project_id, phone, at, agent, queue, caller_id, note, owner_window_seconds, retry_max_attempts, retry_after_seconds, retry_after_busy_seconds, updated_at)
        VALUES (gen_random_uuid(), ${projectId}::uuid, ${phone.e164}, ${at}, ${agent ?? null}, ${body.queue}, ${callerId}, ${body.note ?? null}, ${body.ownerWindowSeconds},
                ${body.retry?.maxAttempts ?? null}, ${body.retry?.retryAfterSeconds ?? null}, ${body.retry?.busyRetryAfterSeconds ?? null}, now())
        ON CONFLICT (project_id, phone, at) DO NOTHING
        RETURNING id`;
      const id = inserted[0]?.id;
      if (id === undefined) return undefined;
      const start: CallbackStart = {
        projectId, callbackId: id, phone: phone.e164, at: at.toISOString(), queue: body.queue, callerId: callerId as string,
        ownerWindowSeconds: body.ownerWindowSeconds, ...(agent === undefined ? {} : { agent }),
        ...(body.retry === undefined ? {} : { retry: callbackRetryOf(body.retry) }),
      };
      await tx.outboxEntry.create({ data: { projectId, kind: CALLBACK_START_OUTBOX_KIND, workflowId: callbackWorkflowId(projectId, id), payload: { ...start } } });
      return tx.callback.findUniqueOrThrow({ where: { id } });
    });
    if (row === undefined) {
      return { callback: viewOf(await this.db.callback.findUniqueOrThrow({ where: { projectId_phone_at: { projectId, phone: phone.e164, at } } })), created: false };
    }
    this.deps.onQueued?.();
    return { callback: viewOf(row), created: true };
  }

  async list(projectId: string, state?: CallbackState): Promise<CallbackView[]> {
    const rows = await this.db.callback.findMany({ where: { projectId, ...(state ? { state } : {}) }, orderBy: [{ at: 'asc' }, { id: 'asc' }], take: 500 });
    return rows.map(viewOf);
  }

  async get(projectId: string, id: string): Promise<CallbackView> {
    return viewOf(await this.find(projectId, id));
  }

  /** Cancels a callback nobody is calling yet; cancelling twice answers the same. */
  async cancel(projectId: string, id: string): Promise<CallbackView> {
    const row = await this.find(projectId, id);
    const changed = await this.db.$transaction(async (tx) => {
      const { count } = await tx.callback.updateMany({ where: { id: row.id, state: { in: cancellable } }, data: { state: 'cancelled', outcome: 'cancelled through the API' } });
      if (count === 0) return false;
      await tx.outboxEntry.create({ data: { projectId, kind: CALLBACK_CANCEL_OUTBOX_KIND, workflowId: callbackWorkflowId(projectId, row.id), payload: { projectId, callbackId: row.id } } });
      return true;
    });
    const now = await this.find(projectId, id);
    if (changed) this.deps.onQueued?.();
    else if (now.state !== 'cancelled') {
      throw new TelephonyConfigError(409, `Callback ${id} is ${now.state}; only a callback nobody is calling yet can be cancelled.`, [{ field: 'path.id', message: now.state }]);
    }
    return viewOf(now);
  }

  /** Moves a callback on (workflow steps); false when it is no longer in one of `from` (cancelled meanwhile). */
  async transition(id: string, from: readonly CallbackState[], to: CallbackState, details: { handledBy?: string; outcome?: string } = {}): Promise<boolean> {
    const { count } = await this.db.callback.updateMany({ where: { id, state: { in: [...from] } }, data: { state: to, ...details } });
    return count > 0;
  }

  private async ownerOf(projectId: string, phone: string): Promise<string | undefined> {
    try {
      return await this.deps.ownerOf?.(projectId, phone);
    } catch {
      // Without the journey's answer the callback goes to the queue; it is not refused.
      return undefined;
    }
  }

  private async find(projectId: string, id: string): Promise<Row> {
    const row = /^[0-9a-f-]{36}$/i.test(id) ? await this.db.callback.findFirst({ where: { id, projectId } }) : null;
    if (!row) throw new TelephonyConfigError(404, `No callback ${id} in this project.`, [{ field: 'path.id', message: 'not found' }]);
    return row;
  }
}

/** Field errors where an unknown field is named itself rather than the body. */
function namedFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' && issue.path.length === 0
      ? issue.keys.map((key) => ({ field: key, message: 'not a field of a callback' }))
      : fieldErrorsFrom(new z.ZodError([issue])),
  );
}

function callbackRetryOf(retry: { maxAttempts: number; retryAfterSeconds: number; busyRetryAfterSeconds?: number | undefined }): CallbackRetry {
  return {
    maxAttempts: retry.maxAttempts,
    retryAfterMs: retry.retryAfterSeconds * 1000,
    ...(retry.busyRetryAfterSeconds === undefined ? {} : { busyRetryAfterMs: retry.busyRetryAfterSeconds * 1000 }),
  };
}

function viewOf(row: Row): CallbackView {
  return {
    id: row.id,
    phone: row.phone,
    at: row.at.toISOString(),
    agent: row.agent,
    queue: row.queue,
    callerId: row.callerId,
    note: row.note,
    ownerWindowSeconds: row.ownerWindowSeconds,
    retry: row.retryMaxAttempts === null || row.retryAfterSeconds === null
      ? null
      : { maxAttempts: row.retryMaxAttempts, retryAfterSeconds: row.retryAfterSeconds, ...(row.retryAfterBusySeconds === null ? {} : { busyRetryAfterSeconds: row.retryAfterBusySeconds }) },
    state: row.state,
    handledBy: row.handledBy,
    outcome: row.outcome,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/**
 * A callback an IVR caller asked for (the telephony process's `callback` node), as the IVR wants
 * the answer: scheduled, or why not (a caller without a usable number, a queue gone), never thrown
 * for input the caller cannot fix.
 */
export async function scheduleIvrCallback(
  callbacks: CallbackStore,
  projectId: string,
  request: { phone: string; callerId: string; queue: string; at: Date; agent: string | undefined },
): Promise<CallbackScheduled> {
  try {
    const { callback } = await callbacks.create(projectId, {
      phone: request.phone,
      at: request.at.toISOString(),
      queue: request.queue,
      callerId: request.callerId,
      ...(request.agent === undefined ? {} : { agent: request.agent }),
      note: 'asked for in the IVR',
    });
    return { ok: true, callbackId: callback.id, at: callback.at };
  } catch (error) {
    if (error instanceof TelephonyConfigError) {
      return { ok: false, reason: error.errors.length > 0 ? error.errors.map((entry) => `${entry.field}: ${entry.message}`).join('; ') : error.message };
    }
    throw error;
  }
}
