// Dialer campaigns and tasks through the API: campaigns validated against the project's trunks and
// queues, state changes, batches where good rows are stored and bad rows named, idempotency by id
// and by content, time zones from the number, listing by state, removal rules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub, type Json } from './support/hub.js';

let hub: TestHub;

function call(method: string, path: string, json?: unknown) {
  return hub.call(method, path, json);
}

const campaign = { mode: 'predictive', trunks: ['main'], callerId: '+1 415 555 0100', queue: 'loans' };

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  expect((await call('PUT', '/v1/telephony/trunks/main', { kind: 'carrier', host: '127.0.0.1:5099', auth: { mode: 'ip' }, routes: [{ prefix: '', pricePerMinute: '0.01' }] })).status).toBe(201);
  expect((await call('PUT', '/v1/telephony/queues/loans', { agents: ['alice', 'bob'] })).status).toBe(201);
});
afterAll(async () => {
  await hub?.close();
});

describe('/v1/campaigns', () => {
  it('creates a paused campaign with defaults, replaces it in place, and pauses, resumes and stops it', async () => {
    const created = await call('PUT', '/v1/campaigns/web-leads', campaign);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'web-leads',
      state: 'paused',
      config: { mode: 'predictive', abandonTarget: 0.03, dialingWindows: [{ from: '09:00', to: '20:00' }, { days: ['sat'], from: '10:00', to: '18:00' }], retry: { maxAttempts: 5 } },
      tasks: { pending: 0, dialing: 0, done: 0, failed: 0, removed: 0 },
    });
    const replaced = await call('PUT', '/v1/campaigns/web-leads', { ...campaign, mode: 'progressive', retry: { maxAttempts: 3 } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: created.body.id, config: { mode: 'progressive', retry: { maxAttempts: 3 } } });

    expect((await call('POST', '/v1/campaigns/web-leads/resume')).body.state).toBe('active');
    const deleteActive = await call('DELETE', '/v1/campaigns/web-leads');
    expect(deleteActive.status).toBe(409);
    expect((await call('POST', '/v1/campaigns/web-leads/pause')).body.state).toBe('paused');
    expect((await call('POST', '/v1/campaigns/web-leads/pause')).status).toBe(200);
    expect((await call('POST', '/v1/campaigns/web-leads/stop')).body.state).toBe('stopped');
    const resumeStopped = await call('POST', '/v1/campaigns/web-leads/resume');
    expect(resumeStopped.status).toBe(409);
    expect(resumeStopped.type).toBe('application/problem+json');
    expect((await call('GET', '/v1/campaigns')).body.campaigns.map((c: Json) => c.name)).toContain('web-leads');
    expect((await call('DELETE', '/v1/campaigns/web-leads')).status).toBe(204);
    expect((await call('GET', '/v1/campaigns/web-leads')).status).toBe(404);
  });

  it('refuses bad campaigns with 422 naming each field, unknown trunks and queues included', async () => {
    const bad = await call('PUT', '/v1/campaigns/bad', { ...campaign, mode: 'robocall', dialingWindows: [{ days: ['mon'], from: '9am', to: '17:00' }] });
    expect(bad.status).toBe(422);
    expect(bad.type).toBe('application/problem+json');
    expect(bad.body.errors.map((e: Json) => e.field).sort()).toEqual(['dialingWindows.0.from', 'mode']);
    const unknown = await call('PUT', '/v1/campaigns/bad', { ...campaign, trunks: ['main', 'ghost'], queue: 'nobody', callerId: '12' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors.map((e: Json) => e.field)).toEqual(['trunks.1', 'queue', 'callerId']);
    expect((await call('PUT', '/v1/campaigns/Bad_Name', campaign)).body.errors[0].field).toBe('path.name');
    expect((await call('POST', '/v1/campaigns/bad/rewind')).status).toBe(422);
  });
});

describe('/v1/campaigns/:name/tasks', () => {
  beforeAll(async () => {
    expect((await call('PUT', '/v1/campaigns/loans', campaign)).status).toBe(201);
  });

  it('stores the good rows of a batch, names the bad ones, and keeps the agent\'s fields', async () => {
    const batch = await call('POST', '/v1/campaigns/loans/tasks', {
      tasks: [
        { externalId: 'A-1001', phones: ['(415) 555-2671', '+1 212 555 0134'], name: 'Ada Lovelace', fields: { applicationDate: '2026-11-20', applicationNumber: 'A-1001', address: '12 Main St' } },
        { externalId: 'A-1002', phones: ['not a phone'] },
        { externalId: 'A-1003', phones: ['+79120001122'], timeZone: 'Asia/Yekaterinburg', priority: 90 },
        { phones: [] },
        { externalId: 'A-1004', phones: ['+1 415 555 2672', '1', '2', '3', '4', '5'] },
        { externalId: 'A-1005', phones: ['+14155552673'], colour: 'blue' },
        { externalId: 'A-1006', phones: ['+14155552674'], timeZone: 'Mars/Olympus' },
      ],
    });
    expect(batch.status).toBe(200);
    expect(batch.body).toMatchObject({ accepted: 2, duplicates: 0, rejected: 5 });
    const byIndex = Object.fromEntries(batch.body.results.map((result: Json) => [result.index, result]));
    expect(byIndex[0]).toMatchObject({ status: 'accepted', externalId: 'A-1001' });
    expect(byIndex[1]).toMatchObject({ status: 'rejected', errors: [{ field: 'tasks.1.phones.0' }] });
    expect(byIndex[1].errors[0].message).toContain('not a phone');
    expect(byIndex[3].errors.map((e: Json) => e.field)).toEqual(['tasks.3.phones']);
    expect(byIndex[4].errors.map((e: Json) => e.field)).toEqual(['tasks.4.phones']);
    expect(byIndex[5].errors.map((e: Json) => e.field)).toEqual(['tasks.5.colour']);
    expect(byIndex[6].errors.map((e: Json) => e.field)).toEqual(['tasks.6.timeZone']);

    const listed = await call('GET', '/v1/campaigns/loans/tasks?state=pending');
    const ada = listed.body.tasks.find((task: Json) => task.externalId === 'A-1001');
    expect(ada).toMatchObject({
      phones: ['+14155552671', '+12125550134'],
      name: 'Ada Lovelace',
      fields: { applicationDate: '2026-11-20', applicationNumber: 'A-1001', address: '12 Main St' },
      timeZones: ['America/Los_Angeles'],
      priority: 50,
      state: 'pending',
      attempts: 0,
    });
    expect(listed.body.tasks.find((task: Json) => task.externalId === 'A-1003')).toMatchObject({ timeZones: ['Asia/Yekaterinburg'], priority: 90 });
  });

  it('adds nothing when the same tasks come again, by externalId or by content', async () => {
    const rows = [{ phones: ['+1 415 555 2690'], name: 'No Id', fields: { b: 1, a: 2 } }, { externalId: 'A-2001', phones: ['+14155552691'] }];
    const first = await call('POST', '/v1/campaigns/loans/tasks', { tasks: rows });
    expect(first.body).toMatchObject({ accepted: 2, duplicates: 0 });
    const again = await call('POST', '/v1/campaigns/loans/tasks', {
      tasks: [{ phones: ['(415) 555-2690'], name: 'No Id', fields: { a: 2, b: 1 } }, { externalId: 'A-2001', phones: ['+14155559999'] }, { externalId: 'A-2001', phones: ['+14155559999'] }],
    });
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 3 });
    expect(again.body.results.map((result: Json) => result.id)).toEqual([first.body.results[0].id, first.body.results[1].id, first.body.results[1].id]);
    expect(await hub.db.dialerTask.count({ where: { externalId: 'A-2001' } })).toBe(1);
  });

  it('answers 422 when no row is good, and 4xx for a bad envelope or an unknown campaign', async () => {
    const none = await call('POST', '/v1/campaigns/loans/tasks', { tasks: [{ phones: ['x'] }, { phones: [] }] });
    expect(none.status).toBe(422);
    expect(none.type).toBe('application/problem+json');
    expect(none.body.errors.map((e: Json) => e.field)).toEqual(['tasks.0.phones.0', 'tasks.1.phones']);
    expect((await call('POST', '/v1/campaigns/loans/tasks', { tasks: [] })).body.errors[0].field).toBe('tasks');
    expect((await call('POST', '/v1/campaigns/loans/tasks', { tasks: Array.from({ length: 1001 }, () => ({ phones: ['+14155552671'] })) })).status).toBe(422);
    expect((await call('POST', '/v1/campaigns/nope/tasks', { tasks: [{ phones: ['+14155552671'] }] })).status).toBe(404);
    expect((await call('GET', '/v1/campaigns/loans/tasks?cursor=garbage')).body.errors[0].field).toBe('query.cursor');
  });

  it('pages tasks oldest first and removes one unless it is being dialed or done', async () => {
    const rows = Array.from({ length: 7 }, (_, index) => ({ externalId: `P-${index}`, phones: [`+1415555${String(3000 + index)}`] }));
    expect((await call('POST', '/v1/campaigns/loans/tasks', { tasks: rows })).body.accepted).toBe(7);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Json = await call('GET', `/v1/campaigns/loans/tasks?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.tasks.map((task: Json) => task.externalId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.filter((id) => id.startsWith('P-'))).toEqual(rows.map((row) => row.externalId));
    expect(new Set(seen).size).toBe(seen.length);

    const tasks = await hub.db.dialerTask.findMany({ where: { externalId: { in: ['P-0', 'P-1', 'P-2'] } }, orderBy: { externalId: 'asc' } });
    const [free, dialing, done] = tasks.map((task) => task.id);
    await hub.db.dialerTask.update({ where: { id: dialing as string }, data: { state: 'dialing' } });
    await hub.db.dialerTask.update({ where: { id: done as string }, data: { state: 'done' } });
    expect((await call('DELETE', `/v1/campaigns/loans/tasks/${free}`)).body.state).toBe('removed');
    expect((await call('DELETE', `/v1/campaigns/loans/tasks/${dialing}`)).status).toBe(409);
    expect((await call('DELETE', `/v1/campaigns/loans/tasks/${done}`)).status).toBe(409);
    expect((await call('DELETE', '/v1/campaigns/loans/tasks/not-a-task')).status).toBe(404);
    expect((await call('GET', '/v1/campaigns/loans')).body.tasks).toMatchObject({ removed: 1, dialing: 1, done: 1 });
  });
});
