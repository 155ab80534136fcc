// The campaign dialer workflow on real Temporal and PostgreSQL: pause / resume / stop through the
// API reach the workflow via the outbox; an active progressive campaign dials one task per ready
// agent, answered calls go to the queue's agents and finish the task, a busy number is retried by
// the campaign's rule and not rung again meanwhile, and the outcome reaches the contact's journey.
// Telephony is the stand-in of test/support/telephony-standin.ts (scripted answers, real roster).
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ensureCampaignDialers } from '../workflows/campaigns/client.js';
import { campaignStatusQuery, campaignWorkflowId } from '../workflows/campaigns/shared.js';
import { journeyStateQuery, journeyWorkflowId } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub, type Json } from './support/hub.js';
import { startTelephonyStandIn, type TelephonyStandIn } from './support/telephony-standin.js';

let hub: TestHub;
let telephony: TelephonyStandIn;
let client: Client;

function call(method: string, path: string, json?: unknown) {
  return hub.call(method, path, json);
}

const allDays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const always = [{ days: allDays, from: '00:00', to: '24:00' }];

async function campaign(name: string, config: Json = {}): Promise<void> {
  const put = await call('PUT', `/v1/campaigns/${name}`, { mode: 'progressive', trunks: ['main'], callerId: '+1 415 555 0100', queue: 'loans', dialingWindows: always, ...config });
  expect(put.status).toBe(201);
}

async function status(name: string) {
  return client.workflow.getHandle(campaignWorkflowId(hub.projectId, name)).query(campaignStatusQuery);
}

beforeAll(async () => {
  hub = await startTestHub({ campaign: { tickMs: 250, ringTimeoutMs: 2_000 } });
  client = await hub.temporal.client();
  telephony = await startTelephonyStandIn({ temporalAddress: inject('temporalAddress'), taskQueue: hub.telephonyTaskQueue, projectId: hub.projectId, queues: { loans: ['alice', 'bob'] } });
  expect((await call('PUT', '/v1/telephony/trunks/main', { kind: 'carrier', host: '127.0.0.1:5099', auth: { mode: 'ip' }, routes: [{ prefix: '', pricePerMinute: '0.01' }] })).status).toBe(201);
  expect((await call('PUT', '/v1/telephony/queues/loans', { agents: ['alice', 'bob'] })).status).toBe(201);
});
afterAll(async () => {
  await telephony?.stop();
  await hub?.close();
});

describe('campaignDialer', () => {
  it('is started by resume, holds while paused, and ends on stop', async () => {
    await campaign('life');
    expect((await call('POST', '/v1/campaigns/life/resume')).status).toBe(200);
    const running = await eventually(async () => {
      const now = await status('life');
      return now.state === 'active' && now.ticks >= 2 ? now : undefined;
    }, 20_000, 'the campaign workflow ticking');
    // Nobody is ready yet: the agent figures come from telephony, and nothing is dialled.
    expect(running).toMatchObject({ launched: 0, readyAgents: 0 });

    expect((await call('POST', '/v1/campaigns/life/pause')).status).toBe(200);
    const paused = await eventually(async () => {
      const now = await status('life');
      return now.state === 'paused' ? now : undefined;
    }, 10_000, 'the campaign paused');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await status('life')).ticks).toBe(paused.ticks);

    expect((await call('POST', '/v1/campaigns/life/resume')).status).toBe(200);
    await eventually(async () => ((await status('life')).ticks > paused.ticks + 1 ? true : undefined), 10_000, 'ticks after resume');

    expect((await call('POST', '/v1/campaigns/life/stop')).status).toBe(200);
    const result = await client.workflow.getHandle(campaignWorkflowId(hub.projectId, 'life')).result();
    expect(result).toMatchObject({ state: 'stopped', launched: 0 });
  });

  it('is started again at worker start for an active campaign whose workflow was lost', async () => {
    await campaign('restart');
    expect((await call('POST', '/v1/campaigns/restart/resume')).status).toBe(200);
    const handle = client.workflow.getHandle(campaignWorkflowId(hub.projectId, 'restart'));
    await eventually(async () => ((await status('restart')).ticks >= 1 ? true : undefined), 20_000, 'the campaign workflow ticking');
    await handle.terminate('lost, as by an operator mistake');
    // Restarted with a short history limit: the run continues as new and keeps its totals.
    const started = await ensureCampaignDialers({ db: hub.db, client, options: { taskQueue: hub.taskQueue, telephonyTaskQueue: hub.telephonyTaskQueue, tickMs: 100, maxHistoryLength: 60 } });
    expect(started).toBeGreaterThanOrEqual(1);
    await eventually(async () => ((await handle.describe()).status.name === 'RUNNING' && (await status('restart')).ticks >= 1 ? true : undefined), 20_000, 'a new run ticking');
    const firstRun = (await handle.describe()).runId;
    let lastSeenTicks = 0;
    const carried = await eventually(async () => {
      const description = await handle.describe();
      if (description.runId === firstRun) {
        lastSeenTicks = (await client.workflow.getHandle(campaignWorkflowId(hub.projectId, 'restart'), firstRun).query(campaignStatusQuery).catch(() => undefined))?.ticks ?? lastSeenTicks;
        return undefined;
      }
      return description.status.name === 'RUNNING' ? await status('restart') : undefined;
    }, 30_000, 'a run continued as new');
    expect(carried.state).toBe('active');
    expect(lastSeenTicks).toBeGreaterThan(0);
    expect(carried.ticks).toBeGreaterThanOrEqual(lastSeenTicks);
    expect((await call('POST', '/v1/campaigns/restart/stop')).status).toBe(200);
    expect(await handle.result()).toMatchObject({ state: 'stopped' });
  });

  it('dials one task per ready agent, hands answered calls to agents, retries a busy number by its rule', async () => {
    await campaign('loans-nov', { retry: { maxAttempts: 3, rules: [{ outcome: 'busy', retryAfterMinutes: 7 }] } });
    const added = await call('POST', '/v1/campaigns/loans-nov/tasks', {
      tasks: [
        { externalId: 'A', phones: ['+14155556001'], priority: 90, timeZone: 'UTC' },
        { externalId: 'B', phones: ['+14155556002'], priority: 80, timeZone: 'UTC' },
        { externalId: 'C', phones: ['+14155556003'], priority: 10, timeZone: 'UTC' },
      ],
    });
    expect(added.body.accepted).toBe(3);
    const [idA, idB, idC] = added.body.results.map((result: Json) => result.id as string);
    telephony.script.set('+14155556002', 'busy');
    telephony.ready('alice');
    telephony.ready('bob');
    expect((await call('POST', '/v1/campaigns/loans-nov/resume')).status).toBe(200);

    await eventually(async () => {
      const rows = await hub.db.dialerTask.findMany({ where: { id: { in: [idA, idB, idC] } } });
      return rows.filter((row) => row.state === 'done').length === 2 && rows.some((row) => row.id === idB && row.state === 'pending' && row.attempts === 1) ? rows : undefined;
    }, 30_000, 'A and C done, B waiting for its retry');

    // Two agents were ready: A and B first (priority); B busy left bob free for C.
    expect(telephony.placed.map((placed) => placed.to).sort()).toEqual(['+14155556001', '+14155556002', '+14155556003']);
    expect(new Set(telephony.bridged.values())).toEqual(new Set(['alice', 'bob']));
    expect(telephony.placed.every((placed) => placed.callerId === '+14155550100' && placed.ringTimeoutMs === 2_000)).toBe(true);
    const b = await hub.db.dialerTask.findUniqueOrThrow({ where: { id: idB as string } });
    expect(b.lastOutcome).toBe('busy');
    expect(b.nextAttemptAt.getTime() - (b.lastAttemptAt as Date).getTime()).toBeGreaterThanOrEqual(7 * 60_000);

    // The journey of A hears the outcome with the agent.
    const journeyA = await eventually(async () => {
      const state = await client.workflow.getHandle(journeyWorkflowId(hub.projectId, '+14155556001')).query(journeyStateQuery);
      return state.dialerOutcomes?.length ? state : undefined;
    }, 20_000, "A's journey hearing the outcome");
    expect(journeyA.dialerOutcomes?.[0]).toMatchObject({ campaign: 'loans-nov', taskId: idA, outcome: 'connected', next: { state: 'done' } });
    expect(['alice', 'bob']).toContain(journeyA.dialerOutcomes?.[0]?.agentId);

    // Agents busy, B not due: a few more ticks dial nobody.
    const before = await status('loans-nov');
    await eventually(async () => ((await status('loans-nov')).ticks >= before.ticks + 4 ? true : undefined), 10_000, 'more ticks');
    expect(telephony.placed).toHaveLength(3);

    expect((await call('POST', '/v1/campaigns/loans-nov/stop')).status).toBe(200);
    expect(await client.workflow.getHandle(campaignWorkflowId(hub.projectId, 'loans-nov')).result()).toMatchObject({ state: 'stopped', launched: 3 });
  });
});
