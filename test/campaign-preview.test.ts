// Preview campaigns through the API on real PostgreSQL and Temporal: an agent is given the next due
// task to read (held for them, no attempt counted), dials it (an attempt, whose dialAttempt workflow
// is started through the outbox with that agent preferred) or skips it; nobody else can act on a
// held task; holds run out; tasks outside their windows are never offered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialAttemptWorkflowId } from '../workflows/campaigns/shared.js';
import { PreviewDesk } from '../telephony/dialer/preview.js';
import { eventually, startTestHub, type Json, type TestHub } from './support/hub.js';

let hub: TestHub;
const call = (method: string, path: string, json?: unknown) => hub.call(method, path, json);

const always = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }];
const campaign = { mode: 'preview', trunks: ['main'], callerId: '+1 415 555 0100', queue: 'loans', dialingWindows: always };

beforeAll(async () => {
  // No worker: the dialled attempt's workflow is started and waits, so its input can be read.
  hub = await startTestHub({ worker: false });
  expect((await call('PUT', '/v1/telephony/trunks/main', { kind: 'carrier', host: '127.0.0.1:5099', auth: { mode: 'ip' }, routes: [{ prefix: '', pricePerMinute: '0.01' }] })).status).toBe(201);
  expect((await call('PUT', '/v1/telephony/queues/loans', { agents: ['alice', 'bob'] })).status).toBe(201);
  expect((await call('PUT', '/v1/campaigns/web-apps', campaign)).status).toBe(201);
  const added = await call('POST', '/v1/campaigns/web-apps/tasks', {
    tasks: [
      { externalId: 'L-1', phones: ['+1 415 555 2001'], name: 'Low priority', priority: 10 },
      { externalId: 'L-2', phones: ['+1 415 555 2002', '+1 415 555 2102'], name: 'Ada Lovelace', priority: 90, fields: { applicationNumber: 'L-2', address: '12 Main St' } },
      { externalId: 'L-3', phones: ['+1 415 555 2003'], name: 'Middle', priority: 50 },
    ],
  });
  expect(added.body.accepted).toBe(3);
});
afterAll(async () => {
  await hub?.close();
});

describe('/v1/campaigns/:name/preview', () => {
  it('refuses while the campaign is paused, and for a campaign that is not a preview one', async () => {
    const paused = await call('POST', '/v1/campaigns/web-apps/preview', { agent: 'alice' });
    expect(paused.status).toBe(409);
    expect(paused.type).toBe('application/problem+json');
    expect(paused.body.detail).toContain('paused');
    expect((await call('PUT', '/v1/campaigns/robo', { ...campaign, mode: 'progressive' })).status).toBe(201);
    expect((await call('POST', '/v1/campaigns/robo/resume')).status).toBe(200);
    const progressive = await call('POST', '/v1/campaigns/robo/preview', { agent: 'alice' });
    expect(progressive.status).toBe(409);
    expect(progressive.body.detail).toContain('progressive, not preview');
    expect((await call('POST', '/v1/campaigns/ghost/preview', { agent: 'alice' })).status).toBe(404);
  });

  it('names the field of a bad request', async () => {
    const missing = await call('POST', '/v1/campaigns/web-apps/preview', { holdSeconds: 5 });
    expect(missing.status).toBeGreaterThanOrEqual(400);
    expect(missing.status).toBeLessThan(500);
    expect(missing.body.errors.map((error: Json) => error.field).sort()).toEqual(['agent', 'holdSeconds']);
  });

  it('holds the next task for the asking agent, the same one when asked again, another for the next agent', async () => {
    expect((await call('POST', '/v1/campaigns/web-apps/resume')).status).toBe(200);
    const first = await call('POST', '/v1/campaigns/web-apps/preview', { agent: 'alice' });
    expect(first.status).toBe(200);
    expect(first.body.task).toMatchObject({
      externalId: 'L-2', name: 'Ada Lovelace', state: 'previewing', attempts: 0, previewAgent: 'alice',
      fields: { applicationNumber: 'L-2', address: '12 Main St' }, phones: ['+14155552002', '+14155552102'],
    });
    const again = await call('POST', '/v1/campaigns/web-apps/preview', { agent: 'alice' });
    expect(again.body.task.id).toBe(first.body.task.id);
    const bob = await call('POST', '/v1/campaigns/web-apps/preview', { agent: 'bob' });
    expect(bob.body.task).toMatchObject({ externalId: 'L-3', previewAgent: 'bob' });
    expect((await call('GET', '/v1/campaigns/web-apps')).body.tasks).toMatchObject({ pending: 1, previewing: 2, dialing: 0 });

    // Nobody acts on a task someone else holds.
    const stolen = await call('POST', `/v1/campaigns/web-apps/preview/${first.body.task.id}/dial`, { agent: 'bob' });
    expect(stolen.status).toBe(409);
    expect(stolen.body.detail).toContain('held by agent "alice"');
    expect((await call('POST', `/v1/campaigns/web-apps/preview/${first.body.task.id}/skip`, { agent: 'bob' })).status).toBe(409);
    expect((await call('POST', '/v1/campaigns/web-apps/preview/not-a-task/dial', { agent: 'alice' })).status).toBe(404);
  });

  it('skips a task for later without counting an attempt', async () => {
    const held = (await call('POST', '/v1/campaigns/web-apps/preview', { agent: 'bob' })).body.task;
    const before = Date.now();
    const skipped = await call('POST', `/v1/campaigns/web-apps/preview/${held.id}/skip`, { agent: 'bob', retryInMinutes: 30 });
    expect(skipped.status).toBe(200);
    expect(skipped.body).toMatchObject({ state: 'pending', attempts: 0, previewAgent: null });
    const due = Date.parse(skipped.body.nextAttemptAt);
    expect(due).toBeGreaterThanOrEqual(before + 29 * 60_000);
    expect(due).toBeLessThanOrEqual(Date.now() + 31 * 60_000);
    // Not due: bob is given the last one, and after that nothing.
    expect((await call('POST', '/v1/campaigns/web-apps/preview', { agent: 'bob' })).body.task).toMatchObject({ externalId: 'L-1' });
    expect((await call('POST', '/v1/campaigns/web-apps/preview', { agent: 'carol' })).body).toEqual({ task: null });
  });

  it('dials the held task: an attempt counted, its workflow started with the agent preferred', async () => {
    const held = (await call('POST', '/v1/campaigns/web-apps/preview', { agent: 'alice' })).body.task;
    const dialed = await call('POST', `/v1/campaigns/web-apps/preview/${held.id}/dial`, { agent: 'alice' });
    expect(dialed.status).toBe(202);
    expect(dialed.body).toMatchObject({ taskId: held.id, attempt: 1, phone: '+14155552002' });
    const task = await hub.db.dialerTask.findUniqueOrThrow({ where: { id: held.id } });
    expect(task).toMatchObject({ state: 'dialing', attempts: 1, attemptId: dialed.body.attemptId, previewAgent: null });
    expect(await hub.db.dialerAttempt.count({ where: { taskId: held.id } })).toBe(1);

    const client = await hub.temporal.client();
    const handle = client.workflow.getHandle(dialAttemptWorkflowId(hub.projectId, dialed.body.attemptId));
    const history = await eventually(() => handle.fetchHistory().catch(() => undefined), 10_000, 'the attempt workflow');
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    expect(started?.workflowType?.name).toBe('dialAttempt');
    const input = JSON.parse(Buffer.from(started?.input?.payloads?.[0]?.data ?? new Uint8Array()).toString('utf8')) as Json;
    expect(input).toMatchObject({ taskId: held.id, attemptId: dialed.body.attemptId, phone: '+14155552002', queue: 'loans', preferredAgent: 'alice', callerId: '+14155550100' });

    // Dialled once: the same request again finds nothing held.
    expect((await call('POST', `/v1/campaigns/web-apps/preview/${held.id}/dial`, { agent: 'alice' })).status).toBe(409);
    await handle.terminate('test over');
  });
});

describe('preview holds', () => {
  it('run out: the task is free for anyone again, still without an attempt', async () => {
    expect((await call('PUT', '/v1/campaigns/holds', campaign)).status).toBe(201);
    expect((await call('POST', '/v1/campaigns/holds/resume')).status).toBe(200);
    expect((await call('POST', '/v1/campaigns/holds/tasks', { tasks: [{ externalId: 'H-1', phones: ['+1 415 555 3001'] }] })).body.accepted).toBe(1);
    let now = new Date();
    const desk = new PreviewDesk(hub.db, () => now);
    const held = await desk.next(hub.projectId, 'holds', 'alice', 60);
    expect(held).toMatchObject({ externalId: 'H-1', previewAgent: 'alice' });
    expect(await desk.next(hub.projectId, 'holds', 'bob', 60)).toBeNull();
    now = new Date(now.getTime() + 61_000);
    expect(await desk.next(hub.projectId, 'holds', 'bob', 60)).toMatchObject({ externalId: 'H-1', previewAgent: 'bob', attempts: 0 });
    // alice's hold is gone: she can no longer dial it.
    await expect(desk.dial(hub.projectId, 'holds', held!.id, 'alice', 60_000)).rejects.toThrow('held by agent "bob"');
  });

  it('never offer a task outside its dialing window', async () => {
    const tuesdayMorning = [{ days: ['tue'], from: '09:00', to: '10:00' }];
    expect((await call('PUT', '/v1/campaigns/windows', { ...campaign, dialingWindows: tuesdayMorning })).status).toBe(201);
    expect((await call('POST', '/v1/campaigns/windows/resume')).status).toBe(200);
    expect((await call('POST', '/v1/campaigns/windows/tasks', { tasks: [{ externalId: 'W-1', phones: ['+1 415 555 4001'], timeZone: 'America/Los_Angeles' }] })).body.accepted).toBe(1);
    // Wednesday 2026-11-25 12:00 in Los Angeles: outside; the task moves to next Tuesday 09:00 there.
    const desk = new PreviewDesk(hub.db, () => new Date('2026-11-25T20:00:00Z'));
    expect(await desk.next(hub.projectId, 'windows', 'alice')).toBeNull();
    const task = await hub.db.dialerTask.findFirstOrThrow({ where: { externalId: 'W-1' } });
    expect(task).toMatchObject({ state: 'pending', attempts: 0 });
    expect(task.nextAttemptAt.toISOString()).toBe('2026-12-01T17:00:00.000Z');
  });
});
