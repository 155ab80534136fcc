// Change detection on real PostgreSQL and MariaDB tables: every changed row is read
// once in (updated_at, id) order across pages even when stamps tie, rows too fresh
// to be settled are reported but never passed by the cursor, and the hub's own
// writes are changes like any other.
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrmError } from '../sdk/errors.js';
import type { ChangedContact, ConnectorOperations } from '../sdk/types.js';
import { sqlCrm, sqlCrmConfigSchema } from './connector.js';
import { createTestCrmDatabase, sqlCrmTestContext, type TestCrmDatabase, type TestDialect } from './test-support.js';

describe.each<TestDialect>(['postgres', 'mariadb'])('sql-crm changes on %s', (dialect) => {
  let target: TestCrmDatabase;
  let table: string;
  const open: ConnectorOperations[] = [];

  function connector(overrides: Record<string, unknown> = {}): ConnectorOperations {
    const config = sqlCrmConfigSchema.parse({
      connectionString: target.url,
      table,
      columns: { id: 'id', phone: 'phone', name: 'full_name', email: null, fields: 'extra', updatedAt: 'updated_at' },
      changeSettleSeconds: 0,
      ...overrides,
    });
    const operations = sqlCrm.create(sqlCrmTestContext(config));
    open.push(operations);
    return operations;
  }

  /** A stamp `secondsAgo` in the past, whole seconds (the column holds no fractions). */
  const stampAgo = (secondsAgo: number) => new Date(Math.floor(Date.now() / 1000) * 1000 - secondsAgo * 1000);

  async function insert(db: Knex, rows: { phone: string; name: string; stamp: Date }[]): Promise<string[]> {
    const ids: string[] = [];
    for (const row of rows) {
      const values = { phone: row.phone, full_name: row.name, extra: '{}', updated_at: row.stamp };
      const [inserted] = (dialect === 'postgres' ? await db(table).insert(values, ['id']) : await db(table).insert(values)) as ({ id: number } | number)[];
      ids.push(String(typeof inserted === 'object' ? inserted.id : inserted));
    }
    return ids;
  }

  async function readAll(crm: ConnectorOperations, since: string | null, limit: number, startAt?: string): Promise<{ seen: ChangedContact[]; cursor: string; pages: number }> {
    const seen: ChangedContact[] = [];
    let cursor = since;
    let pages = 0;
    for (;;) {
      const page = await crm.listChangedContacts!({ since: cursor, limit, startAt });
      pages += 1;
      seen.push(...page.contacts);
      cursor = page.cursor;
      if (!page.more) return { seen, cursor, pages };
      if (pages > 50) throw new Error('paging did not end');
    }
  }

  beforeAll(async () => {
    target = await createTestCrmDatabase(dialect);
    table = `changes_${target.suffix}`;
    await target.db.schema.createTable(table, (t) => {
      t.increments('id');
      t.string('phone', 40);
      t.string('full_name', 100);
      t.text('extra');
      // One-second resolution: ties are the rule, not the exception.
      t.dateTime('updated_at', { precision: 0 }).nullable();
    });
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((operations) => operations.close()));
    await target?.drop();
  });

  it('reads every row once, in (updated_at, id) order, across pages that end inside a tie', async () => {
    await target.db(table).delete();
    const tied = stampAgo(100);
    const ids = await insert(target.db, [
      { phone: '+14155550101', name: 'Tied 1', stamp: tied },
      { phone: '+14155550102', name: 'Tied 2', stamp: tied },
      { phone: '+14155550103', name: 'Tied 3', stamp: tied },
      { phone: '+14155550104', name: 'Older', stamp: stampAgo(200) },
      { phone: '+14155550105', name: 'Newer', stamp: stampAgo(50) },
    ]);
    const crm = connector();
    const { seen, cursor, pages } = await readAll(crm, null, 2);
    expect(seen.map((contact) => contact.name)).toEqual(['Older', 'Tied 1', 'Tied 2', 'Tied 3', 'Newer']);
    expect(seen.map((contact) => contact.externalId)).toEqual([ids[3], ids[0], ids[1], ids[2], ids[4]]);
    expect(pages).toBe(3);
    expect(new Set(seen.map((contact) => contact.modifiedMarker)).size).toBe(3);

    // Nothing changed: the cursor finds nothing. A new row in the same second as the last one is found by its id.
    expect((await crm.listChangedContacts!({ since: cursor, limit: 10 })).contacts).toEqual([]);
    await insert(target.db, [{ phone: '+14155550106', name: 'Same second, later id', stamp: stampAgo(50) }]);
    const after = await readAll(crm, cursor, 10);
    expect(after.seen.map((contact) => contact.name)).toEqual(['Same second, later id']);
  });

  it('reports rows inside the settle window at once but keeps the cursor before them', async () => {
    await target.db(table).delete();
    await insert(target.db, [
      { phone: '+14155550201', name: 'Settled', stamp: stampAgo(120) },
      { phone: '+14155550202', name: 'Fresh', stamp: stampAgo(0) },
    ]);
    const crm = connector({ changeSettleSeconds: 60 });
    const first = await crm.listChangedContacts!({ since: null, limit: 10 });
    expect(first.contacts.map((contact) => contact.name)).toEqual(['Settled', 'Fresh']);
    expect(first.more).toBe(false);
    // The fresh row comes again (a slow transaction could still commit a row stamped before it); the settled one does not.
    const second = await crm.listChangedContacts!({ since: first.cursor, limit: 10 });
    expect(second.contacts.map((contact) => contact.name)).toEqual(['Fresh']);
    expect(second.contacts[0]?.modifiedMarker).toBe(first.contacts[1]?.modifiedMarker);
    expect(second.cursor).toBe(first.cursor);
  });

  it('starts at startAt on the first poll, and sees the hub\'s own writes with a new marker', async () => {
    await target.db(table).delete();
    await insert(target.db, [
      { phone: '+14155550301', name: 'Before polling', stamp: stampAgo(600) },
      { phone: '+14155550302', name: 'After polling', stamp: stampAgo(100) },
    ]);
    const crm = connector();
    const first = await readAll(crm, null, 10, stampAgo(300).toISOString());
    expect(first.seen.map((contact) => contact.name)).toEqual(['After polling']);

    const written = await crm.upsertContact({ phone: '+14155550301', name: 'Written by the hub', fields: { status: 'approved' } });
    const second = await readAll(crm, first.cursor, 10);
    expect(second.seen).toHaveLength(1);
    expect(second.seen[0]).toMatchObject({ externalId: written.externalId, name: 'Written by the hub', phone: '+14155550301', fields: { status: 'approved' } });
  });

  it('reports a row stamped in the second polling started, before its fraction, and one committed late inside the settle window', async () => {
    await target.db(table).delete();
    // Polling starts 0.9 s into a second; the row written right after holds that second, without the fraction.
    const second = stampAgo(30);
    const startAt = new Date(second.getTime() + 900).toISOString();
    await insert(target.db, [
      { phone: '+14155550351', name: 'Same second', stamp: second },
      // Stamped 2 s before polling began by a transaction that committed after: inside a 3 s settle window.
      { phone: '+14155550352', name: 'Late commit', stamp: new Date(second.getTime() - 2_000) },
      { phone: '+14155550353', name: 'Long before', stamp: new Date(second.getTime() - 10_000) },
    ]);
    const { seen } = await readAll(connector({ changeSettleSeconds: 3 }), null, 10, startAt);
    expect(seen.map((contact) => contact.name).sort()).toEqual(['Late commit', 'Same second']);
  });

  it('refuses a mapping without an updated-at column and a cursor it did not issue', async () => {
    const withoutStamp = connector({ columns: { id: 'id', phone: 'phone', name: 'full_name', email: null, fields: 'extra', updatedAt: null, version: 'id' } });
    const noStamp = await withoutStamp.listChangedContacts!({ since: null, limit: 10 }).catch((error: unknown) => error);
    expect(noStamp).toBeInstanceOf(CrmError);
    expect((noStamp as CrmError).kind).toBe('rejected');
    expect((noStamp as CrmError).message).toMatch(/columns\.updatedAt/);

    const forged = await connector().listChangedContacts!({ since: 'not-a-cursor', limit: 10 }).catch((error: unknown) => error);
    expect((forged as CrmError).kind).toBe('rejected');
  });
});
