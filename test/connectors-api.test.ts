// Connector instances through the API: validated at creation by the
// connector's own schema, credentials sealed at rest and never returned.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub, type Json } from './support/hub.js';

let hub: TestHub;
// Response bodies are checked field by field; `any` keeps that terse.

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
});
afterAll(async () => {
  await hub?.close();
});

function call(method: string, path: string, json?: unknown) {
  return hub.call(method, path, json);
}

describe('/v1/connectors', () => {
  it('lists installed connector types with their configuration schema', async () => {
    const { status, body } = await call('GET', '/v1/connector-types');
    expect(status).toBe(200);
    const sql = body.types.find((type: Json) => type.id === 'sql-crm');
    expect(sql.configSchema).toMatchObject({ type: 'object' });
  });

  it('refuses an invalid configuration at creation, naming the field', async () => {
    const bad = await call('POST', '/v1/connectors', { kind: 'sql-crm', name: 'broken', config: { connectionString: 'not a url' } });
    expect(bad.status).toBe(422);
    expect(bad.type).toBe('application/problem+json');
    expect(bad.body.errors.map((error: Json) => error.field)).toContain('config.connectionString');

    const unknown = await call('POST', '/v1/connectors', { kind: 'no-such-crm', name: 'x', config: {} });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors).toEqual([{ field: 'kind', message: expect.stringContaining('sql-crm') }]);

    const malformed = await hub.request('/v1/connectors', { method: 'POST', body: '{', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
  });

  it('creates, lists, changes, checks and removes an instance; credentials never leave the hub', async () => {
    const types = await call('GET', '/v1/connector-types');
    const secretKeys: string[] = types.body.types.find((type: Json) => type.id === 'sql-crm').secrets;

    const created = await call('POST', '/v1/connectors', { kind: 'sql-crm', name: 'legacy', config: { connectionString: hub.crmUrl } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: 'sql-crm', name: 'legacy', isPrimary: false });
    for (const key of secretKeys) {
      expect(created.body.config[key]).toBeUndefined();
      expect(created.body.secrets[key]).toBe('set');
    }
    expect(secretKeys.length).toBeGreaterThan(0);
    expect(JSON.stringify(created.body)).not.toContain(hub.crmUrl);

    const stored = new pg.Client({ connectionString: hub.databaseUrl });
    await stored.connect();
    const row = (await stored.query('SELECT config, secrets FROM connector_instances WHERE id = $1', [created.body.id])).rows[0];
    await stored.end();
    expect(row.secrets).toMatch(/^v1:/);
    expect(JSON.stringify(row)).not.toContain(hub.crmUrl);

    const duplicate = await call('POST', '/v1/connectors', { kind: 'sql-crm', name: 'legacy', config: { connectionString: hub.crmUrl } });
    expect(duplicate.status).toBe(409);

    const listed = await call('GET', '/v1/connectors');
    expect(listed.body.connectors.map((instance: Json) => instance.name)).toEqual(expect.arrayContaining(['demo-crm', 'legacy']));

    const patched = await call('PATCH', `/v1/connectors/${created.body.id}`, { isPrimary: true, limits: { concurrency: 2 } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ isPrimary: true, limits: { concurrency: 2 } });
    const demo = listed.body.connectors.find((instance: Json) => instance.name === 'demo-crm');
    expect((await call('GET', `/v1/connectors/${demo.id}`)).body.isPrimary).toBe(false);

    // A bucket needs the rate that refills it.
    const bucketAlone = await call('PATCH', `/v1/connectors/${created.body.id}`, { limits: { burst: 50 } });
    expect(bucketAlone.status).toBe(422);
    expect(bucketAlone.body.errors[0].field).toBe('limits.burst');
    const bucket = await call('PATCH', `/v1/connectors/${created.body.id}`, { limits: { requests: { count: 2, windowMs: 1000 }, burst: 50 } });
    expect(bucket.body).toMatchObject({ limits: { requests: { count: 2, windowMs: 1000 }, burst: 50 } });

    // A patch that does not name isPrimary leaves it alone.
    expect((await call('PATCH', `/v1/connectors/${created.body.id}`, { limits: { concurrency: 3 } })).body.isPrimary).toBe(true);

    const badPatch = await call('PATCH', `/v1/connectors/${created.body.id}`, { config: { table: 'drop table x;' } });
    expect(badPatch.status).toBe(422);
    expect(badPatch.body.errors[0].field).toBe('config.table');

    const check = await call('POST', `/v1/connectors/${created.body.id}/check`);
    expect(check.body).toMatchObject({ ok: true });

    expect((await call('DELETE', `/v1/connectors/${created.body.id}`)).status).toBe(204);
    expect((await call('GET', `/v1/connectors/${created.body.id}`)).status).toBe(404);
  });

  it('reports a CRM it cannot reach instead of failing', async () => {
    const created = await call('POST', '/v1/connectors', {
      kind: 'sql-crm',
      name: 'unreachable',
      config: { connectionString: 'postgres://postgres@127.0.0.1:1/nothing' },
    });
    const check = await call('POST', `/v1/connectors/${created.body.id}/check`);
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({ ok: false, error: expect.stringMatching(/unavailable|ECONNREFUSED|connect/i) });
  });
});
