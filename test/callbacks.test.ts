// Callbacks through the API on real Temporal and PostgreSQL: bad input named by field, one callback
// per number and time, the durable timer, the owner first and the queue after the owner window,
// cancellation, a busy or ringing-out contact called again after the wait up to the maximum calls.
// Telephony is real: the telephony process with SIPp carriers and SIPp agent phones
// (test/support/sipp-telephony.ts); what the contact's phone received is read from the carrier.
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLBACK_START_OUTBOX_KIND } from '../telephony/callbacks/callback-store.js';
import { callbackDeliverers } from '../workflows/callbacks/client.js';
import { callbackWorkflowId } from '../workflows/callbacks/shared.js';
import { eventually, startTestHub, type TestHub, type Json } from './support/hub.js';
import { startSippTelephony, type SippTelephony } from './support/sipp-telephony.js';

let hub: TestHub;
let telephony: SippTelephony;
let client: Client;

function call(method: string, path: string, json?: unknown) {
  return hub.call(method, path, json);
}

async function stored(id: string) {
  return (await call('GET', `/v1/callbacks/${id}`)).body;
}

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

beforeAll(async () => {
  hub = await startTestHub({ callback: { pollMs: 200, ringTimeoutMs: 2_000, retry: { maxAttempts: 3, retryAfterMs: 3_000 } } });
  client = await hub.temporal.client();
  telephony = await startSippTelephony(hub);
  await telephony.queue('front', ['olga', 'pete']);
  await telephony.queue('desk', ['rita', 'sam', 'tom', 'uma']);
  await telephony.queue('later', ['vera']);
});
afterAll(async () => {
  await telephony?.stop();
  await hub?.close();
});

describe('/v1/callbacks', () => {
  it('refuses bad callbacks with 422 naming each field', async () => {
    const shape = await call('POST', '/v1/callbacks', { phone: '+14155557000', at: 'tomorrow', ownerWindowSeconds: -1 });
    expect(shape.status).toBe(422);
    expect(shape.type).toBe('application/problem+json');
    expect(shape.body.errors.map((error: Json) => error.field).sort()).toEqual(['at', 'ownerWindowSeconds', 'queue']);
    const refs = await call('POST', '/v1/callbacks', { phone: 'call me', at: inMs(60_000), queue: 'nowhere' });
    expect(refs.status).toBe(422);
    // No caller ID given and no campaign of the queue to take one from.
    expect(refs.body.errors.map((error: Json) => error.field)).toEqual(['phone', 'queue', 'callerId']);
    expect((await call('POST', '/v1/callbacks', { phone: '+14155557000', at: inMs(60_000), queue: 'front', colour: 'red' })).body.errors[0].field).toBe('colour');
    const retry = await call('POST', '/v1/callbacks', { phone: '+14155557000', at: inMs(60_000), queue: 'front', callerId: '+14155550100', retry: { maxAttempts: 0, retryAfterSeconds: 1, busyRetryAfterSeconds: 0 } });
    expect(retry.status).toBe(422);
    expect(retry.body.errors.map((error: Json) => error.field).sort()).toEqual(['retry.busyRetryAfterSeconds', 'retry.maxAttempts', 'retry.retryAfterSeconds']);
    // A callback dated the epoch, or any more than a day back, is a client's bug: nobody is rung for it.
    const before = await hub.db.callback.count({ where: { projectId: hub.projectId } });
    for (const at of ['1970-01-01T00:00:00Z', inMs(-25 * 3600 * 1000)]) {
      const late = await call('POST', '/v1/callbacks', { phone: '+14155557000', at, queue: 'front', callerId: '+14155550100' });
      expect(late.status).toBe(422);
      expect(late.body.errors).toEqual([{ field: 'at', message: 'more than a day in the past' }]);
    }
    expect(await hub.db.callback.count({ where: { projectId: hub.projectId } })).toBe(before);
    expect((await call('GET', '/v1/callbacks?state=lost')).status).toBe(422);
    expect((await call('DELETE', '/v1/callbacks/not-an-id')).status).toBe(404);
  });

  it('fires at its time and goes to the owner when the owner is ready', async () => {
    await telephony.ready('olga', 'answers');
    const at = inMs(1_500);
    const created = await call('POST', '/v1/callbacks', { phone: '(415) 555-7001', at, agent: 'olga', queue: 'front', callerId: '+1 415 555 0100', note: 'about the loan' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ phone: '+14155557001', agent: 'olga', state: 'scheduled', callerId: '+14155550100', ownerWindowSeconds: 300 });
    // The same number and time again: the same callback, not a second one.
    const again = await call('POST', '/v1/callbacks', { phone: '+14155557001', at, queue: 'front', callerId: '+14155550100' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);

    const done = await eventually(async () => {
      const now = await stored(created.body.id);
      return now.state === 'done' ? now : undefined;
    }, 20_000, 'the callback done');
    expect(done).toMatchObject({ handledBy: 'olga', outcome: 'connected' });
    const placed = (await telephony.calls()).filter((one) => one.to === '+14155557001');
    expect(placed).toHaveLength(1);
    expect(placed[0]?.at.getTime()).toBeGreaterThanOrEqual(Date.parse(at));
    expect(placed[0]?.fromUser).toBe('+14155550100');
  });

  it('waits for the owner for the owner window, then goes to the queue', async () => {
    await telephony.ready('pete', 'answers');
    const at = inMs(500);
    const created = await call('POST', '/v1/callbacks', { phone: '+14155557002', at, agent: 'olga', queue: 'front', callerId: '+14155550100', ownerWindowSeconds: 2 });
    expect(created.status).toBe(201);
    // olga is busy with the previous callback: the window runs out.
    await eventually(async () => ((await stored(created.body.id)).state === 'waiting_owner' ? true : undefined), 10_000, 'waiting for the owner');
    const done = await eventually(async () => {
      const now = await stored(created.body.id);
      return now.state === 'done' ? now : undefined;
    }, 20_000, 'the callback done by the queue');
    expect(done.handledBy).toBe('pete');
    const placed = (await telephony.calls()).filter((one) => one.to === '+14155557002');
    expect(placed).toHaveLength(1);
    expect(placed[0]?.at.getTime()).toBeGreaterThanOrEqual(Date.parse(at) + 2_000);
  });

  it('is cancelled before its time, and a repeated start delivery never starts it twice', async () => {
    const created = await call('POST', '/v1/callbacks', { phone: '+14155557003', at: inMs(60_000), queue: 'front', callerId: '+14155550100' });
    expect(created.status).toBe(201);
    const handle = client.workflow.getHandle(callbackWorkflowId(hub.projectId, created.body.id));
    await eventually(async () => ((await handle.describe()).status.name === 'RUNNING' ? true : undefined), 10_000, 'the callback workflow started');
    const startRow = { id: 0n, kind: CALLBACK_START_OUTBOX_KIND, workflowId: callbackWorkflowId(hub.projectId, created.body.id), attempts: 0, payload: {
      projectId: hub.projectId, callbackId: created.body.id, phone: '+14155557003', at: created.body.at, queue: 'front', callerId: '+14155550100', ownerWindowSeconds: 300 } };
    await callbackDeliverers({ taskQueue: hub.taskQueue })[CALLBACK_START_OUTBOX_KIND]?.deliver(client, startRow);
    const runs = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = '${callbackWorkflowId(hub.projectId, created.body.id)}'` })) runs.push(run);
    expect(runs).toHaveLength(1);

    const cancelled = await call('DELETE', `/v1/callbacks/${created.body.id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    expect(await handle.result()).toMatchObject({ phase: 'cancelled' });
    expect((await call('DELETE', `/v1/callbacks/${created.body.id}`)).body.state).toBe('cancelled');
    expect((await telephony.calls()).some((one) => one.to === '+14155557003')).toBe(false);

    const listed = await call('GET', '/v1/callbacks?state=cancelled');
    expect(listed.body.callbacks.map((one: Json) => one.id)).toEqual([created.body.id]);
    const done = (await call('GET', '/v1/callbacks?state=done')).body.callbacks;
    expect(done.length).toBe(2);
    const refused = await call('DELETE', `/v1/callbacks/${done[0].id}`);
    expect(refused.status).toBe(409);
    expect(refused.type).toBe('application/problem+json');
  });
  it('does not wait past the owner window for an owner who is ready but has no registered phone', async () => {
    await telephony.ready('uma', 'none');
    await telephony.ready('sam', 'answers');
    const at = inMs(300);
    const created = await call('POST', '/v1/callbacks', { phone: '+14155557004', at, agent: 'uma', queue: 'desk', callerId: '+14155550100', ownerWindowSeconds: 2 });
    expect(created.status).toBe(201);
    const done = await eventually(async () => {
      const now = await stored(created.body.id);
      return now.state === 'done' ? now : undefined;
    }, 20_000, 'the callback done by the queue');
    expect(done.handledBy).toBe('sam');
    const placed = (await telephony.calls()).filter((one) => one.to === '+14155557004');
    expect(placed).toHaveLength(1);
    expect(placed[0]?.at.getTime()).toBeGreaterThanOrEqual(Date.parse(at) + 2_000);
  });

  it('goes to the next agent of the queue when the owner\'s phone rejects the call, and calls the contact once', async () => {
    await telephony.ready('rita', 'rejects');
    await telephony.ready('tom', 'answers');
    const created = await call('POST', '/v1/callbacks', { phone: '+14155557005', at: inMs(300), agent: 'rita', queue: 'desk', callerId: '+14155550100' });
    expect(created.status).toBe(201);
    const done = await eventually(async () => {
      const now = await stored(created.body.id);
      return now.state === 'done' ? now : undefined;
    }, 20_000, 'the callback done by the next agent');
    expect(done).toMatchObject({ handledBy: 'tom', outcome: 'connected' });
    expect((await telephony.calls()).filter((one) => one.to === '+14155557005')).toHaveLength(1);
    // The owner who rejected is set not-ready until they say otherwise.
    const agents = (await (await telephony.process.control(`/projects/${hub.projectId}/agents`)).json()) as { agents: { id: string; status: string }[] };
    expect(agents.agents.find((agent) => agent.id === 'rita')?.status).toBe('not-ready');
  });
  it('calls a busy contact again after the wait, up to the maximum calls, one call at a time', async () => {
    await telephony.ready('vera', 'answers');
    const phone = telephony.contact('busy', 7101);
    const created = await call('POST', '/v1/callbacks', { phone, at: inMs(300), queue: 'later', callerId: '+14155550100' });
    expect(created.status).toBe(201);
    const failed = await eventually(async () => {
      const now = await stored(created.body.id);
      return now.state === 'failed' ? now : undefined;
    }, 40_000, 'the callback out of calls');
    expect(failed.outcome).toBe('busy (486); call 3 of 3, no more calls');
    expect(await client.workflow.getHandle(callbackWorkflowId(hub.projectId, created.body.id)).result()).toMatchObject({ phase: 'failed' });
    const placed = (await telephony.calls()).filter((one) => one.to === phone);
    expect(placed).toHaveLength(3);
    for (const [index, one] of placed.entries()) {
      if (index > 0) expect(one.at.getTime() - (placed[index - 1] as (typeof placed)[number]).at.getTime()).toBeGreaterThanOrEqual(3_000);
    }
  });

  it("calls a busy contact again by the callback's own retry and its wait for a busy line, over the hub's default", async () => {
    const phone = telephony.contact('busy', 7104);
    // A busy line is tried again after 5 s; a contact who let it ring out would wait an hour.
    const created = await call('POST', '/v1/callbacks', { phone, at: inMs(300), queue: 'later', callerId: '+14155550100', retry: { maxAttempts: 2, retryAfterSeconds: 3600, busyRetryAfterSeconds: 5 } });
    expect(created.status).toBe(201);
    expect(created.body.retry).toEqual({ maxAttempts: 2, retryAfterSeconds: 3600, busyRetryAfterSeconds: 5 });
    const waiting = await eventually(async () => {
      const now = await stored(created.body.id);
      return now.state === 'scheduled' && now.outcome !== null ? now : undefined;
    }, 20_000, 'the callback waiting for its second call');
    expect(waiting.outcome).toBe('busy (486); call 1 of 2, the next in 5 s');
    const failed = await eventually(async () => {
      const now = await stored(created.body.id);
      return now.state === 'failed' ? now : undefined;
    }, 30_000, 'the callback out of calls');
    expect(failed.outcome).toBe('busy (486); call 2 of 2, no more calls');
    const placed = (await telephony.calls()).filter((one) => one.to === phone);
    expect(placed).toHaveLength(2);
    expect((placed[1] as (typeof placed)[number]).at.getTime() - (placed[0] as (typeof placed)[number]).at.getTime()).toBeGreaterThanOrEqual(5_000);
  });

  it('calls a contact who let it ring out again after the wait, and a cancel during the wait ends it with no further call', async () => {
    const phone = telephony.contact('rings-out', 7102);
    const created = await call('POST', '/v1/callbacks', { phone, at: inMs(300), queue: 'later', callerId: '+14155550100' });
    expect(created.status).toBe(201);
    // No retry of its own: the hub's (here 3 calls, 3 s apart).
    expect(created.body.retry).toBeNull();
    const waiting = await eventually(async () => {
      const now = await stored(created.body.id);
      return now.state === 'scheduled' && now.outcome !== null ? now : undefined;
    }, 20_000, 'the callback waiting for its second call');
    expect(waiting.outcome).toBe('no-answer (487); call 1 of 3, the next in 3 s');
    const cancelled = await call('DELETE', `/v1/callbacks/${created.body.id}`);
    expect(cancelled.status).toBe(200);
    expect(await client.workflow.getHandle(callbackWorkflowId(hub.projectId, created.body.id)).result()).toMatchObject({ phase: 'cancelled' });
    expect((await stored(created.body.id)).state).toBe('cancelled');
    expect((await telephony.calls()).filter((one) => one.to === phone)).toHaveLength(1);
  });
  it('hands a busy contact who answers a later call to an agent, one call at a time', async () => {
    const phone = telephony.contact('busy', 7103);
    const created = await call('POST', '/v1/callbacks', { phone, at: inMs(300), queue: 'later', callerId: '+14155550100' });
    expect(created.status).toBe(201);
    await eventually(async () => {
      const now = await stored(created.body.id);
      return now.state === 'scheduled' && now.outcome?.startsWith('busy (486); call 1 of 3') ? now : undefined;
    }, 20_000, 'the callback waiting for its second call');
    // The contact is free now: their number reaches the carrier that answers.
    await telephony.route(phone, 'answers');
    const done = await eventually(async () => {
      const now = await stored(created.body.id);
      return now.state === 'done' || now.state === 'failed' ? now : undefined;
    }, 30_000, 'the callback done');
    expect(done).toMatchObject({ state: 'done', handledBy: 'vera', outcome: 'connected' });
    const placed = (await telephony.calls()).filter((one) => one.to === phone);
    expect(placed[0]?.answer).toBe('busy');
    expect(placed.at(-1)?.answer).toBe('answers');
    expect(placed.filter((one) => one.answer === 'answers')).toHaveLength(1);
    expect(placed.length).toBeLessThanOrEqual(3);
  });
});
