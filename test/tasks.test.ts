// The first slice end to end: HTTP -> PostgreSQL (task + outbox) -> dispatcher
// -> Temporal journey -> activity -> SQL CRM, with a real worker and server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestHub, type TestHub } from './support/hub.js';

let hub: TestHub;
// Response bodies are checked field by field with toMatchObject; `any` keeps that terse.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => {
  await hub?.close();
});

async function postTask(json: unknown, headers: Record<string, string> = {}) {
  const response = await hub.request('/v1/tasks', { method: 'POST', json, headers });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
}

async function taskWhenSettled(id: string) {
  return eventually(async () => {
    const response = await hub.request(`/v1/tasks/${id}`);
    const body = (await response.json()) as { task: { status: string }; journey: { status: string } };
    return ['done', 'failed'].includes(body.task.status) ? body : undefined;
  }, 30_000, `task ${id} to settle`);
}

describe('POST /v1/tasks', () => {
  it('stores the task, runs its journey and upserts the contact into the CRM', async () => {
    const posted = await postTask({
      phone: '(415) 555-2671',
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      applicationNumber: 'A-1001',
      data: { applicationDate: '2026-11-20', address: '1 Main St' },
    });
    expect(posted.status).toBe(202);
    const task = posted.body.task;
    expect(task.phone).toBe('+14155552671');
    expect(task.journeyId).toBe(`journey/${hub.projectId}/+14155552671`);

    const settled = await taskWhenSettled(task.id);
    expect(settled.task).toMatchObject({
      status: 'done',
      phone: '+14155552671',
      data: { applicationNumber: 'A-1001', applicationDate: '2026-11-20', address: '1 Main St' },
    });
    expect(settled.journey).toMatchObject({
      workflowId: task.journeyId,
      state: { phone: '+14155552671', tasks: [{ taskId: task.id, status: 'done' }] },
    });

    const rows = await hub.crmRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      phone: '+14155552671',
      full_name: 'Ada Lovelace',
      email: 'ada@example.com',
      extra: { applicationNumber: 'A-1001', address: '1 Main St', hubTaskId: task.id },
    });
    expect(settled.task).toMatchObject({ result: { crmRecords: { 'demo-crm': String(rows[0]?.id) } } });
    // The record written is linked to the contact: a later webhook of it goes straight to the journey.
    const links = (await (await hub.request('/v1/contacts/links?phone=(415)%20555-2671')).json()) as { links: unknown[] };
    expect(links.links).toEqual([expect.objectContaining({ contactPhone: '+14155552671', connector: 'demo-crm', externalId: String(rows[0]?.id), ambiguous: false })]);

    // Ops find the journey in Temporal by project, phone and task id.
    const client = await hub.temporal.client();
    const found = await eventually(async () => {
      const matches = [];
      for await (const execution of client.workflow.list({
        query: `ProjectId = "${hub.projectId}" AND ContactPhone = "+14155552671" AND TaskIds = "${task.id}"`,
      })) matches.push(execution.workflowId);
      return matches.length ? matches : undefined;
    }, 15_000, 'the journey in the visibility store');
    expect(found).toEqual([task.journeyId]);

    // The journey completes once idle.
    const handle = client.workflow.getHandle(task.journeyId);
    const state = await handle.result();
    expect(state.tasks[0]).toMatchObject({ taskId: task.id, status: 'done' });
  });

  it('answers a repeated Idempotency-Key with the first answer: one task, one delivery', async () => {
    const body = { phone: '+1 212 555 0147', name: 'Grace Hopper' };
    const first = await postTask(body, { 'idempotency-key': 'order-77' });
    const second = await postTask(body, { 'idempotency-key': 'order-77' });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await hub.db.task.count({ where: { phone: '+12125550147' } })).toBe(1);

    await taskWhenSettled(first.body.task.id);
    const client = await hub.temporal.client();
    const runs = [];
    for await (const execution of client.workflow.list({ query: `ContactPhone = "+12125550147" AND ProjectId = "${hub.projectId}"` })) {
      runs.push(execution);
    }
    expect(runs).toHaveLength(1);
    expect((await hub.crmRows()).filter((row) => row.phone === '+12125550147')).toHaveLength(1);
  });

  it('refuses an Idempotency-Key reused with a different body', async () => {
    await postTask({ phone: '+1 212 555 0148' }, { 'idempotency-key': 'order-78' });
    const reused = await postTask({ phone: '+1 212 555 0149' }, { 'idempotency-key': 'order-78' });
    expect(reused.status).toBe(422);
    expect(reused.headers.get('content-type')).toBe('application/problem+json');
    expect(reused.body.errors).toEqual([{ field: 'header.idempotency-key', message: expect.stringContaining('order-78') }]);
  });

  it('treats a second task with the same externalId as a duplicate of the first', async () => {
    const first = await postTask({ phone: '+1 212 555 0150', externalId: 'APP-9' });
    const again = await postTask({ phone: '+1 212 555 0150', externalId: 'APP-9' });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body.task).toMatchObject({ id: first.body.task.id, duplicate: true });
  });

  it('accepts the valid rows of a batch and names the fields of the invalid ones', async () => {
    const posted = await postTask({
      tasks: [
        { phone: '+1 646 555 0101', name: 'Row zero' },
        { phone: 'not a phone' },
        { name: 'no phone' },
        { phone: '+1 646 555 0103', email: 'broken' },
        { phone: '+1 646 555 0104' },
      ],
    });
    expect(posted.status).toBe(202);
    expect(posted.body.accepted.map((task: { index: number }) => task.index)).toEqual([0, 4]);
    expect(posted.body.rejected).toEqual([
      { index: 1, errors: [{ field: 'tasks.1.phone', message: 'not a phone number' }] },
      { index: 2, errors: [{ field: 'tasks.2.phone', message: expect.any(String) }] },
      { index: 3, errors: [{ field: 'tasks.3.email', message: expect.any(String) }] },
    ]);
    await Promise.all(posted.body.accepted.map((task: { id: string }) => taskWhenSettled(task.id)));
    const phones = (await hub.crmRows()).map((row) => row.phone);
    expect(phones).toEqual(expect.arrayContaining(['+16465550101', '+16465550104']));
    expect(phones).not.toContain('+16465550103');
  });
});

describe('bad input gets a problem+json 4xx naming the field', () => {
  async function problem(path: string, init: RequestInit & { json?: unknown }) {
    const response = await hub.request(path, init);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    return { status: response.status, body: (await response.json()) as { status: number; errors?: { field: string; message: string }[] } };
  }

  it.each([
    ['malformed JSON', { body: '{"phone": ', headers: { 'content-type': 'application/json' } }, 400, '(body)'],
    ['an empty body', { body: '' }, 400, '(body)'],
    ['a missing phone', { json: { name: 'x' } }, 422, 'phone'],
    ['a phone of the wrong type', { json: { phone: 4155552671 } }, 422, 'phone'],
    ['a national number the region cannot read', { json: { phone: '12' } }, 422, 'phone'],
    ['a name of the wrong type', { json: { phone: '+14155552671', name: ['x'] } }, 422, 'name'],
    ['an empty batch', { json: { tasks: [] } }, 422, 'tasks'],
    ['a batch that is not a list', { json: { tasks: 'many' } }, 422, 'tasks'],
    ['a batch with no valid row', { json: { tasks: [{ phone: 'x' }] } }, 422, 'tasks.0.phone'],
    ['a body that is a string', { json: 'call me' }, 422, '(body)'],
  ])('%s', async (_label, init, status, field) => {
    const { status: got, body } = await problem('/v1/tasks', { method: 'POST', ...init });
    expect(got).toBe(status);
    expect(body.status).toBe(status);
    expect(body.errors?.map((error) => error.field)).toContain(field);
  });

  it('a batch over the limit is 413', async () => {
    const tasks = Array.from({ length: 1001 }, (_, index) => ({ phone: `+1415555${String(index).padStart(4, '0')}` }));
    const { status, body } = await problem('/v1/tasks', { method: 'POST', json: { tasks } });
    expect(status).toBe(413);
    expect(body.errors?.[0]?.field).toBe('tasks');
  });

  it.each([
    ['no key', undefined, 'missing'],
    ['not a bearer key', 'Basic abc', 'malformed'],
    ['an unknown key', 'Bearer chk_thiskeydoesnotexistanywhere', 'unknown key'],
  ])('%s is 401', async (_label, authorization, message) => {
    const headers = new Headers();
    headers.set('authorization', authorization ?? '');
    const response = await hub.app.request('/v1/tasks', {
      method: 'POST',
      headers: authorization ? headers : {},
      body: JSON.stringify({ phone: '+14155552671' }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('Bearer');
    const body = (await response.json()) as { errors: { field: string; message: string }[] };
    expect(body.errors).toEqual([{ field: 'header.authorization', message }]);
  });

  it('a task id that is not a uuid is 422, an unknown one 404', async () => {
    expect((await problem('/v1/tasks/42', {})).body.errors?.[0]?.field).toBe('path.id');
    expect((await problem('/v1/tasks/7b0a2a0e-4b7c-4d55-9a53-2d0f6cf7e5a1', {})).status).toBe(404);
  });

  it('another project cannot read the task', async () => {
    const posted = await postTask({ phone: '+1 212 555 0190' });
    const other = await hub.db.project.create({ data: { slug: 'other-project', name: 'Other' } });
    const { issueApiKey } = await import('../core/projects/api-keys.js');
    const otherKey = await issueApiKey(hub.db, other.id);
    const response = await hub.request(`/v1/tasks/${posted.body.task.id}`, { headers: { authorization: `Bearer ${otherKey}` } });
    expect(response.status).toBe(404);
  });
});

describe('operations', () => {
  it('/healthz reports database, Temporal and worker', async () => {
    const body = await eventually(async () => {
      const response = await hub.app.request('/healthz');
      return response.status === 200 ? ((await response.json()) as Json) : undefined;
    }, 15_000, 'healthz to be green');
    expect(body).toMatchObject({ status: 'ok', checks: { database: { ok: true }, temporal: { ok: true }, worker: { ok: true } } });
  });

  it('serves the OpenAPI document and the docs page', async () => {
    const spec = (await (await hub.app.request('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/tasks', '/v1/tasks/{id}', '/healthz']));
    const docs = await hub.app.request('/docs');
    expect(await docs.text()).toContain('swagger-ui-bundle.js');
    expect((await hub.app.request('/docs/assets/swagger-ui-bundle.js')).status).toBe(200);
  });
});
