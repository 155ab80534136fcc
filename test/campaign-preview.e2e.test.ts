// A preview campaign over real SIP: the agent reads the task, dials it, the SIPp carrier's contact
// answers and the call is handed to that agent, although another agent has been idle longer (the
// queue would otherwise pick the longest-idle one). Real Temporal, PostgreSQL, telephony process,
// SIPp carrier and SIPp agent phones (test/support/sipp-telephony.ts).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, startTestHub, type TestHub } from './support/hub.js';
import { startSippTelephony, type SippTelephony } from './support/sipp-telephony.js';

let hub: TestHub;
let telephony: SippTelephony;
const call = (method: string, path: string, json?: unknown) => hub.call(method, path, json);
const always = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }];

beforeAll(async () => {
  hub = await startTestHub({ campaign: { tickMs: 250, ringTimeoutMs: 5_000 } });
  telephony = await startSippTelephony(hub);
  await telephony.queue('desk', ['bob', 'alice']);
});
afterAll(async () => {
  await telephony?.stop();
  await hub?.close();
});

it('hands the answered call of a previewed task to the agent who dialled it, not the longest-idle one', async () => {
  // bob is ready first, so he is the longest idle.
  await telephony.ready('bob', 'answers');
  await telephony.ready('alice', 'answers');
  const put = await call('PUT', '/v1/campaigns/applications', { mode: 'preview', trunks: telephony.trunks, callerId: '+1 415 555 0100', queue: 'desk', dialingWindows: always });
  expect(put.status).toBe(201);
  expect((await call('POST', '/v1/campaigns/applications/resume')).status).toBe(200);
  const number = telephony.contact('answers', 7101);
  expect((await call('POST', '/v1/campaigns/applications/tasks', { tasks: [{ externalId: 'APP-1', phones: [number], name: 'Ada', fields: { amount: '500' } }] })).body.accepted).toBe(1);

  // The dialer itself rings nobody in a preview campaign.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(await telephony.calls()).toHaveLength(0);

  const held = await call('POST', '/v1/campaigns/applications/preview', { agent: 'alice' });
  expect(held.body.task).toMatchObject({ externalId: 'APP-1', fields: { amount: '500' }, previewAgent: 'alice' });
  const dialed = await call('POST', `/v1/campaigns/applications/preview/${held.body.task.id}/dial`, { agent: 'alice' });
  expect(dialed.status).toBe(202);

  const attempt = await eventually(async () => {
    const row = await hub.db.dialerAttempt.findUnique({ where: { id: dialed.body.attemptId } });
    return row?.outcome ? row : undefined;
  }, 60_000, 'the previewed attempt to end');
  expect(attempt).toMatchObject({ outcome: 'connected', agentId: 'alice' });
  const calls = await telephony.calls();
  expect(calls.map((received) => received.to)).toEqual([number]);
  expect((await hub.db.dialerTask.findUniqueOrThrow({ where: { id: held.body.task.id } })).state).toBe('done');
});
