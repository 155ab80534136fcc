// Screen pop through the API against real CRMs: the demo SQL CRM (PostgreSQL)
// as the primary and a Bitrix24 sandbox (a real HTTP server) created through
// POST /v1/connectors. Two CRMs, one card; a slow CRM never makes a slow answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultUserFields, startBitrixSandbox, type BitrixSandbox } from '../connectors/bitrix24/sandbox/index.js';
import type { ConnectorInstanceRecord } from '../connectors/runtime.js';
import type { ConnectorOperations, CrmContact } from '../connectors/sdk/types.js';
import { ScreenPopService, type Clock } from '../core/screenpop/service.js';
import { sqlPoolOf } from '../core/db/client.js';
import { eventually, seedDemoCrmContact, startTestHub, type TestHub } from './support/hub.js';

let hub: TestHub;
let sandbox: BitrixSandbox;
let bitrixId: string;
let sqlId: string;
// Response bodies are checked field by field; `any` keeps that terse.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  sandbox = await startBitrixSandbox({ userFields: [...defaultUserFields, 'UF_CRM_APPLICATION_STATUS'] });
  const created = await call('/v1/connectors', {
    method: 'POST',
    json: {
      kind: 'bitrix24',
      name: 'bitrix',
      config: {
        webhookUrl: sandbox.webhookBase,
        phoneRegion: 'US',
        fieldMap: {
          applicationNumber: 'UF_CRM_APPLICATION_NUMBER',
          applicationStatus: 'UF_CRM_APPLICATION_STATUS',
        },
        // The portal's user 7 is the hub's agent anna.
        responsibleAgents: { 7: 'anna' },
      },
    },
  });
  expect(created.status).toBe(201);
  bitrixId = created.body.id;
  const listed = await call('/v1/connectors');
  sqlId = listed.body.connectors.find((instance: Json) => instance.name === 'demo-crm').id;
});

afterAll(async () => {
  await hub?.close();
  await sandbox?.close();
});

async function call(path: string, init: RequestInit & { json?: unknown } = {}) {
  const response = await hub.request(path, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as Json };
}

async function lookup(phone: string, deadlineMs?: number) {
  const query = new URLSearchParams({ phone, ...(deadlineMs === undefined ? {} : { deadlineMs: String(deadlineMs) }) });
  const started = performance.now();
  const answer = await call(`/v1/contacts/lookup?${query}`);
  return { ...answer, elapsedMs: performance.now() - started };
}

const seedSqlCrm = (phone: string, name: string, extra: Record<string, unknown>) => seedDemoCrmContact(hub, phone, name, extra);

/** As a portal user types it: national format, split name, custom fields as text. */
function seedBitrix(nationalPhone: string, first: string, last: string, fields: Record<string, string> = {}): number {
  return sandbox.seed('contact', { NAME: first, LAST_NAME: last, PHONE: [{ VALUE: nationalPhone, VALUE_TYPE: 'WORK' }], ...fields });
}

/** Number lookups the portal answered: each is one `batch` request (duplicate search + list). */
function portalLookups(): number {
  return sandbox.stats().byMethod.batch ?? 0;
}

function source(card: Json, instanceId: string): Json {
  return card.sources.find((entry: Json) => entry.instanceId === instanceId);
}

describe('GET /v1/contacts/lookup', () => {
  it('merges two CRMs holding the number under different names into one card and shows the conflicts', async () => {
    await seedSqlCrm('+14155552671', 'Ada Lovelace', {
      applications: [{ number: 'A-1', status: 'review' }],
      responsibleAgent: 'anna',
      address: '1 Main St',
    });
    const bitrixRecord = seedBitrix('(415) 555-2671', 'Ada', 'King', {
      UF_CRM_APPLICATION_NUMBER: 'A-1',
      UF_CRM_APPLICATION_STATUS: 'approved',
      ASSIGNED_BY_ID: '7',
    });

    const first = await lookup('+1 415 555 2671');
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const card = first.body;
    console.log(`two CRMs, cold: ${first.elapsedMs.toFixed(1)} ms; sources ${JSON.stringify(card.sources.map((s: Json) => [s.name, s.status, s.latencyMs]))}`);
    expect(card).toMatchObject({ phone: '+14155552671', found: true, partial: false, stale: false, cache: 'miss', lastInteractions: [] });
    expect(source(card, sqlId)).toMatchObject({ name: 'demo-crm', kind: 'sql-crm', status: 'ok', externalIds: [expect.any(String)] });
    expect(source(card, bitrixId)).toMatchObject({ name: 'bitrix', kind: 'bitrix24', status: 'ok', externalIds: [String(bitrixRecord)] });

    const nameConflict = card.conflicts.find((conflict: Json) => conflict.field === 'name');
    expect(nameConflict.candidates.map((candidate: Json) => candidate.value).sort()).toEqual(['Ada King', 'Ada Lovelace']);
    expect(card.contact.name).toBe(nameConflict.chosenValue);
    expect(card.contact.provenance.name).toBe(nameConflict.chosenSource);
    expect(card.contact).toMatchObject({ phone: '+14155552671', email: '14155552671@example.com', fields: { address: '1 Main St' } });
    // The SQL CRM names the agent, the portal its user 7, who is anna: one agent, no conflict.
    expect(card.contact.responsibleAgent).toBe('anna');
    expect(card.conflicts.map((conflict: Json) => conflict.field)).not.toContain('responsibleAgent');

    // One application known to both CRMs, with their disagreement on its status surfaced.
    expect(card.applications).toHaveLength(1);
    const [application] = card.applications;
    expect(application.sources.map((entry: Json) => entry.instanceId).sort()).toEqual([bitrixId, sqlId].sort());
    const statusConflict = card.conflicts.find((conflict: Json) => conflict.field === 'applications.A-1.status');
    expect(statusConflict.candidates.map((candidate: Json) => candidate.value).sort()).toEqual(['approved', 'review']);
    expect(application.status).toBe(statusConflict.chosenValue);
    expect(application.open).toBe(application.status === 'review');

    const again = await lookup('4155552671');
    expect(again.body.cache).toBe('hit');
    expect(again.body.fetchedAt).toBe(card.fetchedAt);
  });

  it("shows a supervisor's decision while the CRMs say nothing new, and the rules again once one does", async () => {
    await seedSqlCrm('+14155552679', 'Alan Turing', {});
    const bitrixRecord = seedBitrix('(415) 555-2679', 'Alan', 'T.');
    const before = await lookup('+14155552679');
    const conflict = before.body.conflicts.find((entry: Json) => entry.field === 'name');
    expect(conflict.candidates.map((candidate: Json) => candidate.value).sort()).toEqual(['Alan T.', 'Alan Turing']);
    // As the contact's journey journals it; a supervisor then settles it with a corrected value.
    const stored = await hub.db.conflict.create({
      data: {
        projectId: hub.projectId, contactPhone: '+14155552679', field: 'name', rule: 'ranked',
        candidates: conflict.candidates.map((candidate: Json) => ({ source: candidate.source, sourceName: candidate.sourceName, value: candidate.value })),
        chosenValue: conflict.chosenValue, chosenSource: conflict.chosenSource,
      },
    });
    const resolved = await call(`/v1/conflicts/${stored.id}/resolve`, { method: 'POST', json: { value: 'Alan M. Turing', resolvedBy: 'supervisor-1' } });
    expect(resolved.status).toBe(200);

    // The decision dropped the cached card: the next ring shows it, with its provenance.
    const decided = await lookup('+14155552679');
    expect(decided.body).toMatchObject({ cache: 'miss', contact: { name: 'Alan M. Turing', provenance: { name: 'supervisor' } } });
    expect(decided.body.conflicts.map((entry: Json) => entry.field)).not.toContain('name');

    // A CRM says something new: the decision no longer stands, the rules choose again.
    const updated = await fetch(`${sandbox.webhookBase}crm.contact.update.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: bitrixRecord, fields: { NAME: 'Alan Mathison', LAST_NAME: 'Turing' } }),
    });
    expect(updated.status).toBe(200);
    const renamed = await eventually(async () => {
      const answer = await lookup('+14155552679');
      return answer.body.contact.name !== 'Alan M. Turing' ? answer : undefined;
    }, 30_000, 'the card to drop the decision after the CRM changed (cards live 10 s)');
    expect(['Alan Turing', 'Alan Mathison Turing']).toContain(renamed.body.contact.name);
  });

  it('shows what an agent typed, newer than the CRMs, as the agent source from the next ring on', async () => {
    // The record a task made carries the hub's bookkeeping (which task), never shown as contact data.
    await seedSqlCrm('+14155552690', 'Joan Clarke', { hubTaskId: '6f1c1c1e-0000-4000-8000-000000000001' });
    seedBitrix('(415) 555-2690', 'Joan', 'Clarke');
    const before = await lookup('+14155552690');
    expect(before.body.contact.name).toBe('Joan Clarke');
    expect(before.body.contact.fields).not.toHaveProperty('hubTaskId');
    expect((await lookup('+14155552690')).body.cache).toBe('hit');
    const typed = await call('/v1/contacts/answers', { method: 'POST', json: { phone: '+14155552690', agent: 'olga', answers: { name: 'Joan Murray', 'fields.maidenName': 'Clarke' } } });
    expect(typed.status).toBe(202);
    // The answer dropped the cached card; under the project's most-recent rule the typed name is the newest.
    const after = await lookup('+14155552690');
    expect(after.body).toMatchObject({ cache: 'miss', contact: { name: 'Joan Murray', fields: { maidenName: 'Clarke' }, provenance: { name: 'agent' } } });
  });

  it('answers by the deadline when a CRM is slow, and the slow answer completes the cached card', async () => {
    await seedSqlCrm('+14155552672', 'Grace Hopper', { applicationNumber: 'B-7', applicationStatus: 'new' });
    seedBitrix('(415) 555-2672', 'Grace', 'Murray');
    sandbox.setLatency(1500);
    try {
      const lookupsBefore = portalLookups();
      const cold = await lookup('+1 415 555 2672', 300);
      console.log(`slow CRM (1500 ms per request), deadline 300 ms: answered in ${cold.elapsedMs.toFixed(1)} ms`);
      expect(cold.status).toBe(200);
      expect(cold.elapsedMs).toBeLessThan(400);
      expect(cold.body).toMatchObject({ found: true, partial: true, stale: true, cache: 'miss' });
      expect(source(cold.body, bitrixId)).toMatchObject({ status: 'timeout', externalIds: [] });
      expect(source(cold.body, bitrixId).latencyMs).toBeGreaterThanOrEqual(290);
      expect(source(cold.body, sqlId)).toMatchObject({ status: 'ok' });
      expect(cold.body.contact.name).toBe('Grace Hopper');
      expect(cold.body.conflicts).toEqual([]);

      // The next ring, once the slow CRM has answered in the background: from memory, with its data.
      const completed = await eventually(
        async () => {
          const ring = await lookup('+1 415 555 2672', 300);
          return source(ring.body, bitrixId).status === 'ok' ? ring : undefined;
        },
        10_000,
        'the slow CRM to complete the cached card',
      );
      console.log(`after the slow CRM finished: cache ${completed.body.cache} in ${completed.elapsedMs.toFixed(1)} ms; bitrix took ${source(completed.body, bitrixId).latencyMs} ms`);
      expect(completed.body).toMatchObject({ cache: 'hit', partial: false, stale: false, fetchedAt: cold.body.fetchedAt });
      expect(completed.elapsedMs).toBeLessThan(50);
      expect(source(completed.body, bitrixId).latencyMs).toBeGreaterThanOrEqual(1500);
      expect(source(completed.body, bitrixId).externalIds).toHaveLength(1);
      const nameConflict = completed.body.conflicts.find((conflict: Json) => conflict.field === 'name');
      expect(nameConflict.candidates.map((candidate: Json) => candidate.value).sort()).toEqual(['Grace Hopper', 'Grace Murray']);
      expect(completed.body.applications).toEqual([{ number: 'B-7', status: 'new', open: true, sources: [{ instanceId: sqlId, externalId: expect.any(String) }] }]);
      // The card was completed by the first lookup's request, not by asking the portal again.
      expect(portalLookups() - lookupsBefore).toBe(1);
    } finally {
      sandbox.setLatency(0);
    }
  });

  it('shares one round of CRM requests between concurrent lookups of a number', async () => {
    seedBitrix('(415) 555-2673', 'Alan', 'Turing');
    sandbox.setLatency(100);
    try {
      const before = portalLookups();
      const rings = await Promise.all(Array.from({ length: 5 }, () => lookup('+14155552673')));
      expect(new Set(rings.map((ring) => ring.body.fetchedAt)).size).toBe(1);
      expect(rings.every((ring) => ring.body.contact.name === 'Alan Turing')).toBe(true);
      expect(portalLookups() - before).toBe(1);
      expect(source(rings[0]?.body as Json, sqlId).status).toBe('not-found');
    } finally {
      sandbox.setLatency(0);
    }
  });

  // How fast a cached card comes back is bench:journeys' figure (screenpop_cached_p95_ms); here: that repeated
  // rings are answered from the cache, without asking a CRM again.
  it('answers repeated rings from the cache without asking the portal again', async () => {
    await seedSqlCrm('+14155552674', 'Katherine Johnson', { responsibleAgent: 'boris' });
    const cold = await lookup('+1 415 555 2674');
    expect(cold.body.cache).toBe('miss');
    const asked = sandbox.stats().requests;
    for (let ring = 0; ring < 50; ring += 1) {
      const cached = await lookup('+1 415 555 2674');
      expect(cached.body.cache).toBe('hit');
      expect(cached.body.contact).toEqual(cold.body.contact);
    }
    expect(sandbox.stats().requests).toBe(asked);
    expect(cold.body.contact).toMatchObject({ name: 'Katherine Johnson', responsibleAgent: 'boris' });
  });

  it('refuses a number it cannot read and out-of-range deadlines, naming the field', async () => {
    const invalid = await lookup('12');
    expect(invalid.status).toBe(422);
    expect(invalid.headers.get('content-type')).toBe('application/problem+json');
    expect(invalid.body.errors).toEqual([{ field: 'query.phone', message: expect.any(String) }]);

    const words = await lookup('call me maybe');
    expect(words.status).toBe(422);
    expect(words.body.errors[0].field).toBe('query.phone');

    const missing = await call('/v1/contacts/lookup');
    expect(missing.status).toBe(422);
    expect(missing.body.errors[0].field).toBe('query.phone');

    const deadline = await lookup('+14155552671', 5);
    expect(deadline.status).toBe(422);
    expect(deadline.body.errors[0].field).toBe('query.deadlineMs');
  });

  it('answers "not found" from every CRM for an unknown number', async () => {
    const unknown = await lookup('+1 415 555 2675');
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ found: false, partial: false, stale: false, applications: [], conflicts: [] });
    expect(unknown.body.contact).toMatchObject({ name: null, phone: '+14155552675' });
    expect(unknown.body.sources.map((entry: Json) => entry.status)).toEqual(['not-found', 'not-found']);
  });

  it('lists a failing CRM as an error and still answers with the others', async () => {
    await seedSqlCrm('+14155552676', 'Hedy Lamarr', {});
    const broken = await call('/v1/connectors', {
      method: 'POST',
      json: { kind: 'sql-crm', name: 'unreachable', config: { connectionString: 'postgres://postgres@127.0.0.1:1/nothing' } },
    });
    expect(broken.status).toBe(201);
    try {
      const answer = await lookup('+1 415 555 2676');
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ found: true, partial: true, stale: false, contact: { name: 'Hedy Lamarr' } });
      expect(source(answer.body, broken.body.id)).toMatchObject({ name: 'unreachable', status: 'error', error: expect.stringMatching(/ECONNREFUSED|connect|unavailable/i) });
      expect(source(answer.body, sqlId).status).toBe('ok');
    } finally {
      expect((await call(`/v1/connectors/${broken.body.id}`, { method: 'DELETE' })).status).toBe(204);
    }
  });

  it("leaves off the card a CRM's record of the number that the match rule says is someone else, and says why", async () => {
    // The SQL CRM's client and the portal's contact share a landline; records are one person when their e-mails agree.
    await seedSqlCrm('+14155552677', 'Maria Petrova', { address: '2 Elm St' });
    const husband = sandbox.seed('contact', { NAME: 'Ivan', LAST_NAME: 'Petrov', PHONE: [{ VALUE: '(415) 555-2677', VALUE_TYPE: 'WORK' }], EMAIL: [{ VALUE: 'ivan@example.com', VALUE_TYPE: 'WORK' }], UF_CRM_APPLICATION_NUMBER: 'B-9' });
    const put = (rules: unknown) => call('/v1/reconciliation', { method: 'PUT', json: rules });
    expect((await put({ match: { confirmBy: ['email'] } })).status).toBe(200);
    try {
      const answer = await lookup('+1 415 555 2677');
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ found: true, partial: false, conflicts: [], applications: [] });
      expect(answer.body.contact).toMatchObject({ name: 'Maria Petrova', email: '14155552677@example.com', fields: { address: '2 Elm St' } });
      expect(source(answer.body, bitrixId)).toMatchObject({
        status: 'ok', externalIds: [String(husband)],
        setAside: 'email differs: "ivan@example.com" here, "14155552677@example.com" in demo-crm',
      });
      expect(source(answer.body, sqlId).setAside).toBeUndefined();
    } finally {
      expect((await put({})).status).toBe(200);
    }
    // Saved rules drop the cards merged under the old ones: without the rule the number alone decides.
    const merged = await lookup('+1 415 555 2677');
    expect(merged.body.cache).toBe('miss');
    expect(merged.body.conflicts.map((conflict: Json) => conflict.field)).toEqual(expect.arrayContaining(['name', 'email']));
    expect(source(merged.body, bitrixId).setAside).toBeUndefined();
  });
});

describe('ScreenPopService', () => {
  /** CRMs that answer from a table after a delay, counting what they are asked; the project's real instances and rules. */
  function stubRuntime(answers: Record<string, { delayMs: number; contacts: CrmContact[] }>) {
    const asked: string[] = [];
    const notUsed = () => Promise.reject(new Error('the screen pop only reads'));
    return {
      asked,
      runtime: {
        async get(instance: ConnectorInstanceRecord): Promise<ConnectorOperations> {
          return {
            async findContacts() {
              asked.push(instance.name);
              const answer = answers[instance.name] ?? { delayMs: 0, contacts: [] };
              await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
              return answer.contacts;
            },
            getContact: notUsed,
            upsertContact: notUsed,
            logActivity: notUsed,
            updateDealStatus: notUsed,
            close: async () => undefined,
          };
        },
      },
    };
  }

  const contact = (name: string): CrmContact => ({ externalId: name, phone: '+14155552680', name, email: null, fields: {} });

  it('keeps a card for its TTL by the injected clock and forgets it on invalidate', async () => {
    let now = Date.now();
    const clock: Clock = { now: () => now };
    const { asked, runtime } = stubRuntime({ 'demo-crm': { delayMs: 0, contacts: [contact('Mary Jackson')] } });
    const service = new ScreenPopService({ db: hub.db, runtime, clock, options: { ttlMs: 10_000 } });
    const ring = () => service.lookup({ projectId: hub.projectId, phone: '(415) 555-2680', defaultRegion: 'US' });

    expect((await ring()).cache).toBe('miss');
    now += 9_999;
    expect(await ring()).toMatchObject({ cache: 'hit', ageMs: 9_999, contact: { name: 'Mary Jackson' } });
    now += 2;
    expect((await ring()).cache).toBe('miss');
    service.invalidate(hub.projectId, '+14155552680');
    expect((await ring()).cache).toBe('miss');
    expect(asked.filter((name) => name === 'demo-crm')).toHaveLength(3);
  });

  it('asks the CRMs with the project it remembers, and reads the project again once its rules change', async () => {
    let now = Date.now();
    const clock: Clock = { now: () => now };
    const { asked, runtime } = stubRuntime({
      'demo-crm': { delayMs: 0, contacts: [contact('Katherine Johnson')] },
      bitrix: { delayMs: 0, contacts: [contact('Katherine Goble')] },
    });
    const service = new ScreenPopService({ db: hub.db, runtime, clock, options: { ttlMs: 1_000 } });
    const ring = () => service.lookup({ projectId: hub.projectId, phone: '+14155552681' });
    const before = await hub.db.project.findUniqueOrThrow({ where: { id: hub.projectId }, select: { reconciliation: true } });
    try {
      expect((await ring()).contact.name).toBe('Katherine Johnson');
      // Bitrix ranked first for the name, written the way a supervisor's PUT /v1/reconciliation stores it.
      await hub.db.project.update({
        where: { id: hub.projectId },
        data: { reconciliation: { fields: { name: { rule: { kind: 'ranked', ranking: [bitrixId, sqlId] } } } } },
      });
      now += 1_001;
      expect((await ring()).contact.name).toBe('Katherine Goble');
      now += 1_001;
      expect((await ring()).contact.name).toBe('Katherine Goble');
      // The second cold ring asked the CRMs with the remembered project first and again with the new one.
      expect(asked.filter((name) => name === 'bitrix').length).toBeGreaterThanOrEqual(3);
    } finally {
      await hub.db.project.update({ where: { id: hub.projectId }, data: { reconciliation: before.reconciliation ?? {} } });
    }
  });

  it('answers from the project it remembers while the hub database cannot be reached', async () => {
    let now = Date.now();
    const clock: Clock = { now: () => now };
    const { runtime } = stubRuntime({ 'demo-crm': { delayMs: 0, contacts: [contact('Annie Easley')] } });
    const service = new ScreenPopService({ db: hub.db, runtime, clock, options: { ttlMs: 1_000 } });
    const ring = () => service.lookup({ projectId: hub.projectId, phone: '+14155552682' });
    expect((await ring()).contact.name).toBe('Annie Easley');
    const pool = sqlPoolOf(hub.db);
    const query = pool.query.bind(pool);
    // Every statement on the pool fails, as during a database failover.
    pool.query = (() => Promise.reject(new Error('Connection terminated unexpectedly'))) as typeof pool.query;
    try {
      now += 1_001;
      expect(await ring()).toMatchObject({ cache: 'miss', contact: { name: 'Annie Easley' } });
    } finally {
      pool.query = query;
    }
  });

  it('joins a slow CRM request still running instead of asking that CRM again', async () => {
    let now = Date.now();
    const clock: Clock = { now: () => now };
    const { asked, runtime } = stubRuntime({
      'demo-crm': { delayMs: 0, contacts: [contact('Dorothy Vaughan')] },
      bitrix: { delayMs: 400, contacts: [contact('Dorothy Johnson')] },
    });
    const service = new ScreenPopService({ db: hub.db, runtime, clock, options: { ttlMs: 10_000 } });
    const ring = (deadlineMs: number) => service.lookup({ projectId: hub.projectId, phone: '+14155552680', deadlineMs });

    const first = await ring(100);
    expect(first).toMatchObject({ cache: 'miss', partial: true, stale: true, contact: { name: 'Dorothy Vaughan' } });
    // The card expires while the slow CRM is still answering; the next ring waits for that same request.
    now += 10_001;
    const second = await ring(1_000);
    expect(second).toMatchObject({ cache: 'miss', partial: false, stale: false });
    expect(second.conflicts.map((conflict) => conflict.field)).toContain('name');
    expect(asked.filter((name) => name === 'bitrix')).toHaveLength(1);
    expect(asked.filter((name) => name === 'demo-crm')).toHaveLength(2);
  });
});
