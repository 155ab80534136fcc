// The identity link table on a real hub database: a record is linked to a phone once and an
// existing link wins over a later lookup, one record at a time or a batch at once, on the pool
// or inside a Prisma transaction.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubDatabase } from '../../test/support/hub.js';
import { createDb, sqlPoolOf, type Db } from '../db/client.js';
import { createProject } from '../projects/projects.js';
import { linkCrmRecord, linkCrmRecords, linkedPhone, linkedPhonesOf, recordKey, type CrmRecordRef } from './contact-links.js';

let db: Db;
let drop: () => Promise<void>;
let projectId: string;
let instanceId: string;

beforeAll(async () => {
  const database = await createHubDatabase();
  drop = database.drop;
  db = createDb(database.url);
  projectId = (await createProject(db, { slug: `links-${randomUUID().slice(0, 8)}`, name: 'Links', defaultRegion: 'US' })).id;
  instanceId = randomUUID();
  await db.connectorInstance.create({ data: { id: instanceId, projectId, kind: 'bitrix24', name: 'portal', config: {} } });
});
afterAll(async () => {
  await db?.$disconnect();
  await drop?.();
});

const record = (externalId: string): CrmRecordRef => ({ projectId, connectorInstanceId: instanceId, externalId });

describe('contact links', () => {
  it('links a record once: a later lookup of another phone gets the phone the link holds', async () => {
    const sql = sqlPoolOf(db);
    expect(await linkedPhone(sql, record('1'))).toBeUndefined();
    expect(await linkCrmRecord(sql, record('1'), '+14155550001')).toBe('+14155550001');
    expect(await linkCrmRecord(sql, record('1'), '+14155550999')).toBe('+14155550001');
    expect(await linkedPhone(sql, record('1'))).toBe('+14155550001');
    // Inside a Prisma transaction too (the outbox path of earlier builds).
    expect(await db.$transaction((tx) => linkCrmRecord(tx, record('2'), '+14155550002'))).toBe('+14155550002');
  });

  it('links a batch in one go, keeping the links that were there', async () => {
    const sql = sqlPoolOf(db);
    await linkCrmRecord(sql, record('10'), '+14155550010');
    const linked = await linkCrmRecords(sql, [
      { record: record('10'), phone: '+14155550999' },
      { record: record('11'), phone: '+14155550011' },
      { record: record('12'), phone: '+14155550012' },
    ]);
    expect(Object.fromEntries(linked)).toEqual({
      [recordKey(record('10'))]: '+14155550010',
      [recordKey(record('11'))]: '+14155550011',
      [recordKey(record('12'))]: '+14155550012',
    });
    const read = await linkedPhonesOf(sql, [record('10'), record('11'), record('13')]);
    expect([...read.keys()].sort()).toEqual([recordKey(record('10')), recordKey(record('11'))].sort());
    expect(await linkCrmRecords(sql, [])).toEqual(new Map());
  });
});
