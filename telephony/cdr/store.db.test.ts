// CDRs of a failed-over call on a real PostgreSQL (the test database cloned from the migrated template).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubDatabase } from '../../test/support/hub.js';
import { createDb, type Db } from '../../core/db/client.js';
import { createProject } from '../../core/projects/projects.js';
import { FakeCallControl, type FakeLeg } from '../fakes/call-control.js';
import { callDetailRecords, placeCallWithFailover } from '../trunks/failover.js';
import { TrunkHealth } from '../trunks/health.js';
import { trunk } from '../trunks/test-trunks.js';
import { listCallDetailRecords, saveCallDetailRecords } from './store.js';

let db: Db;
let drop: () => Promise<void>;
let projectId: string;

beforeAll(async () => {
  const database = await createHubDatabase();
  drop = database.drop;
  db = createDb(database.url);
  projectId = (await createProject(db, { slug: 'cdr-test', name: 'CDR', defaultRegion: 'DE' })).id;
});
afterAll(async () => {
  await db?.$disconnect();
  await drop?.();
});

describe('CDR store', () => {
  it('stores every attempt of a failed-over call once, with the backup\'s price and exact cost', async () => {
    let clock = Date.parse('2026-03-01T12:00:00Z');
    const now = () => new Date(clock);
    const primary = trunk({ name: 'primary', priority: 1, routes: [{ prefix: '49', pricePerMinute: '0.0100' }] });
    const backup = trunk({ name: 'backup', priority: 2, currency: 'EUR', routes: [{ prefix: '49', pricePerMinute: '0.0333', billingIncrement: '1/1' }] });
    const sip = new FakeCallControl(now).script('primary', { kind: 'reject', sipStatus: 503 }).script('backup', { kind: 'answer' });
    const result = await placeCallWithFailover(sip, { trunks: [primary, backup], health: new TrunkHealth([primary, backup], now), now }, {
      callId: 'cdr-call-1', to: '+49301234567', callerId: '+4940999', sdp: 'v=0', ringTimeoutMs: 500,
    });
    if (result.outcome !== 'answered') throw new Error(`expected an answer, got ${result.outcome}`);
    clock += 90_000;
    (result.leg as FakeLeg).remoteHangup();
    const records = await callDetailRecords(result);

    expect(await saveCallDetailRecords(db, projectId, records)).toBe(2);
    expect(await saveCallDetailRecords(db, projectId, records)).toBe(0); // a retried activity adds nothing

    const stored = await listCallDetailRecords(db, projectId, { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-02T00:00:00Z') });
    expect(stored).toEqual([
      expect.objectContaining({ attempt: 1, trunk: 'primary', outcome: 'failed', sipStatus: 503, billableSeconds: 0, cost: '0.000000', answeredAt: null }),
      expect.objectContaining({
        attempt: 2, trunk: 'backup', outcome: 'answered:normal', durationMs: 90_000, billableSeconds: 90, billingIncrement: '1/1',
        pricePerMinute: '0.033300', cost: '0.049950', currency: 'EUR',
      }),
    ]);
  });
});
