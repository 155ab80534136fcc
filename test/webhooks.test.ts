// CRM webhooks end to end: a Bitrix24 sandbox posts its outbound events to the
// hub over real HTTP -> webhook inbox + outbox (PostgreSQL) -> dispatcher ->
// contact resolution (Temporal activity asking the sandbox) -> the contact's
// journey, with a real worker and server.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.js';
import { startBitrixSandbox, type BitrixSandbox } from '../connectors/bitrix24/sandbox/index.js';
import { defaultRegistry } from '../connectors/registry.js';
import { ConnectorRuntime } from '../connectors/runtime.js';
import { ConnectorInstances } from '../core/connectors/instances.js';
import { createDb, type Db } from '../core/db/client.js';
import { createLogger } from '../core/logger.js';
import { SecretBox } from '../core/secrets/secret-box.js';
import { crmContactResolverStateQuery, crmContactResolverWorkflowId } from '../workflows/crm-changes/shared.js';
import { journeyStateQuery, journeyWorkflowId, type JourneyState } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub } from './support/hub.js';

const applicationToken = 'app-token-0123456789';
const form = { 'content-type': 'application/x-www-form-urlencoded' };

let hub: TestHub;
let sandbox: BitrixSandbox;
let server: ServerType;
let hubUrl: string;
let bitrixId: string;

beforeAll(async () => {
  // Journeys stay open through the suite, so their state shows every change they took.
  hub = await startTestHub({ idleTimeoutMs: 120_000 });
  sandbox = await startBitrixSandbox({ applicationToken });
  // The sandbox posts events over HTTP, as a portal does: the app listens on a real port.
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: hub.app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => resolve(info.port));
  });
  hubUrl = `http://127.0.0.1:${port}`;
  const created = await hub.request('/v1/connectors', {
    method: 'POST',
    json: { kind: 'bitrix24', name: 'bitrix', config: { webhookUrl: sandbox.webhookBase, applicationToken, phoneRegion: 'RU' } },
  });
  expect(created.status).toBe(201);
  bitrixId = ((await created.json()) as { id: string }).id;
});
afterAll(async () => {
  await new Promise<void>((resolve, reject) => (server ? server.close((error) => (error ? reject(error) : resolve())) : resolve()));
  await sandbox?.close();
  await hub?.close();
});

const hookPath = (instanceId = bitrixId) => `/v1/webhooks/${instanceId}`;

async function post(body: string, headers: Record<string, string> = form, path = hookPath()) {
  const response = await fetch(`${hubUrl}${path}`, { method: 'POST', headers, body });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are checked with toMatchObject
  return { status: response.status, type: response.headers.get('content-type'), headers: response.headers, body: (await response.json()) as Record<string, any> };
}

async function journeyState(phone: string): Promise<JourneyState> {
  const client = await hub.temporal.client();
  return client.workflow.getHandle(journeyWorkflowId(hub.projectId, phone)).query(journeyStateQuery);
}

async function changesInJourney(phone: string, eventId: string) {
  return eventually(async () => {
    const matching = (await journeyState(phone)).crmChanges.filter((change) => change.eventId === eventId);
    return matching.length > 0 ? matching : undefined;
  }, 30_000, `event ${eventId} in the journey of ${phone}`);
}

async function storedEvents(eventId?: string) {
  return hub.db.webhookEvent.findMany({ where: { connectorInstanceId: bitrixId, ...(eventId ? { eventId } : {}) } });
}

/** What the Bitrix instance's contact resolver reports (Temporal query). */
async function resolverState() {
  const client = await hub.temporal.client();
  return client.workflow.getHandle(crmContactResolverWorkflowId(bitrixId)).query(crmContactResolverStateQuery);
}

function eventIdOf(body: string): string {
  const fields = new URLSearchParams(body);
  return `${fields.get('event')}:${fields.get('data[FIELDS][ID]')}:${fields.get('ts')}`;
}

function seedContact(name: string, phone?: string): number {
  return sandbox.seed('contact', { NAME: name, ...(phone ? { PHONE: [{ VALUE: phone, VALUE_TYPE: 'MOBILE' }] } : {}) });
}

describe('POST /v1/webhooks/{connectorInstanceId}', () => {
  let firstBody: string;

  it('stores the same webhook delivered 3 times once and gives it to the contact\'s journey once', async () => {
    const id = seedContact('Иван Петров', '8 (912) 345-67-89');
    const sent = await sandbox.emitContactEvent(`${hubUrl}${hookPath()}`, 'ONCRMCONTACTUPDATE', id);
    expect(sent.status).toBe(200);
    firstBody = sent.body;
    // The portal retries what it thinks failed: the exact same bytes, twice more.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const again = await post(sent.body);
      expect(again).toMatchObject({ status: 200, body: { received: 1, duplicates: 1 } });
    }

    const eventId = eventIdOf(sent.body);
    const stored = await storedEvents();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ eventId, kind: 'contact.updated', externalId: String(id), projectId: hub.projectId });
    // The portal's shared secret never lands in the database.
    expect(JSON.stringify(stored[0]?.payload)).not.toContain(applicationToken);

    // The record was not linked yet: the hub asked the CRM whose it is, linked it, and the journey got the change.
    const resolution = await eventually(async () => (await resolverState()).recent.find((entry) => entry.webhookEventId === stored[0]!.id), 30_000, 'the contact resolution');
    expect(resolution).toEqual({ webhookEventId: stored[0]!.id, externalId: String(id), routing: { routed: true, phone: '+79123456789' } });
    const changes = await changesInJourney('+79123456789', eventId);
    expect(changes).toEqual([
      expect.objectContaining({ eventId, connectorInstanceId: bitrixId, externalId: String(id), kind: 'contact.updated', origin: 'crm' }),
    ]);
    expect(await hub.db.contactLink.findMany({ where: { connectorInstanceId: bitrixId, externalId: String(id) } })).toEqual([
      expect.objectContaining({ projectId: hub.projectId, contactPhone: '+79123456789', ambiguous: false }),
    ]);
    await eventually(async () => ((await storedEvents(eventId))[0]?.processedAt ? true : undefined), 10_000, 'the event marked processed');
  });

  it('sends a linked record\'s change straight to its journey; a redelivered outbox row changes nothing', async () => {
    const id = new URLSearchParams(firstBody).get('data[FIELDS][ID]') as string;
    const sent = await sandbox.emitContactEvent(`${hubUrl}${hookPath()}`, 'ONCRMCONTACTADD', id);
    expect(sent.status).toBe(200);
    const eventId = eventIdOf(sent.body);
    await changesInJourney('+79123456789', eventId);
    const [stored] = await storedEvents(eventId);
    // Linked: the change went straight to the journey, never through the resolver (and so
    // without its getContact; the journey's reconciliation then reads the CRMs on its own).
    const resolver = await resolverState();
    expect(resolver.recent.map((entry) => entry.webhookEventId)).not.toContain(stored!.id);
    expect(resolver.routed).toBe(1);

    // A dispatcher that crashed after Temporal took the signal but before deleting the row delivers it again.
    const change = { eventId, connectorInstanceId: bitrixId, externalId: id, kind: 'contact.created', receivedAt: stored!.receivedAt.toISOString() };
    await hub.db.outboxEntry.create({
      data: {
        projectId: hub.projectId,
        kind: 'journey.crm-change',
        workflowId: journeyWorkflowId(hub.projectId, '+79123456789'),
        payload: { projectId: hub.projectId, phone: '+79123456789', webhookEventId: stored!.id, change },
      },
    });
    hub.dispatcher.wake();
    await eventually(async () => ((await hub.db.outboxEntry.count()) === 0 ? true : undefined), 10_000, 'the outbox to drain');
    const state = await journeyState('+79123456789');
    expect(state.crmChanges.filter((entry) => entry.eventId === eventId)).toHaveLength(1);
    expect(state.crmChanges).toHaveLength(2);
  });

  it('delays a change while the CRM is down and delivers it when the CRM is back', async () => {
    const id = seedContact('Мария', '+7 495 123-45-67');
    sandbox.setFailMode('5xx');
    try {
      const sent = await sandbox.emitContactEvent(`${hubUrl}${hookPath()}`, 'ONCRMCONTACTUPDATE', id);
      // Stored and acknowledged: the CRM being down is the hub's problem now, not the portal's.
      expect(sent.status).toBe(200);
      const [stored] = await storedEvents(eventIdOf(sent.body));
      // The resolver keeps the change and tries it again, backing off; ops see why in its query.
      const deferred = await eventually(async () => {
        const entry = (await resolverState()).deferred.find((candidate) => candidate.item.webhookEventId === stored!.id);
        return entry && entry.attempts >= 2 ? entry : undefined;
      }, 20_000, 'the resolution to retry');
      expect(deferred.lastError).toContain('500');
      expect(await hub.db.contactLink.count({ where: { connectorInstanceId: bitrixId, externalId: String(id) } })).toBe(0);
    } finally {
      sandbox.setFailMode(undefined);
    }
    const changes = await eventually(async () => {
      const state = await journeyState('+74951234567').catch(() => undefined);
      return state?.crmChanges.length ? state.crmChanges : undefined;
    }, 30_000, 'the change to arrive after the outage');
    expect(changes).toEqual([expect.objectContaining({ externalId: String(id), kind: 'contact.updated' })]);
  });

  it('hands the unlinked changes the dispatcher claims together to the resolver in one signal', async () => {
    const client = await hub.temporal.client();
    const resolver = client.workflow.getHandle(crmContactResolverWorkflowId(bitrixId));
    const signalsSoFar = async () =>
      (await resolver.fetchHistory()).events?.filter((event) => event.workflowExecutionSignaledEventAttributes).length ?? 0;
    const records = [
      seedContact('Анна', '+7 912 000-00-01'),
      seedContact('Борис', '+7 912 000-00-02'),
      seedContact('Вера', '+7 912 000-00-03'),
    ];
    await hub.dispatcher.stop();
    let before: number;
    try {
      for (const id of records) expect((await sandbox.emitContactEvent(`${hubUrl}${hookPath()}`, 'ONCRMCONTACTUPDATE', id)).status).toBe(200);
      before = await signalsSoFar();
      expect(await hub.dispatcher.drainOnce()).toEqual({ delivered: 3, failed: 0 });
    } finally {
      hub.dispatcher.start();
    }
    for (const [index, id] of records.entries()) {
      const phone = `+791200000${String(index + 1).padStart(2, '0')}`;
      const [stored] = await hub.db.webhookEvent.findMany({ where: { connectorInstanceId: bitrixId, externalId: String(id) } });
      await changesInJourney(phone, stored!.eventId);
    }
    // The resolver stays in one run through the suite (120 s idle timeout): one more signal for the three.
    expect((await signalsSoFar()) - before).toBe(1);
  });

  it('keeps why a change reached no journey when the record has no phone', async () => {
    const id = seedContact('Без телефона');
    const sent = await sandbox.emitContactEvent(`${hubUrl}${hookPath()}`, 'ONCRMCONTACTUPDATE', id);
    expect(sent.status).toBe(200);
    const stored = await eventually(async () => {
      const [event] = await storedEvents(eventIdOf(sent.body));
      return event?.processedAt ? event : undefined;
    }, 20_000, 'the event to be settled');
    expect(stored.payload).toMatchObject({ unroutable: `"bitrix" record ${id} has no phone` });
  });

  it('reads a linked record again when its notification comes again: a second edit in the same second is not lost', async () => {
    const id = seedContact('Первое Имя', '8 (912) 345-00-11');
    const sent = await sandbox.emitContactEvent(`${hubUrl}${hookPath()}`, 'ONCRMCONTACTUPDATE', id);
    expect(sent.status).toBe(200);
    // The journey reads the record (resolved, linked, reconciled).
    const first = await eventually(async () => {
      const state = await journeyState('+79123450011').catch(() => undefined);
      return state?.merged?.name === 'Первое Имя' ? state : undefined;
    }, 30_000, 'the first read');
    // A robot edits the record within the same second: the portal's notification of it is the same bytes.
    sandbox.edit('contact', id, { NAME: 'Второе Имя' });
    expect(await post(sent.body)).toMatchObject({ status: 200, body: { received: 1, duplicates: 1 } });

    const second = await eventually(async () => {
      const state = await journeyState('+79123450011');
      return state.merged?.name === 'Второе Имя' ? state : undefined;
    }, 30_000, 'the second edit in the merged view');
    // Read again, but still one event and one change.
    expect(second.reconciliations).toBe((first.reconciliations ?? 0) + 1);
    expect(second.crmChanges.filter((change) => change.externalId === String(id))).toHaveLength(1);
    expect(await storedEvents(eventIdOf(sent.body))).toHaveLength(1);
  });

  it('accepts the same event relayed as JSON', async () => {
    const body = JSON.stringify({ event: 'ONCRMCONTACTDELETE', data: { FIELDS: { ID: '999' } }, ts: '1724697689', auth: { application_token: applicationToken } });
    const response = await post(body, { 'content-type': 'application/json' });
    expect(response).toMatchObject({ status: 200, body: { received: 1, duplicates: 0 } });
    // A deleted record the hub never linked belongs to no contact; the event says so.
    const settled = await eventually(async () => {
      const [event] = await storedEvents('ONCRMCONTACTDELETE:999:1724697689');
      return event?.processedAt ? event : undefined;
    }, 20_000, 'the event to be settled');
    expect(settled).toMatchObject({ kind: 'contact.deleted', payload: { unroutable: '"bitrix" has no record 999' } });
  });
});

describe('calls the hub refuses, storing nothing', () => {
  const signed = (fields: Record<string, string>) => new URLSearchParams({ 'auth[application_token]': applicationToken, ...fields }).toString();

  async function refused(body: string, headers: Record<string, string> = form, path = hookPath()) {
    const before = await hub.db.webhookEvent.count();
    const response = await post(body, headers, path);
    expect(response.type).toBe('application/problem+json');
    expect(response.body.status).toBe(response.status);
    expect(await hub.db.webhookEvent.count()).toBe(before);
    return response;
  }

  it.each([
    ['a forged token', (body: string) => body.replace(/auth%5Bapplication_token%5D=[^&]*/, 'auth%5Bapplication_token%5D=guess')],
    ['no token', (body: string) => body.replace(/&?auth%5Bapplication_token%5D=[^&]*/, '')],
  ])('%s is 401', async (_label, forge) => {
    const genuine = new URLSearchParams({ event: 'ONCRMCONTACTUPDATE', 'data[FIELDS][ID]': '5', ts: '1724690000', 'auth[application_token]': applicationToken }).toString();
    const response = await refused(forge(genuine));
    expect(response.status).toBe(401);
    expect(response.body.detail).toContain('"bitrix"');
  });

  it('an unknown connector instance is 404', async () => {
    expect((await refused(signed({ event: 'ONCRMCONTACTUPDATE' }), form, hookPath('7b0a2a0e-4b7c-4d55-9a53-2d0f6cf7e5a1'))).status).toBe(404);
    expect((await refused(signed({ event: 'ONCRMCONTACTUPDATE' }), form, hookPath('not-an-id'))).status).toBe(404);
  });

  it('a connector without webhook support is 404 saying so', async () => {
    const sqlCrm = await hub.db.connectorInstance.findFirstOrThrow({ where: { projectId: hub.projectId, kind: 'sql-crm' } });
    const response = await refused(signed({ event: 'ONCRMCONTACTUPDATE' }), form, hookPath(sqlCrm.id));
    expect(response.status).toBe(404);
    expect(response.body.detail).toBe('connector "demo-crm" (sql-crm) does not receive webhooks');
  });

  it.each([
    ['an empty body', '', form, '(body)', 'empty'],
    ['JSON that is not JSON', '{"event": "ONCRMCONTACTUPDATE", ', { 'content-type': 'application/json' }, '(body)', 'not valid JSON'],
    ['a signed event without a record id', signed({ event: 'ONCRMCONTACTUPDATE', ts: '1724690000' }), form, '(body)', 'data[FIELDS][ID]'],
    ['a signed event with an empty record id', signed({ event: 'ONCRMCONTACTUPDATE', 'data[FIELDS][ID]': '', ts: '1724690000' }), form, 'events.0.externalId', ''],
  ])('%s is 400 naming the problem', async (_label, body, headers, field, message) => {
    const response = await refused(body, headers);
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field, message: expect.stringContaining(message) }]);
  });

  it('a call signed with a token rotated away is 401 and one with the new token is stored, right after the change', async () => {
    const created = await hub.request('/v1/connectors', {
      method: 'POST',
      json: { kind: 'bitrix24', name: 'bitrix-rotating', config: { webhookUrl: sandbox.webhookBase, applicationToken } },
    });
    const { id } = (await created.json()) as { id: string };
    const call = (token: string, ts: string) => new URLSearchParams({ event: 'ONCRMCONTACTUPDATE', 'data[FIELDS][ID]': '4242', ts, 'auth[application_token]': token }).toString();
    // The first call makes the receiver keep the instance.
    expect((await post(call(applicationToken, '1724690101'), form, hookPath(id))).status).toBe(200);
    const rotated = 'rotated-token-9876543210';
    expect((await hub.request(`/v1/connectors/${id}`, { method: 'PATCH', json: { config: { applicationToken: rotated } } })).status).toBe(200);
    expect((await refused(call(applicationToken, '1724690102'), form, hookPath(id))).status).toBe(401);
    expect((await post(call(rotated, '1724690103'), form, hookPath(id))).body).toEqual({ received: 1, duplicates: 0 });
    expect((await hub.request(`/v1/connectors/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await refused(call(rotated, '1724690104'), form, hookPath(id))).status).toBe(404);
  });

  it('needs no project API key: the signature is the authentication', async () => {
    const response = await hub.app.request(hookPath(), { method: 'POST', headers: form, body: signed({ event: 'ONCRMCONTACTUPDATE' }) });
    expect(response.status).toBe(400);
  });
});

describe('when the database fails', () => {
  /** An app like the hub's on the given database, with its own sealed credentials. */
  function appOn(db: Db, secretBox?: SecretBox) {
    const registry = defaultRegistry();
    return createApp({
      connectors: { registry, runtime: new ConnectorRuntime({ registry, secretBox }), instances: new ConnectorInstances(db, registry, secretBox) },
      db,
      temporal: hub.temporal,
      logger: createLogger('test', 'silent'),
      taskQueue: hub.taskQueue,
      maxTasksPerRequest: 10,
    });
  }
  const event = new URLSearchParams({ event: 'ONCRMCONTACTUPDATE', 'data[FIELDS][ID]': '77', ts: '1724690077', 'auth[application_token]': applicationToken }).toString();

  async function expectRetryLater(response: Response) {
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('retry-after')).toBe('30');
  }

  it('answers 503 when the instance cannot be looked up', async () => {
    const unreachable = createDb('postgresql://hub:hub@127.0.0.1:1/hub');
    try {
      await expectRetryLater(await appOn(unreachable).request(hookPath(), { method: 'POST', headers: form, body: event }));
    } finally {
      await unreachable.$disconnect();
    }
  });

  it('answers 503, never 2xx, when the events cannot be stored', async () => {
    const secretBox = new SecretBox(SecretBox.generateKey());
    const instances = new ConnectorInstances(hub.db, defaultRegistry(), secretBox);
    const instance = await instances.create(hub.projectId, {
      kind: 'bitrix24',
      name: 'bitrix-db-fault',
      config: { webhookUrl: sandbox.webhookBase, applicationToken },
    });
    // The database refuses this instance's events (a trigger raising an error, as a full disk or a
    // failed-over primary does for a write).
    await hub.db.$executeRawUnsafe(`CREATE FUNCTION refuse_test_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`);
    await hub.db.$executeRawUnsafe(`CREATE TRIGGER refuse_test_event BEFORE INSERT ON webhook_events FOR EACH ROW
      WHEN (NEW.connector_instance_id = '${instance.id}'::uuid) EXECUTE FUNCTION refuse_test_event()`);
    let response: Response;
    try {
      response = await appOn(hub.db, secretBox).request(hookPath(instance.id), { method: 'POST', headers: form, body: event });
    } finally {
      await hub.db.$executeRawUnsafe('DROP TRIGGER refuse_test_event ON webhook_events');
      await hub.db.$executeRawUnsafe('DROP FUNCTION refuse_test_event()');
    }
    await expectRetryLater(response);
    expect(await hub.db.webhookEvent.count({ where: { connectorInstanceId: instance.id } })).toBe(0);
    expect(await hub.db.outboxEntry.count({ where: { payload: { path: ['change', 'connectorInstanceId'], equals: instance.id } } })).toBe(0);
  });
});
