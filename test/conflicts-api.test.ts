// The conflict journal and the survivorship rules through the API: conflicts
// found by reconciliation are listed, read and resolved once; rules are
// validated against the project's own connector instances; one project's key
// never reaches another project's conflicts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProject } from '../core/projects/projects.js';
import { reconcile } from '../core/reconcile/engine.js';
import { ConflictJournal } from '../core/reconcile/journal.js';
import { ProjectReconciliation } from '../core/reconcile/project-rules.js';
import { startTestHub, type TestHub } from './support/hub.js';

let hub: TestHub;
let journal: ConflictJournal;
let crmA: string;
let crmB: string;
// Response bodies are checked field by field; `any` keeps that terse.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  journal = new ConflictJournal(hub.db);
  const connectors = await call('GET', '/v1/connectors');
  crmA = connectors.body.connectors.find((instance: Json) => instance.name === 'demo-crm').id;
  crmB = (await call('POST', '/v1/connectors', { kind: 'sql-crm', name: 'crm-b', config: { connectionString: hub.crmUrl } })).body.id;
});
afterAll(async () => {
  await hub?.close();
});

async function call(method: string, path: string, json?: unknown, apiKey?: string) {
  const response = await hub.request(path, {
    method,
    ...(json === undefined ? {} : { json }),
    ...(apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {}),
  });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), body: (text ? JSON.parse(text) : undefined) as Json };
}

const fieldsOf = (body: Json) => (body.errors as Json[]).map((error) => error.field);

describe('/v1/reconciliation', () => {
  it('shows the defaults and the sources rules may name', async () => {
    const { status, body } = await call('GET', '/v1/reconciliation');
    expect(status).toBe(200);
    expect(body.rules).toEqual({ fields: {}, default: { rule: { kind: 'most-recent' }, ignoreEmpty: true }, legacySources: [], match: { confirmBy: [], requireValues: false } });
    expect(body.sources.map((source: Json) => source.id)).toEqual([crmA, crmB]);
  });

  it('refuses rules that name unknown sources or are malformed, naming each field', async () => {
    const unknownSource = await call('PUT', '/v1/reconciliation', {
      fields: { name: { rule: { kind: 'ranked', ranking: ['00000000-0000-4000-8000-000000000000', crmA] }, owner: crmA } },
    });
    expect(unknownSource.status).toBe(422);
    expect(unknownSource.type).toBe('application/problem+json');
    expect(unknownSource.body.errors).toEqual([
      { field: 'fields.name.rule.ranking.0', message: 'no connector instance "00000000-0000-4000-8000-000000000000" in this project' },
    ]);

    const malformed = await call('PUT', '/v1/reconciliation', {
      fields: { status: { rule: { kind: 'coin-toss' } }, name: { rule: { kind: 'ranked', ranking: [] }, surprise: 1 } },
      default: { ignoreEmpty: 'yes' },
    });
    expect(malformed.status).toBe(422);
    expect(fieldsOf(malformed.body).sort()).toEqual(['default.ignoreEmpty', 'fields.name.rule.ranking', 'fields.name.surprise', 'fields.status.rule.kind']);

    const badMatch = await call('PUT', '/v1/reconciliation', { match: { confirmBy: ['phone', 'email', 'e mail', 'email'], requireValues: 'yes', fuzzy: true } });
    expect(badMatch.status).toBe(422);
    expect(badMatch.body.errors).toEqual(expect.arrayContaining([
      { field: 'match.confirmBy.0', message: 'records are found by the phone; it always agrees' },
      { field: 'match.confirmBy.3', message: '"email" is listed twice' },
    ]));
    expect(fieldsOf(badMatch.body).sort()).toEqual(['match.confirmBy.0', 'match.confirmBy.2', 'match.confirmBy.3', 'match.fuzzy', 'match.requireValues']);

    const legacyOwner = await call('PUT', '/v1/reconciliation', { fields: { status: { owner: crmB } }, legacySources: [crmB] });
    expect(legacyOwner.status).toBe(422);
    expect(fieldsOf(legacyOwner.body)).toEqual(['fields.status.owner']);

    // Nothing was saved by the refused requests.
    expect((await call('GET', '/v1/reconciliation')).body.rules.fields).toEqual({});
  });

  it('refuses a connector instance of another project', async () => {
    const other = await createProject(hub.db, { slug: 'rules-other', name: 'Other', defaultRegion: 'US' });
    const foreign = await call('POST', '/v1/connectors', { kind: 'sql-crm', name: 'theirs', config: { connectionString: hub.crmUrl } }, other.apiKey);
    expect(foreign.status).toBe(201);
    const refused = await call('PUT', '/v1/reconciliation', { fields: { name: { rule: { kind: 'most-recent' }, mirrors: [crmA, foreign.body.id] } } });
    expect(refused.status).toBe(422);
    expect(fieldsOf(refused.body)).toEqual(['fields.name.mirrors.1']);
  });
});

describe('two CRMs disagree on a name and a status', () => {
  it('are merged per the saved rules, journaled, listed, resolved once, and hidden from other projects', async () => {
    const saved = await call('PUT', '/v1/reconciliation', {
      fields: {
        name: { rule: { kind: 'ranked', ranking: [crmA, crmB] }, owner: crmA },
        status: { rule: { kind: 'most-recent' }, owner: crmA, mirrors: [crmB] },
      },
    });
    expect(saved.status).toBe(200);
    expect((await call('GET', '/v1/reconciliation')).body.rules).toEqual(saved.body.rules);

    // What a journey does with the contact's records: rules in force, reconcile, journal.
    const rules = await new ProjectReconciliation(hub.db).effective(hub.projectId);
    const result = reconcile(
      [
        { source: crmA, sourceName: 'demo-crm', externalId: '17', values: { name: 'Ada Lovelace', status: 'application' }, updatedAt: '2024-05-01T09:00:00Z' },
        { source: crmB, sourceName: 'crm-b', externalId: 'L-9', values: { name: 'A. Lovelace', status: 'approved' }, updatedAt: '2024-05-02T09:00:00Z' },
      ],
      rules,
    );
    expect(result.merged).toEqual({ name: 'Ada Lovelace', status: 'approved' });
    expect(result.writeBack).toEqual({ [crmA]: { status: 'approved' } });
    const phone = '+14155552671';
    await journal.record(hub.projectId, phone, result.conflicts);
    // The journey reconciles again on its next event: nothing new in the journal.
    await journal.record(hub.projectId, phone, result.conflicts);

    const listed = await call('GET', `/v1/conflicts?status=open&phone=${encodeURIComponent('(415) 555-2671')}`);
    expect(listed.status).toBe(200);
    expect(listed.body.nextCursor).toBeNull();
    expect(listed.body.conflicts.map((conflict: Json) => [conflict.field, conflict.rule, conflict.chosenValue])).toEqual([
      ['name', 'ranked[demo-crm>crm-b]', 'Ada Lovelace'],
      ['status', 'most-recent', 'approved'],
    ]);
    const status = listed.body.conflicts[1];
    // Candidates come in source id order (ids are random here).
    expect(status.candidates).toHaveLength(2);
    expect(status.candidates).toEqual(
      expect.arrayContaining([
        { source: crmA, sourceName: 'demo-crm', value: 'application', updatedAt: '2024-05-01T09:00:00Z', externalId: '17' },
        { source: crmB, sourceName: 'crm-b', value: 'approved', updatedAt: '2024-05-02T09:00:00Z', externalId: 'L-9' },
      ]),
    );

    const one = await call('GET', `/v1/conflicts/${status.id}`);
    expect(one.body).toMatchObject({ id: status.id, contactPhone: phone, status: 'open' });

    const other = await createProject(hub.db, { slug: 'conflicts-other', name: 'Other', defaultRegion: 'US' });
    expect((await call('GET', `/v1/conflicts/${status.id}`, undefined, other.apiKey)).status).toBe(404);
    expect((await call('POST', `/v1/conflicts/${status.id}/resolve`, { value: 'x', resolvedBy: 'eve' }, other.apiKey)).status).toBe(404);
    expect((await call('GET', '/v1/conflicts', undefined, other.apiKey)).body.conflicts).toEqual([]);

    const resolved = await call('POST', `/v1/conflicts/${status.id}/resolve`, { value: 'approved', resolvedBy: 'supervisor-1', note: 'checked the contract' });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({
      status: 'resolved',
      resolvedBy: 'supervisor-1',
      resolution: { reason: 'supervisor', value: 'approved', note: 'checked the contract' },
    });

    const again = await call('POST', `/v1/conflicts/${status.id}/resolve`, { value: 'application', resolvedBy: 'supervisor-2' });
    expect(again.status).toBe(409);
    expect(again.type).toBe('application/problem+json');
    expect(again.body.errors).toEqual([{ field: 'path.id', message: 'already resolved by supervisor-1' }]);

    const open = await call('GET', `/v1/conflicts?status=open&phone=${encodeURIComponent(phone)}`);
    expect(open.body.conflicts.map((conflict: Json) => conflict.field)).toEqual(['name']);
    const done = await call('GET', '/v1/conflicts?status=resolved');
    expect(done.body.conflicts.map((conflict: Json) => conflict.id)).toEqual([status.id]);
  });
});

describe('/v1/conflicts errors', () => {
  it('names the failing field of every bad request', async () => {
    const cases: [string, string, unknown, number, string[]][] = [
      ['GET', '/v1/conflicts?limit=0', undefined, 422, ['query.limit']],
      ['GET', '/v1/conflicts?status=maybe', undefined, 422, ['query.status']],
      ['GET', '/v1/conflicts?phone=not-a-phone', undefined, 422, ['query.phone']],
      ['GET', '/v1/conflicts?cursor=garbage', undefined, 422, ['query.cursor']],
      ['GET', '/v1/conflicts/not-a-uuid', undefined, 422, ['path.id']],
      ['GET', '/v1/conflicts/00000000-0000-4000-8000-000000000000', undefined, 404, ['path.id']],
      ['POST', '/v1/conflicts/00000000-0000-4000-8000-000000000000/resolve', { resolvedBy: 'x' }, 422, ['value']],
      ['POST', '/v1/conflicts/00000000-0000-4000-8000-000000000000/resolve', { value: 1, resolvedBy: ' ', extra: true }, 422, ['extra', 'resolvedBy']],
      ['POST', '/v1/conflicts/00000000-0000-4000-8000-000000000000/resolve', { value: 1, resolvedBy: 'x' }, 404, ['path.id']],
    ];
    for (const [method, path, body, status, fields] of cases) {
      const answer = await call(method, path, body);
      expect({ path, status: answer.status, type: answer.type }).toEqual({ path, status, type: 'application/problem+json' });
      expect(fieldsOf(answer.body).sort(), path).toEqual(fields);
    }
    expect((await call('GET', '/v1/conflicts', undefined, 'chk_not-a-real-key-at-all')).status).toBe(401);
  });
});

describe('/v1/contacts/links', () => {
  it('lists which CRM record is which contact, flagged ones filtered, in pages, and refuses bad queries by field', async () => {
    const link = (contactPhone: string, connectorInstanceId: string, externalId: string, ambiguous: boolean) => ({ projectId: hub.projectId, contactPhone, connectorInstanceId, externalId, ambiguous });
    await hub.db.contactLink.createMany({
      data: [link('+14155550301', crmA, 'a-1', false), link('+14155550301', crmB, 'b-7', true), link('+14155550302', crmA, 'a-2', false)],
    });
    const other = await createProject(hub.db, { slug: 'links-other', name: 'Other', defaultRegion: 'US' });
    await hub.db.contactLink.create({ data: { ...link('+14155550301', crmA, 'theirs', true), projectId: other.id } });

    const first = await call('GET', '/v1/contacts/links?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.links).toEqual([
      expect.objectContaining({ contactPhone: '+14155550301', connector: expect.any(String), ambiguous: expect.any(Boolean) }),
      expect.objectContaining({ contactPhone: '+14155550301' }),
    ]);
    const second = await call('GET', `/v1/contacts/links?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body).toEqual({ links: [expect.objectContaining({ contactPhone: '+14155550302', externalId: 'a-2', connector: 'demo-crm', ambiguous: false })], nextCursor: null });

    const flagged = await call('GET', '/v1/contacts/links?ambiguous=true&phone=(415)%20555-0301');
    expect(flagged.body.links).toEqual([{ contactPhone: '+14155550301', connectorInstanceId: crmB, connector: 'crm-b', externalId: 'b-7', ambiguous: true, updatedAt: expect.any(String) }]);

    const refused = await call('GET', '/v1/contacts/links?phone=call%20me&ambiguous=maybe');
    expect(refused.status).toBe(422);
    expect(fieldsOf(refused.body).sort()).toEqual(['query.ambiguous']);
    expect(fieldsOf((await call('GET', '/v1/contacts/links?phone=call%20me')).body)).toEqual(['query.phone']);
    expect(fieldsOf((await call('GET', '/v1/contacts/links?cursor=bm9wZQ')).body)).toEqual(['query.cursor']);
  });
});
