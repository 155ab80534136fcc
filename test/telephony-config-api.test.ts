// Telephony configuration through the API: trunks (password sealed, write-only), queues and IVR
// menus validated by the telephony schemas, references checked, CDRs listed with exact costs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createProject } from '../core/projects/projects.js';
import { saveCallDetailRecords } from '../telephony/cdr/store.js';
import { InboundNumberStore } from '../telephony/inbound/numbers.js';
import { CallFlowStore } from '../telephony/ivr/call-flow-store.js';
import { TELEPHONY_CONFIG_CHANNEL } from '../telephony/runtime/config-changes.js';
import { TrunkStore } from '../telephony/trunks/store.js';
import { SecretBox } from '../core/secrets/secret-box.js';
import { startTestHub, type TestHub, type Json } from './support/hub.js';

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
});
afterAll(async () => {
  await hub?.close();
});

function call(method: string, path: string, json?: unknown) {
  return hub.call(method, path, json);
}

const carrier = {
  kind: 'carrier', host: 'sbc.carrier.example:5060',
  auth: { mode: 'registration', username: 'hub-01', password: 'very-secret-pw' },
  routes: [{ prefix: '49', pricePerMinute: '0.0125', billingIncrement: '30/6' }, { prefix: '', pricePerMinute: 0.1 }],
};

describe('/v1/telephony', () => {
  it('stores a trunk with its password sealed and never returned; an update without password keeps it', async () => {
    const created = await call('PUT', '/v1/telephony/trunks/main-carrier', carrier);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'main-carrier', kind: 'carrier', auth: { mode: 'registration', username: 'hub-01', password: 'set' },
      routes: [{ prefix: '49', pricePerMinute: '0.012500', billingIncrement: '30/6' }, { prefix: '', pricePerMinute: '0.100000', billingIncrement: '60/60' }],
    });
    const row = await hub.db.trunk.findFirstOrThrow({ where: { projectId: hub.projectId, name: 'main-carrier' } });
    expect(JSON.stringify(row)).not.toContain('very-secret-pw');

    const replaced = await call('PUT', '/v1/telephony/trunks/main-carrier', { ...carrier, priority: 5, auth: { mode: 'registration', username: 'hub-01' } });
    expect(replaced.status).toBe(200);
    expect(replaced.body.priority).toBe(5);
    const [loaded] = await new TrunkStore(hub.db, new SecretBox(hub.secretKey)).load(hub.projectId);
    expect(loaded?.auth).toEqual({ mode: 'registration', username: 'hub-01', password: 'very-secret-pw', expiresSeconds: 300, retryMinMs: 5_000, retryMaxMs: 300_000 });
    expect(loaded?.routes[0]).toMatchObject({ pricePerMinute: 12_500, billingIncrement: { firstSeconds: 30, nextSeconds: 6 } });
  });

  it('refuses bad trunk configs with 422 naming the fields', async () => {
    const bad = await call('PUT', '/v1/telephony/trunks/bad', { kind: 'carrier', host: 'x y', auth: { mode: 'registration', username: 'u' }, routes: [{ prefix: '+49', pricePerMinute: 'cheap' }] });
    expect(bad.status).toBe(422);
    expect(bad.type).toBe('application/problem+json');
    expect(bad.body.errors.map((e: Json) => e.field)).toEqual(expect.arrayContaining(['host', 'auth.password', 'routes.0.prefix', 'routes.0.pricePerMinute']));
    const badName = await call('PUT', '/v1/telephony/trunks/Bad_Name', carrier);
    expect(badName.status).toBe(422);
    expect(badName.body.errors[0].field).toBe('path.name');
    expect((await call('GET', '/v1/telephony/trunks/nope')).status).toBe(404);
  });

  it('refuses fields it does not know, at any depth, rather than store the config without them', async () => {
    const trunk = await call('PUT', '/v1/telephony/trunks/typo', { ...carrier, maxCall: 5, auth: { ...carrier.auth, usernme: 'x' } });
    expect(trunk).toMatchObject({ status: 422, type: 'application/problem+json' });
    expect(trunk.body.errors).toEqual(expect.arrayContaining([{ field: 'maxCall', message: 'unknown field' }, { field: 'auth.usernme', message: 'unknown field' }]));
    const queue = await call('PUT', '/v1/telephony/queues/typo', { agents: ['ann'], ringTimeoutSecs: 5 });
    expect(queue).toMatchObject({ status: 422, body: { errors: [{ field: 'ringTimeoutSecs', message: 'unknown field' }] } });
    expect((await call('GET', '/v1/telephony/trunks/typo')).status).toBe(404);
    expect((await call('GET', '/v1/telephony/queues/typo')).status).toBe(404);
    const agent = await call('PUT', '/v1/telephony/agents/typo', { password: 'a-long-enough-secret', pasword: 'x' });
    expect(agent).toMatchObject({ status: 422, body: { errors: [{ field: 'pasword', message: 'unknown field' }] } });
  });

  it('an IVR menu may name only existing queues and pbx trunks; a used queue cannot be removed', async () => {
    expect((await call('PUT', '/v1/telephony/queues/front-desk', { agents: ['ann', 'bob'] })).status).toBe(201);
    const menu = {
      start: 'welcome', fallbackQueue: 'front-desk',
      nodes: {
        welcome: { kind: 'menu', prompt: 'welcome', options: { '1': 'sales', '2': 'accounting' } },
        sales: { kind: 'queue', queue: 'sales' },
        accounting: { kind: 'transfer', trunk: 'main-carrier', extension: '204' },
      },
    };
    const refused = await call('PUT', '/v1/telephony/ivr-menus/main', menu);
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual([
      { field: 'nodes.sales.queue', message: 'queue "sales" does not exist' },
      { field: 'nodes.accounting.trunk', message: 'trunk "main-carrier" is a carrier trunk; transfers go through a pbx trunk' },
    ]);

    const dangling = await call('PUT', '/v1/telephony/ivr-menus/main', { ...menu, nodes: { ...menu.nodes, welcome: { kind: 'menu', prompt: 'welcome', options: { '1': 'nowhere' } } } });
    expect(dangling.status).toBe(422);
    expect(dangling.body.errors).toContainEqual({ field: 'nodes.welcome.options.1', message: 'node "nowhere" does not exist' });

    expect((await call('PUT', '/v1/telephony/queues/sales', { agents: ['ann'], ringTimeoutMs: 12_000 })).status).toBe(201);
    expect((await call('PUT', '/v1/telephony/trunks/office', { kind: 'pbx', host: '10.0.0.9', auth: { mode: 'ip' } })).status).toBe(201);
    const accepted = await call('PUT', '/v1/telephony/ivr-menus/main', { ...menu, nodes: { ...menu.nodes, accounting: { kind: 'transfer', trunk: 'office', extension: '204' } } });
    expect(accepted.status).toBe(201);
    expect(accepted.body).toMatchObject({ maxVisitsPerNode: 3, maxDurationMs: 180_000 });

    const inUse = await call('DELETE', '/v1/telephony/queues/sales');
    expect(inUse.status).toBe(409);
    expect(inUse.body.detail).toMatch(/IVR menu\(s\) main/);
    expect((await call('DELETE', '/v1/telephony/trunks/office')).status).toBe(409);
    expect((await call('DELETE', '/v1/telephony/ivr-menus/main')).status).toBe(204);
    expect((await call('DELETE', '/v1/telephony/queues/sales')).status).toBe(204);
    expect((await call('GET', '/v1/telephony/queues')).body.queues.map((q: Json) => q.name)).toEqual(['front-desk']);
  });

  it('lists CDRs in a time range with exact decimal costs', async () => {
    const at = new Date('2026-05-01T10:00:00Z');
    await saveCallDetailRecords(hub.db, hub.projectId, [{
      callId: 'api-call', attempt: 1, direction: 'outbound', trunk: 'main-carrier', routePrefix: '49', sipCallId: 'x@y', from: '+4940', to: '+4930',
      outcome: 'answered', hangupCause: 'normal', sipStatus: 200, reason: undefined, startedAt: at, answeredAt: at, endedAt: new Date(at.getTime() + 61_000),
      durationMs: 61_000, billableSeconds: 66, billingIncrement: '30/6', pricePerMinuteMicros: 12_500, costMicros: 13_750, currency: 'EUR',
    }]);
    const listed = await call('GET', '/v1/telephony/cdrs?from=2026-05-01T00:00:00Z&to=2026-05-02T00:00:00Z');
    expect(listed.status).toBe(200);
    expect(listed.body.records).toEqual([expect.objectContaining({ callId: 'api-call', billableSeconds: 66, cost: '0.013750', pricePerMinute: '0.012500', currency: 'EUR' })]);
    const bad = await call('GET', '/v1/telephony/cdrs?from=yesterday&to=2026-05-02T00:00:00Z');
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].field).toBe('query.from');
  });

  it('routes an inbound number to one queue or IVR menu of one project; each change is announced to the telephony process', async () => {
    const listener = new pg.Client({ connectionString: hub.databaseUrl });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (message) => heard.push(message.payload ?? ''));
    await listener.query(`LISTEN ${TELEPHONY_CONFIG_CHANNEL}`);
    try {
      expect((await call('PUT', '/v1/telephony/queues/inbound-desk', { agents: ['ann'] })).status).toBe(201);
      const created = await call('PUT', '/v1/telephony/numbers/4930123456', { queue: 'inbound-desk' });
      expect(created).toMatchObject({ status: 201, body: { number: '4930123456', route: { queue: 'inbound-desk' } } });
      expect((await call('PUT', '/v1/telephony/numbers/4930123456', { queue: 'inbound-desk' })).status).toBe(200);
      expect((await call('GET', '/v1/telephony/numbers')).body.numbers).toEqual([{ number: '4930123456', route: { queue: 'inbound-desk' } }]);

      const both = await call('PUT', '/v1/telephony/numbers/4930123457', { queue: 'inbound-desk', ivr: 'main' });
      expect(both).toMatchObject({ status: 422, type: 'application/problem+json', body: { errors: [{ field: 'ivr' }] } });
      const missing = await call('PUT', '/v1/telephony/numbers/4930123457', { queue: 'nobody-here' });
      expect(missing).toMatchObject({ status: 422, body: { errors: [{ field: 'queue', message: 'queue "nobody-here" does not exist' }] } });
      expect((await call('PUT', '/v1/telephony/numbers/12', { queue: 'inbound-desk' })).body.errors[0].field).toBe('path.name');
      expect((await call('PUT', '/v1/telephony/numbers/4930123457', { queue: 'inbound-desk', extra: 1 })).status).toBe(422);

      // A queue that receives a number's calls cannot be removed from under it.
      const inUse = await call('DELETE', '/v1/telephony/queues/inbound-desk');
      expect(inUse).toMatchObject({ status: 409, body: { detail: expect.stringContaining('4930123456') } });

      // One number, one project.
      const other = await createProject(hub.db, { slug: `other-${Date.now()}`, name: 'Other', defaultRegion: 'DE' });
      await new CallFlowStore(hub.db).putQueue(other.id, 'desk', { agents: ['bob'] });
      const taken = await new InboundNumberStore(hub.db).put(other.id, '4930123456', { queue: 'desk' }).catch((error: unknown) => error);
      expect(taken).toMatchObject({ status: 409, errors: [{ field: 'path.name' }] });

      expect((await call('DELETE', '/v1/telephony/numbers/4930123456')).status).toBe(204);
      expect((await call('GET', '/v1/telephony/numbers/4930123456')).status).toBe(404);
      expect((await call('DELETE', '/v1/telephony/queues/inbound-desk')).status).toBe(204);
      // Every successful PUT and DELETE told the telephony process which project changed.
      await expect.poll(() => heard.length).toBeGreaterThanOrEqual(5);
      expect(new Set(heard)).toEqual(new Set([hub.projectId]));
    } finally {
      await listener.end();
    }
  });

  it('documents the routes in the OpenAPI document', async () => {
    const response = await hub.app.request('/openapi.json');
    expect(response.status).toBe(200);
    const doc = (await response.json()) as Json;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/telephony/trunks/{name}', '/v1/telephony/ivr-menus/{name}', '/v1/telephony/numbers/{name}', '/v1/telephony/cdrs']));
  });
});
