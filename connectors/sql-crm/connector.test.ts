// The SQL CRM connector on real databases: the same suite on PostgreSQL and on
// MariaDB, against a legacy-shaped schema (phones in any format and without a
// unique constraint, JSON kept in a text column, a version column).
import { randomInt } from 'node:crypto';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../embedded/ports.js';
import { CrmError, VersionConflictError, decideRetry } from '../sdk/errors.js';
import { createCrmSqlClient } from '../sdk/sql.js';
import type { ConnectorOperations } from '../sdk/types.js';
import { sqlCrm, sqlCrmConfigSchema } from './connector.js';
import { createTestCrmDatabase, passThroughLimiter, sqlCrmTestContext, type PassThroughLimiter, type TestCrmDatabase, type TestDialect } from './test-support.js';

/** A fresh Russian mobile number; the suite stores most of them in national format. */
function freshRuPhone(): { e164: string; national: string } {
  const digits = String(randomInt(0, 10_000_000)).padStart(7, '0');
  return { e164: `+7912${digits}`, national: `8 (912) ${digits.slice(0, 3)}-${digits.slice(3, 5)}-${digits.slice(5)}` };
}

/** Inserts a row and returns its auto-generated id, on either dialect. */
async function insertReturningId(db: Knex, dialect: TestDialect, table: string, row: Record<string, unknown>): Promise<number> {
  // PostgreSQL answers an insert with RETURNING rows, MariaDB with the auto-increment id.
  const [inserted] = (dialect === 'postgres' ? await db(table).insert(row, ['id']) : await db(table).insert(row)) as ({ id: number } | number)[];
  return typeof inserted === 'object' ? inserted.id : Number(inserted);
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the operation to fail');
    },
    (error: unknown) => error,
  );
}

describe.each<TestDialect>(['postgres', 'mariadb'])('sql-crm on %s', (dialect) => {
  let target: TestCrmDatabase;
  let tables: { clients: string; stamped: string; activities: string; deals: string };
  const open: ConnectorOperations[] = [];

  beforeAll(async () => {
    target = await createTestCrmDatabase(dialect);
    const { db, suffix } = target;
    tables = { clients: `clients_${suffix}`, stamped: `stamped_${suffix}`, activities: `activities_${suffix}`, deals: `deals_${suffix}` };
    // Legacy shape: no unique phone, free text phones, JSON in a text column.
    await db.schema.createTable(tables.clients, (table) => {
      table.increments('client_id');
      table.string('tel', 40);
      table.string('fio', 100);
      table.string('mail', 100).unique();
      table.text('notes');
      table.string('app_no', 40);
      table.integer('manager_id').nullable();
      table.integer('row_version').notNullable().defaultTo(0);
      table.dateTime('changed_at').nullable();
    });
    // Concurrency by an updated-at stamp of one-second resolution only.
    await db.schema.createTable(tables.stamped, (table) => {
      table.increments('id');
      table.string('phone', 40).index();
      table.string('full_name', 100);
      table.text('extra');
      table.dateTime('updated_at', { precision: 0 }).nullable();
    });
    await db.schema.createTable(tables.activities, (table) => {
      table.increments('id');
      table.integer('client_id').notNullable();
      table.string('hub_activity_id', 64);
      table.string('kind', 10);
      table.string('direction', 10);
      table.string('subject', 200);
      table.text('body');
      table.dateTime('occurred_at');
      table.integer('duration_s');
    });
    await db.schema.createTable(tables.deals, (table) => {
      table.increments('id');
      table.string('status', 30);
      table.text('note');
      table.integer('row_version').notNullable().defaultTo(0);
    });
  });

  afterAll(async () => {
    await Promise.all(open.map((crm) => crm.close()));
    await target?.drop();
  });

  function legacyConfig(overrides: Record<string, unknown> = {}) {
    return sqlCrmConfigSchema.parse({
      connectionString: target.url,
      table: tables.clients,
      columns: { id: 'client_id', phone: 'tel', name: 'fio', email: 'mail', fields: 'notes', version: 'row_version', updatedAt: 'changed_at' },
      extraColumns: { applicationNumber: 'app_no' },
      phoneFormat: 'raw',
      defaultRegion: 'RU',
      queryTimeoutMs: 5_000,
      activities: { table: tables.activities, columns: { kind: 'kind', direction: 'direction', body: 'body', durationSeconds: 'duration_s' } },
      deals: { table: tables.deals, columns: { note: 'note', version: 'row_version' }, statusMap: { approved: 'APPROVED', declined: 'DECLINED' } },
      ...overrides,
    });
  }

  function connect(config = legacyConfig(), limiter: PassThroughLimiter = passThroughLimiter()): ConnectorOperations {
    const crm = sqlCrm.create(sqlCrmTestContext(config, limiter));
    open.push(crm);
    return crm;
  }

  async function clientRows(e164Digits?: string): Promise<Record<string, unknown>[]> {
    const rows = (await target.db(tables.clients).select('*').orderBy('client_id')) as Record<string, unknown>[];
    return e164Digits === undefined ? rows : rows.filter((row) => String(row.tel).replace(/\D/g, '').endsWith(e164Digits.slice(-10)));
  }

  it('upserts idempotently: the same contact twice is one record, its version bumped, fields split by mapping', async () => {
    const limiter = passThroughLimiter();
    const crm = connect(legacyConfig(), limiter);
    const { e164 } = freshRuPhone();
    const contact = { phone: e164, name: 'Ivan Petrov', fields: { applicationNumber: 'A-1', address: 'Lenina 1', hubTaskId: 'task-1' } };

    const first = await crm.upsertContact(contact);
    const second = await crm.upsertContact({ ...contact, fields: { hubTaskId: 'task-2' } });

    expect(first).toMatchObject({ created: true, version: '1' });
    expect(second).toMatchObject({ created: false, externalId: first.externalId, version: '2' });
    const rows = await clientRows(e164);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ tel: e164, fio: 'Ivan Petrov', app_no: 'A-1', row_version: 2 });
    expect(JSON.parse(String(rows[0]?.notes))).toEqual({ address: 'Lenina 1', hubTaskId: 'task-2' });
    // One transaction per upsert, each a single limiter job.
    expect(limiter.scheduled).toBe(2);

    const [found] = await crm.findContacts({ phone: e164 });
    expect(found).toMatchObject({
      externalId: first.externalId,
      name: 'Ivan Petrov',
      version: '2',
      fields: { applicationNumber: 'A-1', address: 'Lenina 1', hubTaskId: 'task-2' },
    });
  });

  it("reads an owner column as the hub agent mapped to it and writes an agent back as its owner value", async () => {
    const crm = connect(legacyConfig({ extraColumns: { applicationNumber: 'app_no', responsibleAgent: 'manager_id' }, responsibleAgents: { 17: 'alice', 23: 'bob' } }));
    const owned = freshRuPhone();
    const stranger = freshRuPhone();
    await target.db(tables.clients).insert([{ tel: owned.national, fio: 'Owned', manager_id: 17 }, { tel: stranger.national, fio: 'Unmapped', manager_id: 99 }]);
    expect((await crm.findContacts({ phone: owned.e164 }))[0]?.fields.responsibleAgent).toBe('alice');
    // A manager the hub does not know is nobody's agent: no responsible agent rather than a CRM code.
    expect((await crm.findContacts({ phone: stranger.e164 }))[0]?.fields).not.toHaveProperty('responsibleAgent');

    await crm.upsertContact({ phone: owned.e164, fields: { responsibleAgent: 'bob' } });
    expect((await clientRows(owned.e164))[0]).toMatchObject({ manager_id: 23 });
    // An agent with no owner value leaves the record's manager as it is.
    await crm.upsertContact({ phone: stranger.e164, name: 'Renamed', fields: { responsibleAgent: 'carol' } });
    expect((await clientRows(stranger.e164))[0]).toMatchObject({ fio: 'Renamed', manager_id: 99 });
    // Without the map the column is the agent id as stored.
    expect((await connect(legacyConfig({ extraColumns: { responsibleAgent: 'manager_id' } })).findContacts({ phone: stranger.e164 }))[0]?.fields.responsibleAgent).toBe(99);
  });

  it('finds numbers stored in national and other formats by their E.164 number, and updates them in place', async () => {
    const crm = connect();
    const { e164, national } = freshRuPhone();
    const lastTen = e164.slice(-10);
    // Same last ten digits, another country: the SQL filter lets it through, libphonenumber must not.
    const foreign = `+1 ${lastTen.slice(0, 3)} ${lastTen.slice(3, 6)} ${lastTen.slice(6)}`;
    await target.db(tables.clients).insert([
      { tel: national, fio: 'Stored nationally', row_version: 7 },
      { tel: foreign, fio: 'Someone in the US' },
      { tel: `+7 912 ${String((Number(lastTen.slice(3)) + 1) % 10_000_000).padStart(7, '0')}`, fio: 'Next number' },
    ]);

    const found = await crm.findContacts({ phone: e164 });
    expect(found.map((contact) => [contact.name, contact.phone, contact.version])).toEqual([['Stored nationally', e164, '7']]);
    expect(await crm.getContact(found[0]!.externalId)).toMatchObject({ name: 'Stored nationally' });

    const upserted = await crm.upsertContact({ phone: e164, name: 'Updated', fields: {} });
    expect(upserted).toMatchObject({ created: false, externalId: found[0]!.externalId, version: '8' });
    // Old data is left as it is: the stored format does not change.
    expect((await clientRows()).filter((row) => row.fio === 'Updated').map((row) => row.tel)).toEqual([national]);
  });

  it('finds contacts by e-mail, case-insensitively, and by id', async () => {
    const crm = connect();
    const { e164 } = freshRuPhone();
    const email = `Mixed.Case.${target.suffix}@Example.com`;
    const { externalId } = await crm.upsertContact({ phone: e164, email, fields: {} });
    expect((await crm.findContacts({ email: email.toLowerCase() })).map((contact) => contact.externalId)).toEqual([externalId]);
    expect((await crm.findContacts({ externalId })).map((contact) => contact.phone)).toEqual([e164]);
    expect(await crm.getContact('999999999')).toBeNull();
    // A well-formed number nobody has is simply not found; a write needs a real number.
    expect(await crm.findContacts({ phone: '+10000000000' })).toEqual([]);
    await expect(crm.upsertContact({ phone: 'call me', fields: {} })).rejects.toMatchObject({ kind: 'rejected', message: expect.stringContaining('not a usable phone number') });
  });

  it('detects a version conflict: of two writers with the same expectedVersion, the second gets VersionConflictError', async () => {
    const writerA = connect();
    const writerB = connect();
    const { e164 } = freshRuPhone();
    const { externalId } = await writerA.upsertContact({ phone: e164, name: 'Original', fields: {} });
    const read = await writerB.getContact(externalId);
    const basedOn = read!.version;

    const a = await writerA.upsertContact({ phone: e164, name: 'Writer A', fields: {}, expectedVersion: basedOn });
    const b = await caught(writerB.upsertContact({ phone: e164, name: 'Writer B', fields: {}, expectedVersion: basedOn }));

    expect(b).toBeInstanceOf(VersionConflictError);
    expect(b).toMatchObject({ kind: 'rejected', currentVersion: a.version });
    expect(decideRetry(b).retry).toBe(false);
    expect((await clientRows(e164))[0]).toMatchObject({ fio: 'Writer A' });
    // After re-reading, B's write goes through.
    const fresh = await writerB.getContact(externalId);
    expect(fresh!.version).toBe(a.version);
    await expect(writerB.upsertContact({ phone: e164, name: 'Writer B', fields: {}, expectedVersion: fresh!.version })).resolves.toMatchObject({ created: false });
  });

  it('lets exactly one of two simultaneous writers with the same expectedVersion win', async () => {
    const writers = [connect(), connect()];
    const { e164 } = freshRuPhone();
    const { version } = await writers[0]!.upsertContact({ phone: e164, name: 'Original', fields: {} });
    const results = await Promise.allSettled(
      writers.map((crm, index) => crm.upsertContact({ phone: e164, name: `Writer ${index}`, fields: {}, expectedVersion: version })),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const [rejected] = results.filter((result) => result.status === 'rejected');
    expect(rejected?.reason).toBeInstanceOf(VersionConflictError);
  });

  it('creates one record when many writers upsert the same new phone at once (no unique constraint on the phone)', async () => {
    const writers = [connect(), connect(), connect()];
    const { e164 } = freshRuPhone();
    const results = await Promise.all(
      writers.flatMap((crm, writer) => [0, 1, 2, 3].map((attempt) => crm.upsertContact({ phone: e164, fields: { [`w${writer}`]: attempt } }))),
    );
    expect(new Set(results.map((result) => result.externalId)).size).toBe(1);
    expect(results.filter((result) => result.created)).toHaveLength(1);
    const rows = await clientRows(e164);
    expect(rows).toHaveLength(1);
    // Every write landed: the merges were serialized, none overwrote another.
    expect(Object.keys(JSON.parse(String(rows[0]?.notes))).sort()).toEqual(['w0', 'w1', 'w2']);
    expect(rows[0]?.row_version).toBe(12);
  });

  it('refuses a constraint violation as rejected, in the database\'s words', async () => {
    const crm = connect();
    const email = `taken.${target.suffix}@example.com`;
    await crm.upsertContact({ phone: freshRuPhone().e164, email, fields: {} });
    const error = await caught(crm.upsertContact({ phone: freshRuPhone().e164, email, fields: {} }));
    expect(error).toBeInstanceOf(CrmError);
    expect(error).toMatchObject({ kind: 'rejected' });
    expect((error as CrmError).message).toMatch(dialect === 'postgres' ? /duplicate key value violates unique constraint/ : /Duplicate entry .* for key/);
    // No bound values or SQL from knex's prefix: just the database's sentence.
    expect((error as CrmError).message).not.toMatch(/insert into/i);
    expect(decideRetry(error).retry).toBe(false);
  });

  it('refuses to overwrite a fields column holding text that is not JSON', async () => {
    const crm = connect();
    const { e164, national } = freshRuPhone();
    await target.db(tables.clients).insert({ tel: national, notes: 'called twice, call back after 5' });
    const error = await caught(crm.upsertContact({ phone: e164, fields: { hubTaskId: 't' } }));
    expect(error).toMatchObject({ kind: 'rejected', message: expect.stringContaining('not a JSON object') });
    expect((await clientRows(e164))[0]).toMatchObject({ notes: 'called twice, call back after 5' });
    const [found] = await crm.findContacts({ phone: e164 });
    expect(found?.fields).toEqual({ notes: 'called twice, call back after 5' });
  });

  it('reports a database that is down as unavailable (retryable)', async () => {
    const crm = connect(legacyConfig({ connectionString: target.unreachableUrl(await findFreePort()) }));
    const error = await caught(crm.upsertContact({ phone: freshRuPhone().e164, fields: {} }));
    expect(error).toBeInstanceOf(CrmError);
    expect(error).toMatchObject({ kind: 'unavailable', message: expect.stringContaining('ECONNREFUSED') });
    expect(decideRetry(error).retry).toBe(true);
    await expect(crm.findContacts({ phone: freshRuPhone().e164 })).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('logs an activity once, however often it is retried', async () => {
    const crm = connect();
    const { externalId } = await crm.upsertContact({ phone: freshRuPhone().e164, fields: {} });
    const activity = {
      contactExternalId: externalId,
      kind: 'call' as const,
      direction: 'outbound' as const,
      subject: 'Dialer attempt',
      body: 'No answer',
      occurredAt: '2026-11-24T10:00:00.000Z',
      durationSeconds: 42,
      hubActivityId: `act-${target.suffix}-1`,
    };
    const first = await crm.logActivity(activity);
    const again = await Promise.all([crm.logActivity(activity), crm.logActivity(activity), connect().logActivity(activity)]);
    expect(again.map((logged) => logged.externalId)).toEqual([first.externalId, first.externalId, first.externalId]);
    const rows = (await target.db(tables.activities).where('hub_activity_id', activity.hubActivityId)) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ client_id: Number(externalId), kind: 'call', direction: 'outbound', subject: 'Dialer attempt', duration_s: 42 });

    const other = await crm.logActivity({ ...activity, hubActivityId: `act-${target.suffix}-2` });
    expect(other.externalId).not.toBe(first.externalId);
  });

  it('updates a deal status through the status map, bumping its version', async () => {
    const crm = connect();
    const id = String(await insertReturningId(target.db, dialect, tables.deals, { status: 'NEW' }));

    await crm.updateDealStatus({ dealExternalId: id, status: 'approved', note: 'Approved by the agent' });
    expect(await target.db(tables.deals).where('id', id).first()).toMatchObject({ status: 'APPROVED', note: 'Approved by the agent', row_version: 1 });
    await crm.updateDealStatus({ dealExternalId: id, status: 'approved' });
    expect(await target.db(tables.deals).where('id', id).first()).toMatchObject({ status: 'APPROVED', note: 'Approved by the agent', row_version: 2 });

    await expect(crm.updateDealStatus({ dealExternalId: id, status: 'lost' })).rejects.toMatchObject({ kind: 'rejected', message: expect.stringContaining('"lost"') });
    await expect(crm.updateDealStatus({ dealExternalId: '999999999', status: 'declined' })).rejects.toMatchObject({ kind: 'rejected' });
  });

  it('writes many different new phones at once without deadlocking on an indexed phone column', async () => {
    const config = sqlCrmConfigSchema.parse({ connectionString: target.url, table: tables.stamped, columns: { email: null } });
    const writers = [connect(config), connect(config)];
    const phones = Array.from({ length: 16 }, () => freshRuPhone().e164);
    const results = await Promise.all(phones.map((phone, index) => writers[index % 2]!.upsertContact({ phone, fields: {} })));
    expect(results.every((result) => result.created)).toBe(true);
    expect(await target.db(tables.stamped).whereIn('phone', phones).count({ count: '*' })).toEqual([{ count: dialect === 'postgres' ? '16' : 16 }]);
  });

  it('reports a deadlock and a statement stuck behind a lock as unavailable (retryable), through the limiter', async () => {
    const limiter = passThroughLimiter();
    const client = (queryTimeoutMs: number) =>
      createCrmSqlClient({ dialect: dialect === 'postgres' ? 'postgres' : 'mysql', connection: target.url, limiter, poolSize: 4, queryTimeoutMs });
    // Long enough for PostgreSQL's deadlock detector (1 s), which must strike before the timeout does.
    const sql = client(5_000);
    const impatient = client(500);
    try {
      const ids = await Promise.all([
        sql.query(async (db) => insertReturningId(db, dialect, tables.deals, { status: 'NEW' })),
        sql.query(async (db) => insertReturningId(db, dialect, tables.deals, { status: 'NEW' })),
      ]);
      // Two transactions lock the two rows in opposite orders: the database must kill one.
      let arrived = 0;
      let bothLocked!: () => void;
      const barrier = new Promise<void>((resolve) => (bothLocked = resolve));
      const crossing = (first: number, second: number) =>
        sql.transaction(async (trx) => {
          await trx(tables.deals).where('id', first).forUpdate();
          arrived += 1;
          if (arrived === 2) bothLocked();
          await barrier;
          await trx(tables.deals).where('id', second).update({ note: 'crossed' });
        });
      const outcomes = await Promise.allSettled([crossing(ids[0]!, ids[1]!), crossing(ids[1]!, ids[0]!)]);
      const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/deadlock/i) });

      // A row held by one transaction; another waits for it past the timeout.
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      let letGo!: () => void;
      const released = new Promise<void>((resolve) => (letGo = resolve));
      const holder = sql.transaction(async (trx) => {
        await trx(tables.deals).where('id', ids[0]!).forUpdate();
        holding();
        await released;
      });
      await held;
      const waiting = await caught(impatient.transaction(async (trx) => trx(tables.deals).where('id', ids[0]!).forUpdate()));
      letGo();
      await holder;
      expect(waiting).toMatchObject({ kind: 'unavailable' });
      expect(decideRetry(waiting).retry).toBe(true);
      expect(limiter.scheduled).toBe(2 + 2 + 2);
    } finally {
      await Promise.all([sql.close(), impatient.close()]);
    }
  });

  it('uses a one-second updated_at as the version: every write moves it, a stale one conflicts', async () => {
    const crm = connect(
      sqlCrmConfigSchema.parse({ connectionString: target.url, table: tables.stamped, columns: { email: null }, phoneFormat: 'e164' }),
    );
    const phone = freshRuPhone().e164;
    const versions = [];
    // Several writes inside one second: the token must differ each time all the same.
    for (const name of ['one', 'two', 'three']) versions.push((await crm.upsertContact({ phone, name, fields: { hubTaskId: name } })).version);
    expect(new Set(versions).size).toBe(3);
    const stale = await caught(crm.upsertContact({ phone, name: 'stale', fields: {}, expectedVersion: versions[1] }));
    expect(stale).toBeInstanceOf(VersionConflictError);
    await expect(crm.upsertContact({ phone, name: 'current', fields: {}, expectedVersion: versions[2] })).resolves.toMatchObject({ created: false });
    expect(await target.db(tables.stamped).where('phone', phone)).toEqual([expect.objectContaining({ full_name: 'current', extra: JSON.stringify({ hubTaskId: 'three' }) })]);
  });
});

describe('sql-crm configuration', () => {
  it('keeps the minimal { connectionString } configuration valid, with the demo CRM\'s defaults', () => {
    const config = sqlCrmConfigSchema.parse({ connectionString: 'postgres://crm:secret@127.0.0.1:5432/crm' });
    expect(config).toMatchObject({
      table: 'clients',
      columns: { id: 'id', phone: 'phone', name: 'full_name', email: 'email', fields: 'extra', updatedAt: 'updated_at' },
      phoneFormat: 'e164',
      poolSize: 5,
    });
    expect(sqlCrm.secrets).toEqual(['connectionString']);
  });

  it('refuses identifiers that are not plain SQL names, and mappings it cannot honour, naming the field', () => {
    const issues = (input: Record<string, unknown>) => {
      const result = sqlCrmConfigSchema.safeParse({ connectionString: 'mysql://root@127.0.0.1:3306/crm', ...input });
      return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
    };
    expect(issues({ table: 'clients; DROP TABLE x' })).toEqual(['table']);
    expect(issues({ columns: { phone: 'tel"--' } })).toEqual(['columns.phone']);
    expect(issues({ columns: { updatedAt: null } })).toEqual(['columns.version']);
    expect(issues({ phoneFormat: 'raw' })).toEqual(['defaultRegion']);
    expect(issues({ extraColumns: { applicationNumber: 'phone' } })).toEqual(['extraColumns.applicationNumber']);
    expect(issues({ responsibleAgents: { 17: 'alice', M23: 'alice', '': 'bob' } })).toEqual(['responsibleAgents.M23', 'responsibleAgents.']);
    expect(issues({ connectionString: 'sqlite:///tmp/crm.db' })).toEqual(['connectionString']);
  });

  it('explains what is missing when an untested dialect\'s driver is not installed', () => {
    const config = sqlCrmConfigSchema.parse({ connectionString: 'mssql://sa:secret@127.0.0.1:1433/crm' });
    expect(() => sqlCrm.create(sqlCrmTestContext(config))).toThrow(/needs the "tedious" package.*npm install tedious.*untested/);
  });
});
