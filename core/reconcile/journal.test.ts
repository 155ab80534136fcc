// The conflict journal on a real PostgreSQL: one open conflict per contact and
// field however often the same disagreement is found, superseding when it
// changes, keyset pages, and resolve-once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubDatabase } from '../../test/support/hub.js';
import { createDb, type Db } from '../db/client.js';
import { createProject } from '../projects/projects.js';
import { ConflictAlreadyResolvedError, ConflictJournal, ConflictNotFoundError, InvalidCursorError, JOURNEY_CONFLICT_RESOLVED_OUTBOX_KIND } from './journal.js';
import type { ConflictFinding } from './types.js';

let db: Db;
let databaseUrl: string;
let drop: () => Promise<void>;
let projectId: string;
let otherProjectId: string;
let journal: ConflictJournal;

beforeAll(async () => {
  const database = await createHubDatabase();
  drop = database.drop;
  databaseUrl = database.url;
  db = createDb(database.url);
  projectId = (await createProject(db, { slug: 'journal-a', name: 'A', defaultRegion: 'US' })).id;
  otherProjectId = (await createProject(db, { slug: 'journal-b', name: 'B', defaultRegion: 'US' })).id;
  journal = new ConflictJournal(db);
});
afterAll(async () => {
  await db?.$disconnect();
  await drop?.();
});

function nameConflict(a: unknown, b: unknown, at = '2024-01-01T00:00:00Z'): ConflictFinding {
  return {
    field: 'name',
    candidates: [
      { source: 'crm-a', sourceName: 'crm-a', value: a, updatedAt: at },
      { source: 'crm-b', sourceName: 'crm-b', value: b, updatedAt: at },
    ],
    rule: 'most-recent',
    chosenValue: b,
    chosenSource: 'crm-b',
  };
}

async function openRows(phone: string) {
  return db.conflict.findMany({ where: { projectId, contactPhone: phone, status: 'open' } });
}

describe('ConflictJournal.record', () => {
  it('adds nothing when the same disagreement is found again, even with new times or another candidate order', async () => {
    const phone = '+14155550001';
    const first = await journal.record(projectId, phone, [nameConflict('Ada', 'A. Lovelace')]);
    expect(first.opened).toHaveLength(1);

    const swapped = nameConflict(' Ada ', 'A. Lovelace', '2024-02-02T00:00:00Z');
    swapped.candidates.reverse();
    const again = await journal.record(projectId, phone, [swapped]);
    expect(again).toMatchObject({ opened: [], closed: [], unchanged: [{ id: first.opened[0]?.id }] });
    expect(await openRows(phone)).toHaveLength(1);
  });

  it('supersedes the open conflict when the values change, keeping one open per field', async () => {
    const phone = '+14155550002';
    const first = await journal.record(projectId, phone, [nameConflict('Ada', 'A. Lovelace')]);
    const changed = await journal.record(projectId, phone, [nameConflict('Ada', 'Ada King')]);
    const newId = changed.opened[0]?.id;
    expect(newId).toBeDefined();
    expect(changed.closed).toEqual([
      expect.objectContaining({
        id: first.opened[0]?.id,
        status: 'resolved',
        resolvedBy: 'hub',
        resolution: { reason: 'superseded', supersededBy: newId },
      }),
    ]);
    expect((await openRows(phone)).map((row) => row.id)).toEqual([newId]);
  });

  it('closes the open conflict of a field whose sources now agree', async () => {
    const phone = '+14155550003';
    await journal.record(projectId, phone, [nameConflict('Ada', 'A. Lovelace')]);
    const settled = await journal.record(projectId, phone, [], { settledFields: ['name', 'email'] });
    expect(settled.closed).toEqual([expect.objectContaining({ field: 'name', resolution: { reason: 'sources-agree' } })]);
    expect(await openRows(phone)).toEqual([]);
  });

  it('opens one conflict when workers record the same finding at the same time', async () => {
    const phone = '+14155550004';
    // Separate clients, as in separate worker processes (one client runs its transactions one by one).
    const workers = Array.from({ length: 4 }, () => createDb(databaseUrl, { poolSize: 2 }));
    try {
      await Promise.all(
        workers.flatMap((worker) => [1, 2].map(() => new ConflictJournal(worker).record(projectId, phone, [nameConflict('x', 'y')]))),
      );
    } finally {
      await Promise.all(workers.map((worker) => worker.$disconnect()));
    }
    expect(await db.conflict.count({ where: { projectId, contactPhone: phone } })).toBe(1);
  });

  it('stores values jsonb would refuse (NaN, NUL, lone surrogates, bigints, cycles) as readable JSON', async () => {
    const phone = '+14155550005';
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic.self = cyclic;
    const finding: ConflictFinding = {
      field: 'notes',
      candidates: [
        { source: 'crm-a', sourceName: 'crm-a', value: Number.NaN },
        { source: 'crm-b', sourceName: 'crm-b', value: 'nul\u0000 and \ud800' },
        { source: 'crm-c', sourceName: 'crm-c', value: 10n },
        { source: 'crm-d', sourceName: 'crm-d', value: cyclic },
      ],
      rule: 'most-recent',
      chosenValue: undefined,
      chosenSource: undefined,
    };
    const { opened } = await journal.record(projectId, phone, [finding]);
    expect(opened[0]?.candidates.map((candidate) => candidate.value)).toEqual(['NaN', 'nul\ufffd and \ufffd', '10', { n: 1, self: '[Circular]' }]);
    expect(opened[0]?.chosenValue).toBeNull();
    // Recorded again, the same malformed values are the same disagreement.
    expect((await journal.record(projectId, phone, [finding])).unchanged).toHaveLength(1);
  });
});

describe('ConflictJournal.list', () => {
  it('pages by (createdAt, id) oldest first without gaps or repeats, and filters', async () => {
    const phone = '+14155550010';
    const fields = ['f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7'];
    for (const field of fields) await journal.record(projectId, phone, [{ ...nameConflict('1', '2'), field }]);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await journal.list(projectId, { contactPhone: phone, limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.conflicts.map((conflict) => conflict.field));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual(fields);
    expect(pages).toBe(3);

    expect((await journal.list(projectId, { contactPhone: phone, status: 'resolved' })).conflicts).toEqual([]);
    expect((await journal.list(otherProjectId, { contactPhone: phone })).conflicts).toEqual([]);
    await expect(journal.list(projectId, { cursor: 'bm90IGEgY3Vyc29y' })).rejects.toBeInstanceOf(InvalidCursorError);
  });
});

describe('ConflictJournal.resolve', () => {
  it('resolves once, keeps the value and note, and hides conflicts from other projects', async () => {
    const { opened } = await journal.record(projectId, '+14155550020', [nameConflict('Ada', 'A. Lovelace')]);
    const id = opened[0]?.id as string;

    await expect(journal.resolve(otherProjectId, id, { value: 'x', resolvedBy: 'eve' })).rejects.toBeInstanceOf(ConflictNotFoundError);
    await expect(journal.get(otherProjectId, id)).rejects.toBeInstanceOf(ConflictNotFoundError);

    const resolved = await journal.resolve(projectId, id, { value: null, resolvedBy: 'supervisor-1', note: 'both wrong; cleared' });
    expect(resolved).toMatchObject({
      status: 'resolved',
      resolvedBy: 'supervisor-1',
      resolution: { reason: 'supervisor', value: null, note: 'both wrong; cleared' },
    });
    expect(resolved.resolvedAt).not.toBeNull();

    const second = journal.resolve(projectId, id, { value: 'Ada', resolvedBy: 'supervisor-2' });
    await expect(second).rejects.toBeInstanceOf(ConflictAlreadyResolvedError);
    expect((await journal.get(projectId, id)).resolvedBy).toBe('supervisor-1');
    await expect(journal.resolve(projectId, 'not-a-uuid', { value: 1, resolvedBy: 'x' })).rejects.toBeInstanceOf(ConflictNotFoundError);
  });
});

describe('supervisor decisions', () => {
  it('queues the decision for the journey with the resolution, and holds it until a newer conflict replaces it', async () => {
    const phone = '+14155550301';
    const { opened } = await journal.record(projectId, phone, [nameConflict('Ada', 'A. Lovelace')]);
    const conflictId = opened[0]?.id as string;
    expect(await journal.decisions(projectId, phone)).toEqual([]);

    await journal.resolve(projectId, conflictId, { value: 'Ada Lovelace', resolvedBy: 'sam' });
    const queued = await db.outboxEntry.findMany({ where: { projectId, kind: JOURNEY_CONFLICT_RESOLVED_OUTBOX_KIND } });
    expect(queued.filter((row) => (row.payload as { conflictId: string }).conflictId === conflictId).map((row) => [row.workflowId, row.payload])).toEqual([
      [`journey/${projectId}/${phone}`, { projectId, phone, conflictId, field: 'name' }],
    ]);
    const [decision] = await journal.decisions(projectId, phone);
    expect(decision).toMatchObject({
      field: 'name',
      value: 'Ada Lovelace',
      conflictId,
      decidedBy: 'sam',
      heldBy: [
        { source: 'crm-a', value: 'Ada' },
        { source: 'crm-b', value: 'A. Lovelace' },
      ],
    });
    expect(Number.isNaN(Date.parse(decision?.decidedAt ?? ''))).toBe(false);
    expect(await journal.decisions(otherProjectId, phone)).toEqual([]);

    // A CRM said something new: the new conflict is the field's latest word, the decision no longer stands.
    await journal.record(projectId, phone, [nameConflict('Ada', 'Augusta')]);
    expect(await journal.decisions(projectId, phone)).toEqual([]);
  });

  it('queues nothing when the resolve is refused', async () => {
    const phone = '+14155550302';
    const { opened } = await journal.record(projectId, phone, [nameConflict('Ada', 'A. Lovelace')]);
    const conflictId = opened[0]?.id as string;
    await journal.resolve(projectId, conflictId, { value: 'Ada', resolvedBy: 'sam' });
    await expect(journal.resolve(projectId, conflictId, { value: 'A. Lovelace', resolvedBy: 'kim' })).rejects.toBeInstanceOf(ConflictAlreadyResolvedError);
    const queued = await db.outboxEntry.findMany({ where: { projectId, kind: JOURNEY_CONFLICT_RESOLVED_OUTBOX_KIND } });
    expect(queued.filter((row) => (row.payload as { conflictId: string }).conflictId === conflictId)).toHaveLength(1);
    expect((await journal.decisions(projectId, phone)).map((decision) => decision.value)).toEqual(['Ada']);
  });
});

describe('a resolution racing a reconciliation', () => {
  it('is not undone by a reconciliation that read the decisions before the supervisor resolved', async () => {
    const phone = '+14155550303';
    const { opened } = await journal.record(projectId, phone, [nameConflict('Ada', 'A. Lovelace')]);
    await journal.resolve(projectId, opened[0]?.id as string, { value: 'Ada', resolvedBy: 'sam' });
    // The late reconciliation reports the disagreement the supervisor just settled.
    const late = await journal.record(projectId, phone, [nameConflict('Ada', 'A. Lovelace', '2024-03-03T00:00:00Z')]);
    expect(late.opened).toEqual([]);
    expect(await openRows(phone)).toEqual([]);
    expect((await journal.decisions(projectId, phone)).map((decision) => decision.value)).toEqual(['Ada']);
    // A different disagreement is news and opens.
    expect((await journal.record(projectId, phone, [nameConflict('Ada', 'Augusta')])).opened).toHaveLength(1);
  });
});
