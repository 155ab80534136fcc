// Input the hub can parse but not keep, through the real API, PostgreSQL and webhook receiver:
// NUL characters and unpaired surrogates, hostile nesting, instants outside what the database
// stores, a body-less PUT, and a form flood at an unauthenticated webhook. Each gets a 4xx
// problem naming the field (never a 500, never a 503 that a CRM would retry forever) and
// nothing is stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './support/hub.js';

const applicationToken = 'app-token-0123456789';
let hub: TestHub;
let bitrixId: string;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  // Verifying and parsing a Bitrix24 event never calls the portal: an unreachable one will do.
  const created = await hub.call('POST', '/v1/connectors', { kind: 'bitrix24', name: 'bitrix', config: { webhookUrl: 'http://127.0.0.1:9/rest/1/abc123/', applicationToken } });
  expect(created.status).toBe(201);
  bitrixId = created.body.id as string;
});
afterAll(async () => {
  await hub?.close();
});

const raw = (path: string, body: string, contentType = 'application/json') =>
  hub.app.fetch(new Request(`http://hub${path}`, { method: 'POST', headers: { 'content-type': contentType, authorization: `Bearer ${hub.apiKey}` }, body }));

const nestedData = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('strings and shapes the database cannot keep', () => {
  it('a task whose name holds a NUL or an unpaired surrogate is refused naming the field, and nothing is stored', async () => {
    const before = await hub.db.task.count({ where: { projectId: hub.projectId } });
    for (const [body, field] of [
      ['{"phone":"+14155552671","name":"a\\u0000b"}', 'name'],
      ['{"phone":"+14155552671","name":"ok","data":{"note":"x\\ud800"}}', 'data.note'],
      [`{"tasks":[{"phone":"+14155552671"},{"phone":"+14155552672","data":{"\\u0000":1}}]}`, 'tasks.1.data.\u0000'],
    ] as const) {
      const response = await raw('/v1/tasks', body);
      expect(response.status).toBe(422);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(((await response.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe(field);
    }
    expect(await hub.db.task.count({ where: { projectId: hub.projectId } })).toBe(before);
  });

  it('a body nested 5000 levels deep is refused naming where, on any route', async () => {
    const task = await raw('/v1/tasks', `{"phone":"+14155552671","data":${nestedData(5000)}}`);
    expect(task.status).toBe(422);
    expect(((await task.json()) as { detail: string }).detail).toMatch(/^The body cannot be stored: data(\.a)+ nests deeper than 64 levels\.$/);
    const resolve = await raw('/v1/conflicts/3f1c2b7e-9d4a-4c1e-8b2a-000000000000/resolve', `{"value":${nestedData(5000)}}`);
    expect(resolve.status).toBe(422);
  });

  it('NUL in a conflict resolution, a queue member or a callback queue is a 422, not a database error', async () => {
    const resolve = await hub.call('POST', '/v1/conflicts/3f1c2b7e-9d4a-4c1e-8b2a-000000000000/resolve', { value: 'x', resolvedBy: 'a\u0000b' });
    expect(resolve).toMatchObject({ status: 422, body: { errors: [{ field: 'resolvedBy' }] } });
    const queue = await hub.call('PUT', '/v1/telephony/queues/sales', { agents: ['a\u0000b'] });
    expect(queue).toMatchObject({ status: 422, body: { errors: [{ field: 'agents.0' }] } });
  });
});

describe('instants', () => {
  it('CDRs from year 0 and callbacks in year 0 or 9999 are refused naming the field', async () => {
    const cdrs = await hub.call('GET', '/v1/telephony/cdrs?from=0000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z');
    expect(cdrs).toMatchObject({ status: 422, body: { errors: [{ field: 'query.from', message: 'must be between 1970-01-01 and 9999-12-31' }] } });
    const early = await hub.call('POST', '/v1/callbacks', { phone: '+14155552671', at: '0000-01-01T00:00:00+00:00', queue: 'sales', callerId: '+14155550000' });
    expect(early).toMatchObject({ status: 422, body: { errors: [{ field: 'at' }] } });
    const far = await hub.call('POST', '/v1/callbacks', { phone: '+14155552671', at: '9999-12-31T00:00:00+00:00', queue: 'sales', callerId: '+14155550000' });
    expect(far).toMatchObject({ status: 422, body: { errors: [{ field: 'at', message: 'at most a year ahead' }] } });
    expect(await hub.db.callback.count({ where: { projectId: hub.projectId } })).toBe(0);
  });
});

describe('bodies that are missing', () => {
  it('a PUT of the reconciliation rules without a body is a 400 and leaves the rules as they were', async () => {
    const rules = { fields: { name: { rule: { kind: 'most-recent' } } } };
    const saved = await hub.call('PUT', '/v1/reconciliation', rules);
    expect(saved.status).toBe(200);
    const bare = await hub.app.fetch(new Request('http://hub/v1/reconciliation', { method: 'PUT', headers: { authorization: `Bearer ${hub.apiKey}` } }));
    expect(bare.status).toBe(400);
    expect(await bare.json()).toMatchObject({ title: 'Body required', errors: [{ field: '(body)' }] });
    expect((await hub.call('GET', '/v1/reconciliation')).body).toEqual(saved.body);
  });
});

describe('unknown fields', () => {
  it('a key a route does not know is named as its own field', async () => {
    const created = await hub.call('POST', '/v1/connectors', { kind: 'bitrix24', name: 'typo', config: { webhookUrl: 'http://127.0.0.1:9/rest/1/abc123/' }, isPrimery: true });
    expect(created).toMatchObject({ status: 422, body: { errors: [{ field: 'isPrimery', message: 'unknown field' }] } });
  });
});

describe('webhooks', () => {
  const hook = (body: string, contentType = 'application/x-www-form-urlencoded') =>
    hub.app.fetch(new Request(`http://hub/v1/webhooks/${bitrixId}`, { method: 'POST', headers: { 'content-type': contentType }, body }));
  const event = (extra: string) => `event=ONCRMCONTACTUPDATE&data%5BFIELDS%5D%5BID%5D=7&auth%5Bapplication_token%5D=${applicationToken}${extra}`;

  it('an unsigned flood of 50,000 form fields is refused at once, and the API keeps answering', async () => {
    const started = performance.now();
    const flood = await hook(Array(50_000).fill('a%5B%5D=1').join('&'));
    expect(flood.status).toBe(400);
    expect(await flood.json()).toMatchObject({ errors: [{ field: '(body)', message: 'more than 1000 form fields' }] });
    expect(performance.now() - started).toBeLessThan(2_000);
    const deep = await hook(`a${'%5Ba%5D'.repeat(10_000)}=1`);
    expect(deep.status).toBe(401);
    // Read before the signature can refuse it, so a webhook body is held to 1 MiB (tasks: 8 MiB).
    const wide = await hook(JSON.stringify(Object.fromEntries(Array.from({ length: 100_000 }, (_, index) => [`key${index}`, 'value']))), 'application/json');
    expect(wide.status).toBe(413);
    expect(await wide.json()).toMatchObject({ title: 'Body too large' });
  });

  it('a cursor naming a time no row can have (year 0) is refused, not sent to the database', async () => {
    const cursor = Buffer.from('0000-01-01T00:00:00.000Z|01a2105a-64ac-7000-9ddb-5fe3d14b8e38').toString('base64url');
    const conflicts = await hub.call('GET', `/v1/conflicts?cursor=${cursor}`);
    expect(conflicts).toMatchObject({ status: 422, body: { errors: [{ field: 'query.cursor' }] } });
  });

  it('a NUL in a signed event, or a send time no clock gives, is a 400 the CRM will not retry, and nothing is stored', async () => {
    const nul = await hook(event('').replace('ID%5D=7', 'ID%5D=7%00'));
    expect(nul.status).toBe(400);
    expect(await nul.json()).toMatchObject({ errors: [{ field: 'events.0.externalId' }] });
    const json = await hook(JSON.stringify({ event: 'ONCRMCONTACTUPDATE\u0000', data: { FIELDS: { ID: '7' } }, auth: { application_token: applicationToken } }), 'application/json');
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ errors: [{ field: 'event' }] });
    for (const ts of ['1e20', '-1e20', '99999999999999999999', '8640000000001']) {
      const response = await hook(event(`&ts=${ts}`));
      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: { message: string }[] }).errors[0]?.message).toMatch(/"ts" .* is not a time between 1970 and 9999/);
    }
    expect(await hub.db.webhookEvent.count({ where: { connectorInstanceId: bitrixId } })).toBe(0);
    // The same event with a real send time is taken.
    const good = await hook(event('&ts=1795567095'));
    expect(good.status).toBe(200);
  });
});
