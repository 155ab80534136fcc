// The conflict journal: every disagreement reconciliation finds, with what
// each source said and what the rule chose, until a supervisor (or the sources
// themselves) settles it.
//
// One open conflict per contact and field, kept current:
// - the same disagreement found again (same sources saying the same values,
//   compared as reconciliation compares them) adds nothing: journeys reconcile
//   on every event and retry activities, and the journal must not grow with them;
// - a changed disagreement supersedes the open one: the old row is resolved by
//   "hub" with `{ reason: "superseded", supersededBy }` and a new open row holds
//   the current candidates, so supervisors act on what the CRMs say now and the
//   history stays readable;
// - fields the caller reports as reconciled without disagreement
//   (`settledFields`) close their open conflict with `{ reason: "sources-agree" }`.
//
// A supervisor's resolution is a decision (types.ts `SupervisorDecision`): it
// is committed together with an outbox row that tells the contact's journey,
// which reconciles again with the decision and writes the value to the field's
// owner and mirrors. The latest conflict of a field says whether a decision
// stands: a newer conflict (a source said something new) replaces it.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { Prisma, sqlPoolOf, type Db } from '../db/client.js';
import { runSql, statement } from '../db/sql.js';
import { decodeTimeCursor, encodeTimeCursor } from '../db/time-cursor.js';
import { journeyWorkflowId } from '../../workflows/journey/shared.js';
import type { ConflictFinding, SupervisorDecision } from './types.js';
import { comparableValue, toJsonValue, type JsonValue } from './values.js';
import { isUuid } from '../validation.js';

export interface StoredCandidate {
  source: string;
  sourceName: string;
  value: JsonValue;
  updatedAt?: string;
  legacy?: boolean;
  externalId?: string;
  origin?: 'crm' | 'agent';
}

export type ConflictResolution =
  | { reason: 'supervisor'; value: JsonValue; note?: string }
  | { reason: 'superseded'; supersededBy: string }
  | { reason: 'sources-agree' };

export interface ConflictView {
  id: string;
  contactPhone: string;
  field: string;
  candidates: StoredCandidate[];
  rule: string;
  chosenValue: JsonValue;
  chosenSource: string | null;
  status: 'open' | 'resolved';
  resolvedBy: string | null;
  resolution: ConflictResolution | null;
  createdAt: string;
  resolvedAt: string | null;
}

export interface RecordOutcome {
  /** New open conflicts. */
  opened: ConflictView[];
  /** Open conflicts that already described the finding. */
  unchanged: ConflictView[];
  /** Open conflicts closed because their field's disagreement changed or ended. */
  closed: ConflictView[];
}

export interface ListQuery {
  status?: 'open' | 'resolved';
  /** E.164. */
  contactPhone?: string;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** 1-200, default 50. */
  limit?: number;
}

export interface ConflictPage {
  /** Oldest first, so conflicts recorded while a client pages arrive on later pages, not before the cursor. */
  conflicts: ConflictView[];
  nextCursor: string | null;
}

export interface ResolveInput {
  /** The value the supervisor decided on (any JSON, null included). */
  value: unknown;
  resolvedBy: string;
  note?: string | undefined;
}

/** A supervisor resolved a conflict: signalled to the contact's journey, which writes the decision back. */
export const JOURNEY_CONFLICT_RESOLVED_OUTBOX_KIND = 'journey.conflict-resolved';

export const conflictResolvedPayloadSchema = z.object({
  projectId: z.string(),
  phone: z.string(),
  conflictId: z.string(),
  field: z.string(),
});
export type ConflictResolvedPayload = z.infer<typeof conflictResolvedPayloadSchema>;

export class ConflictNotFoundError extends Error {}
export class ConflictAlreadyResolvedError extends Error {
  constructor(readonly conflict: ConflictView) {
    super(`Conflict ${conflict.id} was resolved by ${conflict.resolvedBy ?? 'someone'} at ${conflict.resolvedAt ?? 'an unknown time'}.`);
  }
}
export class InvalidCursorError extends Error {}

/** Who closes conflicts the hub itself settles. */
export const hubResolver = 'hub';

const maxLimit = 200;

type ConflictRow = Prisma.ConflictGetPayload<object>;
type Tx = Prisma.TransactionClient;

// The read every reconciliation makes (on the pg pool: it runs once per journey event).
/** Per field the latest conflict of the contact, kept when a supervisor resolved it. */
const selectLatestDecisions = statement(
  'conflicts.latest_decisions',
  `SELECT id, field, candidates, resolution, resolved_by, resolved_at FROM (
     SELECT DISTINCT ON (field) id, field, candidates, resolution, resolved_by, resolved_at, status
     FROM conflicts WHERE project_id = $1::uuid AND contact_phone = $2
     ORDER BY field, created_at DESC, id DESC
   ) latest
   WHERE status = 'resolved' AND resolution->>'reason' = 'supervisor'`,
);

const selectAnyOpen = statement(
  'conflicts.any_open',
  `SELECT 1 AS open FROM conflicts WHERE project_id = $1::uuid AND contact_phone = $2 AND status = 'open' AND field = ANY($3::text[]) LIMIT 1`,
);

export class ConflictJournal {
  constructor(private readonly db: Db) {}

  /** Journals what one reconciliation of a contact found (see the file comment for the rules). */
  async record(
    projectId: string,
    contactPhone: string,
    findings: readonly ConflictFinding[],
    options: { settledFields?: readonly string[] } = {},
  ): Promise<RecordOutcome> {
    const latest = new Map<string, ConflictFinding>();
    for (const found of findings) latest.set(found.field, found);
    const settled = (options.settledFields ?? []).filter((field) => !latest.has(field));
    const fields = [...latest.keys(), ...settled];
    if (fields.length === 0) return { opened: [], unchanged: [], closed: [] };
    // Most reconciliations find the sources agreeing and nothing open to close: one
    // read says so, without a transaction and its lock. The locked re-read below
    // decides whenever there is something to write.
    if (latest.size === 0) {
      const anyOpen = await runSql(sqlPoolOf(this.db), selectAnyOpen, [projectId, contactPhone, fields]);
      if (anyOpen.length === 0) return { opened: [], unchanged: [], closed: [] };
    }

    return this.db.$transaction(async (tx) => {
      // Two reconciliations of one contact (an activity and its retry) must not
      // both see "no open conflict" and both insert one.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`conflicts/${projectId}/${contactPhone}`}, 0))`;
      const open = await tx.conflict.findMany({
        where: { projectId, contactPhone, status: 'open', field: { in: fields } },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      const outcome: RecordOutcome = { opened: [], unchanged: [], closed: [] };
      for (const [field, found] of latest) {
        const candidates = storedCandidates(found);
        const fingerprint = fingerprintOf(field, candidates);
        const openForField = open.filter((row) => row.field === field);
        const same = openForField.find((row) => fingerprintOf(field, row.candidates as unknown as StoredCandidate[]) === fingerprint);
        let keeper: ConflictView;
        if (same) {
          keeper = viewOf(same);
          outcome.unchanged.push(keeper);
        } else if (openForField.length === 0 && (await decidedAlready(tx, projectId, contactPhone, field, fingerprint))) {
          // A supervisor resolved this very disagreement after the reconciliation read the
          // decisions: it stays resolved, and the journey's next pass applies the decision.
          continue;
        } else {
          keeper = await insert(tx, projectId, contactPhone, found, candidates);
          outcome.opened.push(keeper);
        }
        for (const row of openForField) {
          if (row.id === keeper.id) continue;
          outcome.closed.push(await close(tx, row, { reason: 'superseded', supersededBy: keeper.id }));
        }
      }
      for (const row of open) {
        if (settled.includes(row.field)) outcome.closed.push(await close(tx, row, { reason: 'sources-agree' }));
      }
      return outcome;
    });
  }

  async list(projectId: string, query: ListQuery = {}): Promise<ConflictPage> {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), maxLimit);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const rows = await this.db.conflict.findMany({
      where: {
        projectId,
        ...(query.status ? { status: query.status } : {}),
        ...(query.contactPhone ? { contactPhone: query.contactPhone } : {}),
        ...(after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : {}),
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { conflicts: page.map(viewOf), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  async get(projectId: string, id: string): Promise<ConflictView> {
    // A malformed id names no conflict; asking PostgreSQL would fail on the uuid cast.
    const row = isUuid(id) ? await this.db.conflict.findFirst({ where: { id, projectId } }) : null;
    if (!row) throw new ConflictNotFoundError(`No conflict ${id} in this project.`);
    return viewOf(row);
  }

  /**
   * Closes an open conflict with the supervisor's value and, in the same
   * transaction, queues the decision for the contact's journey (outbox), so the
   * write-back happens even if Temporal is down right now. A conflict is
   * resolved once (else ConflictAlreadyResolvedError).
   */
  async resolve(projectId: string, id: string, input: ResolveInput): Promise<ConflictView> {
    if (!isUuid(id)) throw new ConflictNotFoundError(`No conflict ${id} in this project.`);
    const resolution: ConflictResolution = {
      reason: 'supervisor',
      value: toJsonValue(input.value),
      ...(input.note === undefined ? {} : { note: input.note }),
    };
    const resolved = await this.db.$transaction(async (tx) => {
      // The status condition makes "resolve once" hold under concurrent resolves.
      const rows = await tx.conflict.updateManyAndReturn({
        where: { id, projectId, status: 'open' },
        data: { status: 'resolved', resolvedBy: input.resolvedBy, resolvedAt: new Date(), resolution: resolution as Prisma.InputJsonValue },
      });
      const row = rows[0];
      if (!row) return undefined;
      const payload: ConflictResolvedPayload = { projectId, phone: row.contactPhone, conflictId: row.id, field: row.field };
      await tx.outboxEntry.create({
        data: { projectId, kind: JOURNEY_CONFLICT_RESOLVED_OUTBOX_KIND, workflowId: journeyWorkflowId(projectId, row.contactPhone), payload },
      });
      return viewOf(row);
    });
    if (resolved) return resolved;
    throw new ConflictAlreadyResolvedError(await this.get(projectId, id));
  }

  /**
   * The supervisors' decisions that may still stand for a contact: per field,
   * the latest conflict, when a supervisor resolved it. Reconciliation checks
   * whether a source has said something new since (engine.ts).
   */
  async decisions(projectId: string, contactPhone: string): Promise<SupervisorDecision[]> {
    const rows = await runSql<{ id: string; field: string; candidates: unknown; resolution: unknown; resolved_by: string | null; resolved_at: Date | null }>(
      sqlPoolOf(this.db),
      selectLatestDecisions,
      [projectId, contactPhone],
    );
    return rows.map((row) => {
      const resolution = row.resolution as { value?: JsonValue };
      const candidates = Array.isArray(row.candidates) ? (row.candidates as StoredCandidate[]) : [];
      return {
        field: row.field,
        value: resolution.value ?? null,
        conflictId: row.id,
        ...(row.resolved_by === null ? {} : { decidedBy: row.resolved_by }),
        ...(row.resolved_at === null ? {} : { decidedAt: row.resolved_at.toISOString() }),
        heldBy: candidates.map((candidate) => ({ source: candidate.source, value: candidate.value })),
      };
    });
  }
}

async function insert(tx: Tx, projectId: string, contactPhone: string, found: ConflictFinding, candidates: StoredCandidate[]): Promise<ConflictView> {
  const row = await tx.conflict.create({
    data: {
      id: randomUUID(),
      projectId,
      contactPhone,
      field: found.field,
      candidates: candidates as unknown as Prisma.InputJsonValue,
      rule: found.rule,
      chosenValue: jsonInput(found.chosenValue),
      chosenSource: found.chosenSource ?? null,
    },
  });
  return viewOf(row);
}

/** Whether the field's latest conflict is this disagreement, resolved by a supervisor. */
async function decidedAlready(tx: Tx, projectId: string, contactPhone: string, field: string, fingerprint: string): Promise<boolean> {
  const latest = await tx.conflict.findFirst({ where: { projectId, contactPhone, field }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
  const resolution = latest?.resolution as ConflictResolution | null | undefined;
  return latest?.status === 'resolved' && resolution?.reason === 'supervisor' && fingerprintOf(field, latest.candidates as unknown as StoredCandidate[]) === fingerprint;
}

async function close(tx: Tx, row: ConflictRow, resolution: ConflictResolution): Promise<ConflictView> {
  // Only while open: a supervisor who resolved it meanwhile keeps the resolution.
  const [updated] = await tx.conflict.updateManyAndReturn({
    where: { id: row.id, status: 'open' },
    data: { status: 'resolved', resolvedBy: hubResolver, resolvedAt: new Date(), resolution: resolution as Prisma.InputJsonValue },
  });
  return viewOf(updated ?? (await tx.conflict.findUniqueOrThrow({ where: { id: row.id } })));
}

function storedCandidates(found: ConflictFinding): StoredCandidate[] {
  return found.candidates.map((candidate) => ({
    source: String(candidate.source),
    sourceName: String(candidate.sourceName),
    value: toJsonValue(candidate.value),
    ...(typeof candidate.updatedAt === 'string' ? { updatedAt: candidate.updatedAt } : {}),
    ...(candidate.legacy === true ? { legacy: true } : {}),
    ...(typeof candidate.externalId === 'string' ? { externalId: candidate.externalId } : {}),
    ...(candidate.origin === 'crm' || candidate.origin === 'agent' ? { origin: candidate.origin } : {}),
  }));
}

/**
 * What makes two findings the same disagreement: which source says which
 * value. Timestamps are left out, so a CRM touching a record without changing
 * the value does not reopen anything.
 */
function fingerprintOf(field: string, candidates: readonly StoredCandidate[]): string {
  const pairs = new Set(candidates.map((candidate) => JSON.stringify([candidate.source, comparableValue(field, candidate.value)])));
  return [...pairs].sort().join('\n');
}

/** JSON null must be sent as Prisma.JsonNull; a missing value stays SQL NULL. */
function jsonInput(value: unknown): Prisma.InputJsonValue | typeof Prisma.JsonNull | typeof Prisma.DbNull {
  if (value === undefined) return Prisma.DbNull;
  const json = toJsonValue(value);
  return json === null ? Prisma.JsonNull : (json as Prisma.InputJsonValue);
}

function viewOf(row: ConflictRow): ConflictView {
  return {
    id: row.id,
    contactPhone: row.contactPhone,
    field: row.field,
    candidates: row.candidates as unknown as StoredCandidate[],
    rule: row.rule,
    chosenValue: (row.chosenValue ?? null) as JsonValue,
    chosenSource: row.chosenSource,
    status: row.status,
    resolvedBy: row.resolvedBy,
    resolution: (row.resolution ?? null) as ConflictResolution | null,
    createdAt: row.createdAt.toISOString(),
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
  };
}

function encodeCursor(row: ConflictRow): string {
  return encodeTimeCursor(row.createdAt, row.id);
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const position = decodeTimeCursor(cursor);
  if (!position) throw new InvalidCursorError('not a cursor from this API; pass nextCursor of the previous page');
  return position;
}
