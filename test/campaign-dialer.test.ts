// The campaign dialer workflow on real Temporal and PostgreSQL: pause / resume / stop through the
// API reach the workflow via the outbox; an active progressive campaign dials one task per ready
// agent, answered calls go to the queue's agents and finish the task, a busy number, one that rings
// out and one whose carrier fails are each retried by the campaign's rule for that outcome and not
// rung again meanwhile, up to the maximum attempts; a task outside its window is not dialled, also
// after its workflow was started again; the outcome reaches the contact's journey. Telephony is
// real: the telephony process with SIPp carriers (one per way a contact answers, routed by dial
// prefix) and SIPp agent phones (test/support/sipp-telephony.ts).
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCampaignDialers } from '../workflows/campaigns/client.js';
import { campaignStatusQuery, campaignWorkflowId } from '../workflows/campaigns/shared.js';
import { journeyStateQuery, journeyWorkflowId } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub, type Json } from './support/hub.js';
import { startSippTelephony, type SippTelephony } from './support/sipp-telephony.js';

let hub: TestHub;
let telephony: SippTelephony;
let client: Client;

function call(method: string, path: string, json?: unknown) {
  return hub.call(method, path, json);
}

const allDays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const always = [{ days: allDays, from: '00:00', to: '24:00' }];

async function campaign(name: string, config: Json = {}): Promise<void> {
  const put = await call('PUT', `/v1/campaigns/${name}`, { mode: 'progressive', trunks: telephony.trunks, callerId: '+1 415 555 0100', queue: 'loans', dialingWindows: always, ...config });
  expect(put.status).toBe(201);
}

async function status(name: string) {
  return client.workflow.getHandle(campaignWorkflowId(hub.projectId, name)).query(campaignStatusQuery);
}

beforeAll(async () => {
  hub = await startTestHub({ campaign: { tickMs: 250, ringTimeoutMs: 2_000 } });
  client = await hub.temporal.client();
  telephony = await startSippTelephony(hub);
  await telephony.queue('loans', ['alice', 'bob']);
  await telephony.queue('night', ['nina']);
  await telephony.queue('retries', ['carol']);
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

  it("decides at the campaign's own interval when it sets one, not the hub's", async () => {
    await campaign('steady', { decisionIntervalSeconds: 5 });
    expect((await call('POST', '/v1/campaigns/steady/resume')).status).toBe(200);
    const first = await eventually(async () => {
      const now = await status('steady');
      return now.ticks >= 1 ? now : undefined;
    }, 20_000, 'the campaign workflow ticking');
    // The hub's tick here is 250 ms (a decision takes about a second on a busy machine): several in 4 s; the campaign's 5 s allows one at most.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect((await status('steady')).ticks - first.ticks).toBeLessThanOrEqual(1);
    await eventually(async () => ((await status('steady')).ticks >= first.ticks + 2 ? true : undefined), 20_000, 'the next decisions');
    expect((await call('POST', '/v1/campaigns/steady/stop')).status).toBe(200);
    const refused = await call('PUT', '/v1/campaigns/too-eager', { mode: 'progressive', trunks: telephony.trunks, callerId: '+1 415 555 0100', queue: 'loans', decisionIntervalSeconds: 0 });
    expect(refused.status).toBe(422);
    expect(refused.body.errors.map((error: Json) => error.field)).toEqual(['decisionIntervalSeconds']);
  });

  it('is started again at worker start for an active campaign whose workflow was lost, and dials nobody outside the window', async () => {
    // The window opens in two hours (UTC, the task's zone): the task is due by its time but not dialable.
    const opens = (new Date().getUTCHours() + 2) % 24;
    const hour = (h: number) => `${String(h).padStart(2, '0')}:00`;
    const later = [{ days: allDays, from: hour(opens), to: hour(opens + 1) }];
    await campaign('restart', { queue: 'night', dialingWindows: later });
    await telephony.ready('nina', 'answers');
    expect((await call('POST', '/v1/campaigns/restart/resume')).status).toBe(200);
    const handle = client.workflow.getHandle(campaignWorkflowId(hub.projectId, 'restart'));
    await eventually(async () => ((await status('restart')).ticks >= 1 ? true : undefined), 20_000, 'the campaign workflow ticking');
    await handle.terminate('lost, as by an operator mistake');
    // A task comes while no workflow runs: the restarted one finds it due, with nina ready.
    const night = telephony.contact('answers', 8001);
    const added = await call('POST', '/v1/campaigns/restart/tasks', { tasks: [{ externalId: 'N', phones: [night], timeZone: 'UTC' }] });
    expect(added.body.accepted).toBe(1);
    const taskId = added.body.results[0].id as string;
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

    // The restarted runs claimed nothing: the task waits for the window's start, no attempt counted, never rung.
    const task = await eventually(async () => {
      const row = await hub.db.dialerTask.findUniqueOrThrow({ where: { id: taskId } });
      return row.nextAttemptAt.getTime() > Date.now() ? row : undefined;
    }, 10_000, 'the task moved to the window start');
    expect(task).toMatchObject({ state: 'pending', attempts: 0 });
    expect(task.nextAttemptAt.getUTCHours()).toBe(opens);
    expect(task.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 60 * 60_000);
    expect((await telephony.calls()).filter((received) => received.to === night)).toEqual([]);
    expect(carried.launched).toBe(0);
    expect((await call('POST', '/v1/campaigns/restart/stop')).status).toBe(200);
    expect(await handle.result()).toMatchObject({ state: 'stopped', launched: 0 });
  });

  it('dials one task per ready agent, hands answered calls to agents, retries a busy number by its rule', async () => {
    await campaign('loans-nov', { retry: { maxAttempts: 3, rules: [{ outcome: 'busy', retryAfterMinutes: 7 }] } });
    const [phoneA, phoneB, phoneC] = [telephony.contact('answers', 6001), telephony.contact('busy', 6002), telephony.contact('answers', 6003)];
    const added = await call('POST', '/v1/campaigns/loans-nov/tasks', {
      tasks: [
        { externalId: 'A', phones: [phoneA], priority: 90, timeZone: 'UTC' },
        { externalId: 'B', phones: [phoneB], priority: 80, timeZone: 'UTC' },
        { externalId: 'C', phones: [phoneC], priority: 10, timeZone: 'UTC' },
      ],
    });
    expect(added.body.accepted).toBe(3);
    const [idA, idB, idC] = added.body.results.map((result: Json) => result.id as string);
    await telephony.ready('alice', 'answers');
    await telephony.ready('bob', 'answers');
    expect((await call('POST', '/v1/campaigns/loans-nov/resume')).status).toBe(200);

    await eventually(async () => {
      const rows = await hub.db.dialerTask.findMany({ where: { id: { in: [idA, idB, idC] } } });
      return rows.filter((row) => row.state === 'done').length === 2 && rows.some((row) => row.id === idB && row.state === 'pending' && row.attempts === 1) ? rows : undefined;
    }, 30_000, 'A and C done, B waiting for its retry');

    // Two agents were ready: A and B first (priority); B busy left an agent free for C.
    const mine = async () => (await telephony.calls()).filter((received) => [phoneA, phoneB, phoneC].includes(received.to));
    const dialled = await mine();
    expect(dialled.map((received) => received.to).sort()).toEqual([phoneA, phoneB, phoneC].sort());
    expect(dialled.map((received) => received.fromUser)).toEqual(['+14155550100', '+14155550100', '+14155550100']);
    const attempts = await hub.db.dialerAttempt.findMany({ where: { taskId: { in: [idA, idB, idC] } } });
    expect(attempts.map((attempt) => attempt.agentId).filter((agent) => agent !== null).sort()).toEqual(['alice', 'bob']);
    const b = await hub.db.dialerTask.findUniqueOrThrow({ where: { id: idB as string } });
    expect(b.lastOutcome).toBe('busy');
    expect(b.nextAttemptAt.getTime() - (b.lastAttemptAt as Date).getTime()).toBeGreaterThanOrEqual(7 * 60_000);

    // The journey of A hears the outcome with the agent.
    const journeyA = await eventually(async () => {
      const state = await client.workflow.getHandle(journeyWorkflowId(hub.projectId, phoneA)).query(journeyStateQuery);
      return state.dialerOutcomes?.length ? state : undefined;
    }, 20_000, "A's journey hearing the outcome");
    expect(journeyA.dialerOutcomes?.[0]).toMatchObject({ campaign: 'loans-nov', taskId: idA, outcome: 'connected', next: { state: 'done' } });
    expect(['alice', 'bob']).toContain(journeyA.dialerOutcomes?.[0]?.agentId);

    // Agents busy (on the calls), B not due: a few more ticks dial nobody.
    const before = await status('loans-nov');
    await eventually(async () => ((await status('loans-nov')).ticks >= before.ticks + 4 ? true : undefined), 10_000, 'more ticks');
    expect(await mine()).toHaveLength(3);

    expect((await call('POST', '/v1/campaigns/loans-nov/stop')).status).toBe(200);
    expect(await client.workflow.getHandle(campaignWorkflowId(hub.projectId, 'loans-nov')).result()).toMatchObject({ state: 'stopped', launched: 3 });
  });

  it('retries a contact who lets it ring out, and one whose carrier fails, by the rule for that outcome, up to the maximum attempts', async () => {
    await campaign('rules', { queue: 'retries', retry: { maxAttempts: 2, rules: [{ outcome: 'no-answer', retryAfterMinutes: 11 }, { outcome: 'failed', retryAfterMinutes: 13 }] } });
    const [ringsOut, fails] = [telephony.contact('rings-out', 7001), telephony.contact('fails', 7002)];
    const added = await call('POST', '/v1/campaigns/rules/tasks', {
      tasks: [
        { externalId: 'R', phones: [ringsOut], priority: 90, timeZone: 'UTC' },
        { externalId: 'F', phones: [fails], priority: 80, timeZone: 'UTC' },
      ],
    });
    expect(added.body.accepted).toBe(2);
    const [idR, idF] = added.body.results.map((result: Json) => result.id as string) as [string, string];
    await telephony.ready('carol', 'answers');
    expect((await call('POST', '/v1/campaigns/rules/resume')).status).toBe(200);

    const tasks = () => hub.db.dialerTask.findMany({ where: { id: { in: [idR, idF] } }, orderBy: { priority: 'desc' } });
    const [r, f] = await eventually(async () => {
      const rows = await tasks();
      return rows.every((row) => row.state === 'pending' && row.attempts === 1) ? rows : undefined;
    }, 30_000, 'R and F waiting for their retries');
    expect(r).toMatchObject({ lastOutcome: 'no-answer' });
    expect(r!.nextAttemptAt.getTime() - r!.lastAttemptAt!.getTime()).toBeGreaterThanOrEqual(11 * 60_000);
    expect(f).toMatchObject({ lastOutcome: 'failed' });
    expect(f!.nextAttemptAt.getTime() - f!.lastAttemptAt!.getTime()).toBeGreaterThanOrEqual(13 * 60_000);
    // The campaign's ring timeout reached SIP: the contact's phone rang 2 s before the hub cancelled.
    const invite = (await telephony.requests('rings-out', 'INVITE')).find((received) => received.user === ringsOut.slice(1));
    const cancel = (await telephony.requests('rings-out', 'CANCEL')).find((received) => received.callId === invite?.callId);
    const rangMs = (cancel?.at.getTime() ?? 0) - (invite?.at.getTime() ?? 0);
    expect(rangMs).toBeGreaterThanOrEqual(1_900);
    expect(rangMs).toBeLessThan(6_000);

    // As if the rules' waits had passed: each is dialled once more, and that was the last attempt.
    await hub.db.dialerTask.updateMany({ where: { id: { in: [idR, idF] } }, data: { nextAttemptAt: new Date() } });
    const ended = await eventually(async () => {
      const rows = await tasks();
      return rows.every((row) => row.state === 'failed') ? rows : undefined;
    }, 30_000, 'R and F out of attempts');
    expect(ended.map((row) => [row.attempts, row.lastOutcome])).toEqual([[2, 'no-answer'], [2, 'failed']]);
    expect(ended.every((row) => row.failureReason?.startsWith('max attempts reached (2)'))).toBe(true);

    const before = await status('rules');
    await eventually(async () => ((await status('rules')).ticks >= before.ticks + 4 ? true : undefined), 10_000, 'more ticks');
    const dialled = (await telephony.calls()).map((received) => received.to).filter((to) => to === ringsOut || to === fails);
    expect(dialled).toEqual([ringsOut, fails, ringsOut, fails]);
    // carol took no call: nobody answered.
    expect((await hub.db.dialerAttempt.findMany({ where: { taskId: { in: [idR, idF] } } })).map((attempt) => attempt.agentId)).toEqual([null, null, null, null]);

    expect((await call('POST', '/v1/campaigns/rules/stop')).status).toBe(200);
    expect(await client.workflow.getHandle(campaignWorkflowId(hub.projectId, 'rules')).result()).toMatchObject({ state: 'stopped', launched: 4 });
  });

  it('hands an answered call to an agent, or abandons it by rule, in telephony while no workflow worker runs', async () => {
    await telephony.queue('handover', ['dana']);
    await telephony.queue('handover-p', ['erin']);
    await telephony.ready('dana', 'answers');
    // erin is ready but her phone rejects the offer: the predictive call finds no agent within 2 s.
    await telephony.ready('erin', 'rejects');
    await campaign('handover', { queue: 'handover', ringTimeoutSeconds: 10 });
    await campaign('handover-p', { mode: 'predictive', queue: 'handover-p', ringTimeoutSeconds: 10 });
    const [toDana, toErin] = [telephony.contact('answers-late', 9001), telephony.contact('answers-late', 9002)];
    const ids: string[] = [];
    for (const [name, phone] of [['handover', toDana], ['handover-p', toErin]] as const) {
      const added = await call('POST', `/v1/campaigns/${name}/tasks`, { tasks: [{ externalId: name, phones: [phone], timeZone: 'UTC' }] });
      expect(added.body.accepted).toBe(1);
      ids.push(added.body.results[0].id as string);
    }
    expect((await call('POST', '/v1/campaigns/handover/resume')).status).toBe(200);
    expect((await call('POST', '/v1/campaigns/handover-p/resume')).status).toBe(200);

    // Both contacts' phones ring for 3 s before they answer: the workflows' worker stops meanwhile.
    const dialled = await eventually(async () => {
      const calls = (await telephony.calls()).filter((received) => received.to === toDana || received.to === toErin);
      return calls.length === 2 ? calls : undefined;
    }, 20_000, 'both contacts rung');
    await hub.stopWorker();
    const callTo = (phone: string) => {
      const received = dialled.find((each) => each.to === phone);
      if (received === undefined) throw new Error(`${phone} was not dialled`);
      return received;
    };
    const [danaCall, erinCall] = [callTo(toDana), callTo(toErin)];
    const inDialog = async (method: string, callId: string) => (await telephony.requests('answers-late', method)).filter((received) => received.callId === callId);
    try {
      // dana's call: answered, then re-INVITEd with dana's media (bridged), no workflow task run in between.
      await eventually(async () => ((await inDialog('INVITE', danaCall.callId)).length === 2 ? true : undefined), 15_000, "dana's call bridged");
      // erin's call: answered, nobody took it, the hub hung it up (after the abandon message when it has media).
      const [bye] = await eventually(async () => {
        const byes = await inDialog('BYE', erinCall.callId);
        return byes.length > 0 ? byes : undefined;
      }, 15_000, "erin's call hung up");
      // 3 s ringing, 2 s to reach an agent, then the message (a few seconds): far from the 10 s ring timeout's end plus a stall.
      expect(bye!.at.getTime() - erinCall.at.getTime()).toBeLessThan(3_000 + 2_000 + 8_000);
      expect(await inDialog('INVITE', erinCall.callId)).toHaveLength(1);
      // Nothing was recorded while the worker was down: the outcomes wait for it.
      expect((await hub.db.dialerTask.findMany({ where: { id: { in: ids } } })).map((row) => row.state)).toEqual(['dialing', 'dialing']);
    } finally {
      await hub.startWorker();
    }

    const [dana, erin] = await eventually(async () => {
      const rows = await Promise.all(ids.map((id) => hub.db.dialerTask.findUniqueOrThrow({ where: { id } })));
      return rows.every((row) => row.state !== 'dialing') ? rows : undefined;
    }, 30_000, 'both outcomes recorded once the worker is back');
    expect(dana).toMatchObject({ state: 'done', lastOutcome: 'connected' });
    expect(erin).toMatchObject({ lastOutcome: 'abandoned' });
    const attempts = await hub.db.dialerAttempt.findMany({ where: { taskId: { in: ids } } });
    expect(attempts.find((attempt) => attempt.taskId === ids[0])?.agentId).toBe('dana');
    for (const name of ['handover', 'handover-p']) expect((await call('POST', `/v1/campaigns/${name}/stop`)).status).toBe(200);
  });
});
