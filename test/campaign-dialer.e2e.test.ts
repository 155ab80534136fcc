// A progressive campaign end to end, nothing faked: the telephony process as `npm start` runs it
// (a child process with the drachtio-server stand-in), a SIPp carrier whose contact answers and a
// SIPp agent phone. Resuming the campaign through the API starts its workflow (outbox); the
// workflow reads the ready agent from the telephony process's roster, claims the task, places the
// call through the carrier, hands it to the agent's phone, and the task is done with the agent
// named in the contact's journey.
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextLoopbackAddress, startSipp, type SippPeer } from '../telephony/testing/sipp.js';
import { journeyStateQuery, journeyWorkflowId } from '../workflows/journey/shared.js';
import { eventually, type TestHub } from './support/hub.js';
import { startTelephonySuite, type TelephonyProcess, type TelephonySuite } from './support/telephony-process.js';

let hub: TestHub;
let telephony: TelephonyProcess | undefined;
let suite: TelephonySuite;
let client: Client;
let peers: SippPeer[] = [];

beforeAll(async () => {
  suite = await startTelephonySuite('campaign', { idleTimeoutMs: 120_000, campaign: { tickMs: 500, ringTimeoutMs: 8_000 } });
  ({ hub, client, peers } = suite);
});

afterAll(async () => {
  await suite?.close();
});

describe('a progressive campaign over SIP', () => {
  it('dials a contact through a SIPp carrier and hands the answered call to the ready SIPp agent', async () => {
    telephony = await suite.startTelephony();
    const { controlUrl } = telephony;
    await telephony.healthy();

    const carrier = await startSipp({ scenario: 'carrier-answer-accepts-reinvite', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 40 });
    peers.push(carrier);
    const agent = await startSipp({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: 'ann', calls: 1, timeoutSeconds: 40 });
    peers.push(agent);
    const trunk = { kind: 'carrier', host: carrier.hostport, auth: { mode: 'ip' }, currency: 'EUR', routes: [{ prefix: '1', pricePerMinute: '0.010', billingIncrement: '1/1' }] };
    expect((await hub.request('/v1/telephony/trunks/out', { method: 'PUT', json: trunk })).status).toBe(201);
    expect((await hub.request('/v1/telephony/queues/sales', { method: 'PUT', json: { agents: ['ann'], ringTimeoutMs: 5_000, maxWaitMs: 20_000, wrapUpMs: 0 } })).status).toBe(201);
    await eventually(async () => {
      const body = (await (await fetch(`${controlUrl}/healthz`)).json()) as { trunks: number; queues: number };
      return body.trunks === 1 && body.queues === 1 ? true : undefined;
    }, 15_000, 'the trunk and queue to reach the call center');
    const ready = await fetch(`${controlUrl}/projects/${hub.projectId}/agents/ann`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'ready', contact: agent.uri }),
    });
    expect(ready.status).toBe(200);

    const always = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }];
    const campaign = { mode: 'progressive', trunks: ['out'], callerId: '+14155550100', queue: 'sales', dialingWindows: always };
    expect((await hub.request('/v1/campaigns/sip-leads', { method: 'PUT', json: campaign })).status).toBe(201);
    const added = await hub.request('/v1/campaigns/sip-leads/tasks', { method: 'POST', json: { tasks: [{ externalId: 'L-1', phones: ['+14155559001'], timeZone: 'UTC' }] } });
    const taskId = ((await added.json()) as { results: { id: string }[] }).results[0]?.id as string;
    expect((await hub.request('/v1/campaigns/sip-leads/resume', { method: 'POST' })).status).toBe(200);

    const done = await eventually(async () => {
      const row = await hub.db.dialerTask.findUniqueOrThrow({ where: { id: taskId } });
      if (row.state === 'pending' && row.attempts > 0) throw new Error(`the attempt ended ${row.lastOutcome}`);
      return row.state === 'done' ? row : undefined;
    }, 40_000, 'the task done');
    expect(done).toMatchObject({ attempts: 1, lastOutcome: 'connected' });

    const journey = client.workflow.getHandle(journeyWorkflowId(hub.projectId, '+14155559001'));
    const state = await eventually(async () => {
      const now = await journey.query(journeyStateQuery).catch(() => undefined);
      return now?.dialerOutcomes?.length && now.calls?.some((call) => call.answeredAt !== undefined) ? now : undefined;
    }, 20_000, 'the journey with the call and the outcome');
    expect(state.dialerOutcomes?.[0]).toMatchObject({ campaign: 'sip-leads', outcome: 'connected', agentId: 'ann', next: { state: 'done' } });
    expect(state.calls?.[0]).toMatchObject({ trunk: 'out' });

    expect((await hub.request('/v1/campaigns/sip-leads/stop', { method: 'POST' })).status).toBe(200);
  });
});
