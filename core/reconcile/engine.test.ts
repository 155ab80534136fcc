// Survivorship rules, legacy sources, write-back and conflicts, on records as
// CRMs deliver them, malformed ones included; then invariants over random input.
import { describe, expect, it } from 'vitest';
import { describeRule, reconcile } from './engine.js';
import { defaultRules, reconcileRulesSchema, rulesFromProject, sourceReferenceErrors } from './rules.js';
import type { FieldPolicy, ReconcileRules, SourceRecord, SupervisorDecision, SurvivorshipRule } from './types.js';

const A = 'src-a';
const B = 'src-b';
const OLD = 'src-old';
const AGENT = 'hub-agent';

function record(source: string, values: Record<string, unknown>, updatedAt?: string, extra: Partial<SourceRecord> = {}): SourceRecord {
  const names: Record<string, string> = { [A]: 'crm-a', [B]: 'crm-b', [OLD]: 'legacy-crm', [AGENT]: 'agent' };
  return { source, sourceName: names[source] ?? source, externalId: `${source}-1`, values, updatedAt, ...extra };
}

function rules(defaultPolicy: FieldPolicy, fields: Record<string, FieldPolicy> = {}, legacySources?: string[]): ReconcileRules {
  return { default: defaultPolicy, fields, legacySources };
}

const mostRecent: SurvivorshipRule = { kind: 'most-recent' };

describe('ranked', () => {
  it('takes the first ranked source with a value, however old, and skips empty ones', () => {
    const result = reconcile(
      [record(A, { name: 'Ada A', status: '' }, '2024-06-01T00:00:00Z'), record(B, { name: 'Ada B', status: 'won' }, '2020-01-01T00:00:00Z')],
      rules({ rule: { kind: 'ranked', ranking: [B, A] } }),
    );
    expect(result.merged).toEqual({ name: 'Ada B', status: 'won' });
    expect(result.provenance).toEqual({ name: B, status: B });
    expect(result.conflicts.map((conflict) => conflict.rule)).toEqual(['ranked[crm-b>crm-a]']);
  });

  it('puts unranked sources after ranked ones, the newest of them first', () => {
    const result = reconcile(
      [record(A, { name: 'old' }, '2024-01-01T00:00:00Z'), record('src-c', { name: 'new' }, '2024-02-01T00:00:00Z'), record(B, { name: '' })],
      rules({ rule: { kind: 'ranked', ranking: [B] } }),
    );
    expect(result.merged.name).toBe('new');
  });
});

describe('most-recent', () => {
  it('takes the newest value; a record without a readable updatedAt is older than any dated one', () => {
    const result = reconcile(
      [record(A, { name: 'older' }, '2024-01-01T00:00:00Z'), record(B, { name: 'newer' }, '2024-03-01T00:00:00+01:00'), record('src-c', { name: 'undated' }, 'yesterday')],
      rules({ rule: mostRecent }),
    );
    expect(result.merged.name).toBe('newer');
    expect(result.provenance.name).toBe(B);
  });

  it('reads times with an offset exactly and times without one as UTC', () => {
    const result = reconcile(
      // 12:00+03:00 is 09:00Z, earlier than 10:00 (read as UTC on any machine).
      [record(A, { name: 'plus-three' }, '2024-05-01T12:00:00+03:00'), record(B, { name: 'no-offset' }, '2024-05-01T10:00:00')],
      rules({ rule: mostRecent }),
    );
    expect(result.merged.name).toBe('no-offset');
  });

  it('breaks ties by tieBreak, else by source id', () => {
    const at = '2024-01-01T00:00:00Z';
    const records = [record(B, { name: 'from b' }, at), record(A, { name: 'from a' }, at)];
    expect(reconcile(records, rules({ rule: { kind: 'most-recent', tieBreak: [B, A] } })).merged.name).toBe('from b');
    expect(reconcile(records, rules({ rule: mostRecent })).merged.name).toBe('from a');
  });

  it('uses a field\'s own time over the record\'s', () => {
    const result = reconcile(
      [
        // The hub wrote "name" to A just now, which bumped A's record; its status did not change.
        record(A, { name: 'Ada', status: 'stale' }, '2024-09-01T00:00:00Z', { fieldUpdatedAt: { status: '2024-01-01T00:00:00Z' } }),
        record(B, { name: 'Ada', status: 'current' }, '2024-06-01T00:00:00Z'),
      ],
      rules({ rule: mostRecent }),
    );
    expect(result.merged.status).toBe('current');
    expect(result.conflicts[0]?.candidates.find((candidate) => candidate.source === A)?.updatedAt).toBe('2024-01-01T00:00:00Z');
  });
});

describe('agent-wins', () => {
  const policy: FieldPolicy = { rule: { kind: 'agent-wins', fallback: { kind: 'ranked', ranking: [A, B] } } };

  it('lets what an agent typed beat newer CRM data', () => {
    const result = reconcile(
      [record(A, { name: 'CRM name' }, '2024-09-01T00:00:00Z'), record(AGENT, { name: 'Typed name' }, '2024-01-01T00:00:00Z', { origin: 'agent' })],
      rules(policy),
    );
    expect(result.merged.name).toBe('Typed name');
    // Sources are named as their records name them; src-b sent nothing, so it keeps its id.
    expect(result.conflicts[0]?.rule).toBe('agent-wins(ranked[crm-a>src-b])');
  });

  it('falls back to its rule when no agent typed a value', () => {
    const result = reconcile(
      [record(B, { name: 'B' }, '2024-09-01T00:00:00Z'), record(A, { name: 'A' }, '2024-01-01T00:00:00Z'), record(AGENT, { name: ' ' }, undefined, { origin: 'agent' })],
      rules(policy),
    );
    expect(result.merged.name).toBe('A');
  });

  it('applies the fallback among agents when several typed a value', () => {
    const result = reconcile(
      [
        record('agent-1', { name: 'first' }, '2024-01-01T00:00:00Z', { origin: 'agent' }),
        record('agent-2', { name: 'second' }, '2024-02-01T00:00:00Z', { origin: 'agent' }),
        record(A, { name: 'crm' }, '2024-03-01T00:00:00Z'),
      ],
      rules({ rule: { kind: 'agent-wins', fallback: mostRecent } }),
    );
    expect(result.merged.name).toBe('second');
  });
});

describe('empty values', () => {
  it('never lets null, undefined, empty or blank strings win or conflict by default', () => {
    const result = reconcile(
      [
        record(A, { name: null, email: '', phone: undefined, note: '   ' }, '2024-09-01T00:00:00Z'),
        record(B, { name: 'Ada', email: 'ada@example.com', phone: '+14155552671', note: 'call after 6' }, '2024-01-01T00:00:00Z'),
      ],
      rules({ rule: mostRecent }),
    );
    expect(result.merged).toEqual({ name: 'Ada', email: 'ada@example.com', phone: '+14155552671', note: 'call after 6' });
    expect(result.conflicts).toEqual([]);
  });

  it('leaves a field out when every source is empty', () => {
    const result = reconcile([record(A, { name: '' }), record(B, { name: null })], rules({ rule: mostRecent }));
    expect(result.merged).toEqual({});
    expect('name' in result.provenance).toBe(false);
  });

  it('lets a field opt out: then an empty value is a value that can win and conflict', () => {
    const result = reconcile(
      [record(A, { note: null }, '2024-09-01T00:00:00Z'), record(B, { note: 'keep?' }, '2024-01-01T00:00:00Z')],
      rules({ rule: mostRecent }, { note: { rule: mostRecent, ignoreEmpty: false } }),
    );
    expect(result.merged).toEqual({ note: null });
    expect(result.conflicts).toHaveLength(1);
  });
});

describe('legacy sources', () => {
  it('never lets a legacy value beat a current one, however new, but journals the disagreement', () => {
    const result = reconcile(
      [record(OLD, { name: 'IVANOV I.' }, '2024-09-01T00:00:00Z', { legacy: true }), record(A, { name: 'Ivan Ivanov' }, '2020-01-01T00:00:00Z')],
      rules({ rule: { kind: 'ranked', ranking: [OLD, A] } }),
    );
    expect(result.merged.name).toBe('Ivan Ivanov');
    expect(result.conflicts[0]?.candidates).toEqual([
      expect.objectContaining({ source: A, value: 'Ivan Ivanov' }),
      expect.objectContaining({ source: OLD, value: 'IVANOV I.', legacy: true }),
    ]);
  });

  it('lets a legacy value survive where no current source has one', () => {
    const result = reconcile(
      [record(OLD, { address: '1 Main St' }, undefined, { legacy: true }), record(A, { address: '' })],
      rules({ rule: mostRecent, owner: A }),
    );
    expect(result.merged.address).toBe('1 Main St');
    expect(result.provenance.address).toBe(OLD);
    // The current owner gets the old address: new data is kept right.
    expect(result.writeBack).toEqual({ [A]: { address: '1 Main St' } });
  });

  it('is never written back to, whether the record or the project marks it legacy', () => {
    const records = [record(OLD, { name: 'old' }, undefined), record(A, { name: 'new' })];
    const byProject = reconcile(records, rules({ rule: mostRecent, owner: OLD, mirrors: [OLD, A] }, {}, [OLD]));
    expect(byProject.merged.name).toBe('new');
    expect(byProject.writeBack).toEqual({});
    const byRecord = reconcile(
      [record(OLD, { name: 'old' }, undefined, { legacy: true }), record(A, { name: 'new' })],
      rules({ rule: mostRecent, owner: OLD, mirrors: [B] }),
    );
    expect(byRecord.writeBack).toEqual({ [B]: { name: 'new' } });
  });
});

describe('write-back', () => {
  it('writes the survivor to the owner and mirrors that hold something else, and nothing else', () => {
    const result = reconcile(
      [
        record(A, { name: 'Ada', email: 'ADA@example.com ' }, '2024-01-01T00:00:00Z'),
        record(B, { name: 'Ada Lovelace', email: 'ada@example.com' }, '2024-06-01T00:00:00Z'),
        record('src-c', { name: 'Ada Lovelace' }, '2024-02-01T00:00:00Z'),
      ],
      rules({ rule: mostRecent, owner: A, mirrors: ['src-c', 'src-d'] }),
    );
    expect(result.merged).toEqual({ name: 'Ada Lovelace', email: 'ada@example.com' });
    // A's e-mail differs only in case and spacing: no write. src-c holds the name already.
    // src-d has no record of the contact: it gets every owned field (its connector upserts).
    expect(result.writeBack).toEqual({
      [A]: { name: 'Ada Lovelace' },
      'src-c': { email: 'ada@example.com' },
      'src-d': { name: 'Ada Lovelace', email: 'ada@example.com' },
    });
  });

  it('writes nothing where no field has an owner', () => {
    const result = reconcile([record(A, { name: 'x' }), record(B, { name: 'y' })], rules({ rule: mostRecent }));
    expect(result.writeBack).toEqual({});
  });
});

describe('conflicts', () => {
  it('lists every candidate, the rule, the chosen value and source', () => {
    const result = reconcile(
      [record(A, { status: 'won' }, '2024-01-01T00:00:00Z'), record(B, { status: 'lost' }, '2024-02-01T00:00:00Z')],
      rules({ rule: mostRecent }),
    );
    expect(result.conflicts).toEqual([
      {
        field: 'status',
        candidates: [
          { source: A, sourceName: 'crm-a', value: 'won', updatedAt: '2024-01-01T00:00:00Z', externalId: `${A}-1` },
          { source: B, sourceName: 'crm-b', value: 'lost', updatedAt: '2024-02-01T00:00:00Z', externalId: `${B}-1` },
        ],
        rule: 'most-recent',
        chosenValue: 'lost',
        chosenSource: B,
      },
    ]);
  });

  it('compares trimmed, e-mails without case, and numbers as their text', () => {
    const result = reconcile(
      [record(A, { name: ' Ada ', email: 'Ada@Example.com', score: 42 }), record(B, { name: 'Ada', email: 'ada@example.com', score: '42' })],
      rules({ rule: mostRecent }),
    );
    expect(result.conflicts).toEqual([]);
    // Names are compared case-sensitively: a different spelling is a disagreement.
    expect(reconcile([record(A, { name: 'ada' }), record(B, { name: 'Ada' })], rules({ rule: mostRecent })).conflicts).toHaveLength(1);
  });
});

describe('malformed data', () => {
  it('treats NaN, nested objects, cycles, bigints, dates and functions as values without throwing', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const records = [
      record(A, { score: Number.NaN, address: { city: 'Paris', lines: ['1 rue'] }, loop: cyclic, big: 10n, when: new Date('invalid'), fn: () => 1 }, 'garbage'),
      record(B, { score: Number.NaN, address: { lines: ['1 rue'], city: 'Paris' }, loop: { a: 2 }, big: '10', when: 'x', fn: 'y' }, '2024-01-01T00:00:00Z'),
    ];
    const result = reconcile(records, rules({ rule: mostRecent, owner: A }));
    // Same nested object with keys in another order, NaN and NaN, 10n and "10": no disagreement.
    expect(result.conflicts.map((conflict) => conflict.field).sort()).toEqual(['fn', 'loop', 'when']);
    expect(result.merged.score).toBeNaN();
    expect(result.merged.loop).toEqual({ a: 2 });
    expect(result.writeBack[A]).toEqual({ loop: { a: 2 }, when: 'x', fn: 'y' });
  });

  it('skips records that are not records and reads fields with awkward names as fields', () => {
    const odd = JSON.parse('{"__proto__": "polluted", "constructor": "c", "name": "Ada"}') as Record<string, unknown>;
    const junk = [null, 42, 'record', { source: 7, values: [1, 2] }, { values: null }, record(A, odd)] as unknown as SourceRecord[];
    const result = reconcile(junk, rules({ rule: mostRecent }, { constructor: { rule: mostRecent } }));
    expect(Object.keys(result.merged).sort()).toEqual(['__proto__', 'constructor', 'name']);
    expect(Object.getPrototypeOf(result.merged)).toBe(Object.prototype);
    expect(result.merged.constructor).toBe('c');
    expect(reconcile('not a list' as unknown as SourceRecord[], rules({ rule: mostRecent })).merged).toEqual({});
  });

  it('falls back to most-recent on rules it cannot read', () => {
    const broken = { default: { rule: { kind: 'coin-toss' } }, fields: null } as unknown as ReconcileRules;
    const result = reconcile([record(A, { name: 'old' }, '2024-01-01T00:00:00Z'), record(B, { name: 'new' }, '2024-02-01T00:00:00Z')], broken);
    expect(result.merged.name).toBe('new');
    const cyclic = { kind: 'agent-wins' } as { kind: 'agent-wins'; fallback: SurvivorshipRule };
    cyclic.fallback = cyclic;
    expect(describeRule(cyclic)).toMatch(/^agent-wins\(agent-wins\(.*most-recent\)+$/);
    expect(reconcile([record(A, { name: 'x' })], rules({ rule: cyclic })).merged.name).toBe('x');
  });
});

describe('determinism', () => {
  it('gives the same answer for every order of the same records', () => {
    const at = '2024-01-01T00:00:00Z';
    const records = [
      record(A, { name: 'a', status: 'open', email: 'X@y.z' }, at),
      record(B, { name: 'b', status: 'open', email: 'x@y.z' }, at),
      record(B, { name: 'b2', status: 'won' }, at, { externalId: 'b-2' }),
      record(OLD, { name: 'old', status: 'lost' }, at, { legacy: true }),
      record(AGENT, { status: 'callback' }, at, { origin: 'agent' }),
    ];
    const policies = rules({ rule: mostRecent, owner: A, mirrors: [B] }, { status: { rule: { kind: 'agent-wins', fallback: mostRecent }, owner: B } });
    const expected = JSON.stringify(reconcile(records, policies));
    for (const order of permutations(records.length)) {
      expect(JSON.stringify(reconcile(order.map((index) => records[index] as SourceRecord), policies))).toBe(expected);
    }
  });
});

describe('two CRMs disagree on a name and a status', () => {
  it('merges per the rules, reports both conflicts and writes the owner', () => {
    const crmA = record(A, { name: 'Ada Lovelace', status: 'application' }, '2024-05-01T09:00:00Z');
    const crmB = record(B, { name: 'A. Lovelace', status: 'approved' }, '2024-05-02T09:00:00Z');
    const projectRules = rules(
      { rule: mostRecent },
      {
        name: { rule: { kind: 'ranked', ranking: [A, B] }, owner: A },
        status: { rule: mostRecent, owner: A, mirrors: [B] },
      },
    );
    const result = reconcile([crmA, crmB], projectRules);
    expect(result.merged).toEqual({ name: 'Ada Lovelace', status: 'approved' });
    expect(result.provenance).toEqual({ name: A, status: B });
    expect(result.conflicts.map(({ field, rule, chosenValue }) => ({ field, rule, chosenValue }))).toEqual([
      { field: 'name', rule: 'ranked[crm-a>crm-b]', chosenValue: 'Ada Lovelace' },
      { field: 'status', rule: 'most-recent', chosenValue: 'approved' },
    ]);
    // A owns both fields and lacks the new status; B mirrors status and has it: one write.
    expect(result.writeBack).toEqual({ [A]: { status: 'approved' } });
  });
});

describe('supervisor decisions', () => {
  // The CRMs disagreed on the name; the supervisor decided on a corrected spelling.
  const owned = rules({ rule: { kind: 'ranked', ranking: [A, B] } }, { name: { rule: { kind: 'ranked', ranking: [A, B] }, owner: A, mirrors: [B] } });
  const decision: SupervisorDecision = {
    field: 'name',
    value: 'Ada Lovelace',
    decidedAt: '2024-06-02T00:00:00Z',
    heldBy: [
      { source: A, value: 'Ada L.' },
      { source: B, value: 'A. Lovelace' },
    ],
  };

  it('makes the decided value survive over the rule, opens no conflict and writes it to the owner and mirrors', () => {
    const result = reconcile([record(A, { name: 'Ada L.' }, '2024-06-01T00:00:00Z'), record(B, { name: 'A. Lovelace' }, '2024-06-03T00:00:00Z')], owned, [decision]);
    expect(result.merged.name).toBe('Ada Lovelace');
    expect(result.provenance.name).toBe('supervisor');
    expect(result.decided).toEqual(['name']);
    expect(result.conflicts).toEqual([]);
    expect(result.writeBack).toEqual({ [A]: { name: 'Ada Lovelace' }, [B]: { name: 'Ada Lovelace' } });
  });

  it('writes nothing once the owner and mirrors hold the decision, and a source still holding its old value opens nothing', () => {
    const onlyOwner = rules({ rule: mostRecent }, { name: { rule: mostRecent, owner: A } });
    const result = reconcile([record(A, { name: 'Ada Lovelace' }, '2024-06-02T00:00:01Z'), record(B, { name: ' A. Lovelace ' }, '2024-06-05T00:00:00Z')], onlyOwner, [decision]);
    expect(result.merged.name).toBe('Ada Lovelace');
    expect(result.conflicts).toEqual([]);
    expect(result.writeBack).toEqual({});
  });

  it('gives way when a source says something new: the rule decides again and the disagreement is a conflict', () => {
    const result = reconcile([record(A, { name: 'Ada Lovelace' }, '2024-06-02T00:00:01Z'), record(B, { name: 'Augusta Ada King' }, '2024-06-05T00:00:00Z')], owned, [decision]);
    expect(result.decided).toEqual([]);
    expect(result.provenance.name).toBe(A);
    expect(result.conflicts.map((conflict) => conflict.field)).toEqual(['name']);
    // A source that had no value when the supervisor decided and has one now is news too.
    const newcomer = reconcile([record(A, { name: 'Ada Lovelace' }), record('src-c', { name: 'Ada K.' })], owned, [decision]);
    expect(newcomer.decided).toEqual([]);
  });

  it('holds a field every source left empty, and leaves other fields to the rules', () => {
    const result = reconcile([record(A, { name: '', status: 'new' }), record(B, { status: 'won' }, '2024-07-01T00:00:00Z')], owned, [decision]);
    expect(result.merged).toEqual({ name: 'Ada Lovelace', status: 'new' });
    expect(result.writeBack).toEqual({ [A]: { name: 'Ada Lovelace' }, [B]: { name: 'Ada Lovelace' } });
    expect(result.conflicts.map((conflict) => conflict.field)).toEqual(['status']);
  });

  it('takes the latest of several decisions for a field and ignores malformed ones', () => {
    const later = { ...decision, value: 'Ada King', decidedAt: '2024-06-04T00:00:00Z' };
    const junk = [null, 42, { field: 'name' }, { value: 'x' }, { field: '', value: 'y', heldBy: [] }, { field: 'name', value: 'z', heldBy: 'nope', decidedAt: 'not a time' }] as unknown as SupervisorDecision[];
    const records = [record(A, { name: 'Ada L.' }), record(B, { name: 'A. Lovelace' })];
    expect(reconcile(records, owned, [later, decision, ...junk]).merged.name).toBe('Ada King');
    expect(reconcile(records, owned, [...junk, decision, later]).merged.name).toBe('Ada King');
  });

  it('never writes a decision to a legacy source', () => {
    const legacyMirror = rules({ rule: mostRecent }, { name: { rule: mostRecent, owner: A, mirrors: [OLD] } }, [OLD]);
    const result = reconcile([record(A, { name: 'Ada L.' }), record(OLD, { name: 'A. Lovelace' })], legacyMirror, [{ ...decision, heldBy: [{ source: A, value: 'Ada L.' }, { source: OLD, value: 'A. Lovelace' }] }]);
    expect(result.writeBack).toEqual({ [A]: { name: 'Ada Lovelace' } });
  });
});

describe('rules from the project', () => {
  it('defaults to most-recent, ignoring empties, ties in source order, no owner', () => {
    const expected = defaultRules([B, A]);
    expect(rulesFromProject({}, [B, A])).toEqual(expected);
    expect(expected.default).toEqual({ rule: { kind: 'most-recent', tieBreak: [B, A] }, ignoreEmpty: true, owner: undefined });
    expect(rulesFromProject({}, [A], { owner: A }).default.owner).toBe(A);
  });

  it('reads stored rules, dropping sources that no longer exist, and reports invalid JSON', () => {
    const stored = reconcileRulesSchema.parse({
      fields: { name: { rule: { kind: 'ranked', ranking: ['gone', A] }, owner: 'gone', mirrors: [B, 'gone'] } },
      legacySources: ['gone', OLD],
    });
    const effective = rulesFromProject(stored, [A, B, OLD]);
    expect(effective.fields.name).toEqual({ rule: { kind: 'ranked', ranking: [A] }, ignoreEmpty: true, owner: undefined, mirrors: [B] });
    expect(effective.default.rule).toEqual({ kind: 'most-recent', tieBreak: [A, B, OLD] });
    expect(effective.legacySources).toEqual([OLD]);

    const reported: string[] = [];
    const fallback = rulesFromProject({ fields: 'x' }, [A], { onInvalid: (errors) => reported.push(...errors.map((error) => error.field)) });
    expect(fallback).toEqual(defaultRules([A]));
    expect(reported).toEqual(['fields']);
  });

  it('names every unknown or unwritable source by where it sits', () => {
    const stored = reconcileRulesSchema.parse({
      fields: {
        name: { rule: { kind: 'ranked', ranking: ['nope', A] } },
        status: { rule: { kind: 'agent-wins', fallback: { kind: 'most-recent', tieBreak: [A, 'nope'] } }, owner: OLD },
      },
      default: { mirrors: ['nope'] },
      legacySources: [OLD],
    });
    expect(sourceReferenceErrors(stored, [A, OLD]).map((error) => error.field)).toEqual([
      'fields.name.rule.ranking.0',
      'fields.status.rule.fallback.tieBreak.1',
      'fields.status.owner',
      'default.mirrors.0',
    ]);
    const duplicate = reconcileRulesSchema.safeParse({ fields: { name: { rule: { kind: 'ranked', ranking: [A, A] } } } });
    expect(duplicate.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['fields.name.rule.ranking.1']);
  });
});

// Invariants over random records and rules (seeded, so a failure reproduces).
describe('properties', () => {
  const sources = [A, B, 'src-c', OLD, AGENT];
  const fields = ['name', 'email', 'status', 'score'];
  const values: unknown[] = [
    'Ada', ' Ada ', 'ada', 'Lovelace', 'ADA@X.COM', 'ada@x.com', '', '   ', null, undefined, 42, '42', Number.NaN, true, 'true',
    { city: 'Paris' }, ['x'], 'approved', 'lost',
  ];
  const times = [undefined, 'not a time', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', '2024-03-01T00:00:00+05:00'];

  it('keeps its promises on 500 random contacts', () => {
    const random = mulberry32(20240501);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const some = <T>(items: readonly T[]): T[] => items.filter(() => random() < 0.4);

    for (let round = 0; round < 500; round += 1) {
      const legacyByRecord = random() < 0.5 ? OLD : undefined;
      const records: SourceRecord[] = [];
      for (let index = Math.floor(random() * 6); index > 0; index -= 1) {
        const source = pick(sources);
        const recordValues: Record<string, unknown> = {};
        for (const field of some(fields)) recordValues[field] = pick(values);
        records.push({
          source,
          sourceName: source,
          externalId: `${source}-${Math.floor(random() * 2)}`,
          values: recordValues,
          updatedAt: pick(times),
          origin: source === AGENT ? 'agent' : 'crm',
          legacy: source === legacyByRecord,
        });
      }
      const randomRule = (): SurvivorshipRule => {
        const plain: SurvivorshipRule[] = [{ kind: 'ranked', ranking: some(sources) }, { kind: 'most-recent', tieBreak: some(sources) }];
        return random() < 0.3 ? { kind: 'agent-wins', fallback: pick(plain) } : pick(plain);
      };
      const randomPolicy = (): FieldPolicy => ({
        rule: randomRule(),
        ignoreEmpty: random() < 0.8,
        owner: random() < 0.7 ? pick([A, B, 'src-c', OLD]) : undefined,
        mirrors: some([A, B, 'src-c', OLD]),
      });
      const policies: ReconcileRules = {
        default: randomPolicy(),
        fields: Object.fromEntries(some(fields).map((field) => [field, randomPolicy()])),
        legacySources: random() < 0.5 ? [OLD] : [],
      };
      const legacy = new Set([...(policies.legacySources ?? []), ...records.filter((item) => item.legacy).map((item) => item.source)]);
      const context = JSON.stringify({ round, records, policies });

      const result = reconcile(records, policies);

      for (const [field, value] of Object.entries(result.merged)) {
        const from = records.filter((item) => item.source === result.provenance[field] && field in item.values && Object.is(item.values[field], value));
        expect(from.length, `merged.${field} comes from its provenance: ${context}`).toBeGreaterThan(0);
      }
      for (const [target, writes] of Object.entries(result.writeBack)) {
        expect(legacy.has(target), `no write to legacy ${target}: ${context}`).toBe(false);
        for (const [field, value] of Object.entries(writes)) expect(Object.is(value, result.merged[field]), context).toBe(true);
      }
      for (const conflict of result.conflicts) {
        expect(conflict.candidates.length).toBeGreaterThan(1);
        expect(Object.is(conflict.chosenValue, result.merged[conflict.field])).toBe(true);
      }

      // Idempotence: once the writes land (the hub's own writes are not news,
      // so times stay), reconciling again changes nothing and writes nothing.
      const applied = applyWriteBack(records, result.writeBack);
      const again = reconcile(applied, policies);
      expect(again.writeBack, context).toEqual({});
      expect(again.merged, context).toEqual(result.merged);

      // Determinism: input order does not matter.
      const shuffled = [...records].sort(() => random() - 0.5);
      expect(JSON.stringify(reconcile(shuffled, policies)), context).toBe(JSON.stringify(result));
    }
  });
});

function applyWriteBack(records: SourceRecord[], writeBack: Record<string, Record<string, unknown>>): SourceRecord[] {
  const next = records.map((item) => ({ ...item, values: { ...item.values, ...(writeBack[item.source] ?? {}) } }));
  for (const [target, writes] of Object.entries(writeBack)) {
    if (!records.some((item) => item.source === target)) next.push({ source: target, sourceName: target, externalId: `${target}-new`, values: { ...writes } });
  }
  return next;
}

function permutations(size: number): number[][] {
  if (size === 0) return [[]];
  return permutations(size - 1).flatMap((rest) => Array.from({ length: size }, (_, at) => [...rest.slice(0, at), size - 1, ...rest.slice(at)]));
}

function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
