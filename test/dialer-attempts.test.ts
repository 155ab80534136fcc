// Claiming due dialer tasks and applying attempt outcomes against real PostgreSQL: windows checked
// at the moment of the claim (times chosen relative to now through the contacts' zones), no task
// claimed twice by concurrent claimers, pacing limits, an outcome applied once, retry rules written
// to the task, leases that run out.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DialerAttempts } from '../telephony/dialer/attempts.js';
import { campaignConfigSchema } from '../telephony/dialer/campaign-config.js';
import { loadPacerState, pacerSettingsFor } from '../telephony/dialer/pacer-state.js';
import { localTime, nextDialableAt } from '../telephony/dialer/windows.js';
import { startTestHub, type TestHub, type Json } from './support/hub.js';

let hub: TestHub;
let attempts: DialerAttempts;

function call(method: string, path: string, json?: unknown) {
  return hub.call(method, path, json);
}

const allDays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
/** 10:00-16:00 every day, contact's local time. */
const dayWindow = [{ days: allDays, from: '10:00', to: '16:00' }];

/** A fixed-offset zone whose local time now is between `fromHour` and `toHour`. */
function zoneWhereLocalHourIn(fromHour: number, toHour: number): string {
  for (let offset = -12; offset <= 14; offset += 1) {
    const zone = offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
    const minutes = localTime(new Date(), zone).minutes;
    if (minutes >= fromHour * 60 && minutes < toHour * 60) return zone;
  }
  throw new Error(`no zone has local time between ${fromHour}:00 and ${toHour}:00 now`);
}

async function campaign(name: string, config: Json = {}): Promise<string> {
  const put = await call('PUT', `/v1/campaigns/${name}`, { mode: 'progressive', trunks: ['main'], callerId: '+1 415 555 0100', queue: 'loans', ...config });
  expect(put.status).toBe(201);
  expect((await call('POST', `/v1/campaigns/${name}/resume`)).status).toBe(200);
  return put.body.id as string;
}

async function addTasks(name: string, tasks: Json[]): Promise<string[]> {
  const added = await call('POST', `/v1/campaigns/${name}/tasks`, { tasks });
  expect(added.status).toBe(200);
  expect(added.body.rejected).toBe(0);
  return added.body.results.map((result: Json) => result.id as string);
}

async function task(id: string) {
  return hub.db.dialerTask.findUniqueOrThrow({ where: { id } });
}

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  // No Temporal delivery here: these tests look at the rows themselves.
  await hub.dispatcher.stop();
  attempts = new DialerAttempts(hub.db);
  expect((await call('PUT', '/v1/telephony/trunks/main', { kind: 'carrier', host: '127.0.0.1:5099', auth: { mode: 'ip' }, routes: [{ prefix: '', pricePerMinute: '0.01' }] })).status).toBe(201);
  expect((await call('PUT', '/v1/telephony/queues/loans', { agents: ['alice', 'bob'] })).status).toBe(201);
});
afterAll(async () => {
  await hub?.close();
});

describe('claiming due tasks', () => {
  it('never claims a task outside its dialing window; moves it to the window start without counting an attempt', async () => {
    const campaignId = await campaign('windows', { dialingWindows: dayWindow });
    const inside = zoneWhereLocalHourIn(11, 15);
    const outside = zoneWhereLocalHourIn(0, 6);
    const [insideId, outsideId] = await addTasks('windows', [
      { externalId: 'in', phones: ['+14155550001'], timeZone: inside },
      { externalId: 'out', phones: ['+14155550002'], timeZone: outside, priority: 100 },
    ]);
    const before = new Date();
    const claim = await attempts.claim({ campaignId, readyAgents: 10, leaseMs: 60_000 });
    expect(claim.campaignState).toBe('active');
    expect(claim.claimed.map((claimed) => claimed.taskId)).toEqual([insideId]);
    expect(claim.claimed[0]).toMatchObject({ attempt: 1, phone: '+14155550001' });
    expect(claim.deferred).toBe(1);

    const deferred = await task(outsideId as string);
    expect(deferred).toMatchObject({ state: 'pending', attempts: 0, attemptId: null });
    const expected = nextDialableAt(before, { contactZones: [outside], dialingWindows: [{ days: allDays as never, from: 600, to: 960 }] }) as Date;
    expect(Math.abs(deferred.nextAttemptAt.getTime() - expected.getTime())).toBeLessThanOrEqual(60_000);
    expect(localTime(deferred.nextAttemptAt, outside).minutes).toBe(600);
    expect(deferred.nextAttemptAt.getTime()).toBeGreaterThan(before.getTime() + 3_600_000);

    const dialing = await task(insideId as string);
    expect(dialing).toMatchObject({ state: 'dialing', attempts: 1, attemptId: claim.claimed[0]?.attemptId });
    // Claimed already: another claim does not return it again, and the deferred one is not due.
    expect((await attempts.claim({ campaignId, readyAgents: 10, leaseMs: 60_000 })).claimed).toEqual([]);
  });

  it('never claims the same task twice under concurrent claimers', async () => {
    const campaignId = await campaign('concurrent', { dialingWindows: [{ days: allDays, from: '00:00', to: '24:00' }] });
    const ids = await addTasks('concurrent', Array.from({ length: 60 }, (_, index) => ({ externalId: `c-${index}`, phones: [`+1415555${String(1000 + index)}`], timeZone: 'UTC' })));
    const claims = await Promise.all(Array.from({ length: 6 }, () => attempts.claim({ campaignId, readyAgents: 1_000, maxLaunches: 15, leaseMs: 60_000 })));
    const claimed = claims.flatMap((claim) => claim.claimed.map((one) => one.taskId));
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.length).toBe(60);
    expect(new Set(claimed)).toEqual(new Set(ids));
    const rows = await hub.db.dialerTask.findMany({ where: { campaignId } });
    expect(rows.every((row) => row.state === 'dialing' && row.attempts === 1)).toBe(true);
  });

  it('a claim repeated under its key (its worker died before the launches were recorded) returns what it took and takes nothing more', async () => {
    const campaignId = await campaign('repeated', { dialingWindows: [{ days: allDays, from: '00:00', to: '24:00' }] });
    await addTasks('repeated', Array.from({ length: 6 }, (_, index) => ({ externalId: `r-${index}`, phones: [`+1415555${String(3000 + index)}`], timeZone: 'UTC' })));
    const first = await attempts.claim({ campaignId, readyAgents: 2, leaseMs: 60_000, claimKey: 'run-1/7' });
    expect(first.claimed).toHaveLength(2);
    const again = await attempts.claim({ campaignId, readyAgents: 5, leaseMs: 60_000, claimKey: 'run-1/7' });
    const byAttempt = (a: { attemptId: string }, b: { attemptId: string }) => a.attemptId.localeCompare(b.attemptId);
    expect([...again.claimed].sort(byAttempt)).toEqual([...first.claimed].sort(byAttempt));
    expect(again.dialing).toBe(2);
    const rows = await hub.db.dialerTask.findMany({ where: { campaignId, state: 'dialing' } });
    expect(rows.map((row) => row.attempts)).toEqual([1, 1]);
    expect(await hub.db.dialerAttempt.count({ where: { campaignId } })).toBe(2);
    // The next tick's key claims anew; an attempt that already ended is not handed out again.
    await attempts.recordOutcome({ taskId: first.claimed[0]!.taskId, attemptId: first.claimed[0]!.attemptId, outcome: 'busy', endedAt: new Date() });
    expect((await attempts.claim({ campaignId, readyAgents: 5, leaseMs: 60_000, claimKey: 'run-1/7' })).claimed.map((one) => one.attemptId)).toEqual([first.claimed[1]!.attemptId]);
    const next = await attempts.claim({ campaignId, readyAgents: 5, leaseMs: 60_000, claimKey: 'run-1/8' });
    expect(next.claimed).toHaveLength(4);
    expect(next.claimed.map((one) => one.taskId)).not.toContain(first.claimed[1]!.taskId);
  });

  it("rings for the campaign's own ring timeout and decides at its own interval when it sets them, else the hub's; refuses a ring timeout out of range", async () => {
    const own = await campaign('ring-own', { dialingWindows: [{ days: allDays, from: '00:00', to: '24:00' }], ringTimeoutSeconds: 40, decisionIntervalSeconds: 1 });
    const hubs = await campaign('ring-hub', { dialingWindows: [{ days: allDays, from: '00:00', to: '24:00' }] });
    expect(await attempts.claim({ campaignId: own, readyAgents: 0, leaseMs: 60_000, ringTimeoutMs: 25_000 })).toMatchObject({ ringTimeoutMs: 40_000, decisionIntervalMs: 1_000 });
    const hubClaim = await attempts.claim({ campaignId: hubs, readyAgents: 0, leaseMs: 60_000, ringTimeoutMs: 20_000 });
    expect(hubClaim).toMatchObject({ ringTimeoutMs: 20_000 });
    expect(hubClaim.decisionIntervalMs).toBeUndefined();
    const bad = await call('PUT', '/v1/campaigns/ring-bad', { mode: 'progressive', trunks: ['main'], callerId: '+1 415 555 0100', queue: 'loans', ringTimeoutSeconds: 2 });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((error: Json) => error.field)).toEqual(['ringTimeoutSeconds']);
  });

  it('launches one call per ready agent without a call in flight, within the CRM write budget, and nothing while paused', async () => {
    const campaignId = await campaign('pacing', { dialingWindows: [{ days: allDays, from: '00:00', to: '24:00' }], crmWritesPerMinute: 5 });
    await addTasks('pacing', Array.from({ length: 10 }, (_, index) => ({ externalId: `p-${index}`, phones: [`+1415555${String(2000 + index)}`], timeZone: 'UTC' })));
    expect((await attempts.claim({ campaignId, readyAgents: 3, leaseMs: 60_000 })).claimed).toHaveLength(3);
    // Three calls in flight: three more ready agents are needed before the next launch.
    const second = await attempts.claim({ campaignId, readyAgents: 4, leaseMs: 60_000 });
    expect(second).toMatchObject({ dialing: 4, limit: 1 });
    // Budget 5: four dialing count as answered, so one more at most.
    const third = await attempts.claim({ campaignId, readyAgents: 20, leaseMs: 60_000 });
    expect(third.claimed).toHaveLength(1);
    expect(third.dialing).toBe(5);
    expect((await call('POST', '/v1/campaigns/pacing/pause')).status).toBe(200);
    const paused = await attempts.claim({ campaignId, readyAgents: 20, leaseMs: 60_000 });
    expect(paused).toMatchObject({ campaignState: 'paused', claimed: [], limit: 0 });
  });
});

describe('predictive pacing', () => {
  const ready = (count: number) => Array.from({ length: count }, (_, index) => ({ id: `agent-${index}`, status: 'ready' as const, registered: true, offerable: true, idleSeconds: 30 }));

  /** A campaign's history as the attempts and their CDRs leave it: `answered` of `total` answered after 8 s, talks of 90 s. */
  async function seedHistory(campaignId: string, answered: number, total: number): Promise<void> {
    const now = Date.now();
    for (let index = 0; index < total; index += 1) {
      const id = randomUUID();
      const launched = new Date(now - 3_600_000 + index * 10_000);
      const isAnswered = index % Math.round(total / answered) === 0 && index / Math.round(total / answered) < answered;
      const ended = new Date(launched.getTime() + (isAnswered ? 8_000 : 25_000));
      await hub.db.$executeRaw`
        INSERT INTO dialer_attempts (id, campaign_id, task_id, attempt, phone, launched_at, ended_at, outcome, agent_id)
        VALUES (${id}::uuid, ${campaignId}::uuid, ${randomUUID()}::uuid, 1, '+14155550000', ${launched}, ${ended}, ${isAnswered ? 'connected' : 'no-answer'}, ${isAnswered ? 'agent-0' : null})`;
      if (!isAnswered) continue;
      const callEnded = new Date(ended.getTime() + 90_000);
      await hub.db.$executeRaw`
        INSERT INTO call_detail_records (id, project_id, call_id, attempt, direction, trunk_name, route_prefix, from_number, to_number, outcome,
          started_at, answered_at, ended_at, duration_ms, billable_seconds, billing_increment, price_per_minute, cost, currency)
        VALUES (${randomUUID()}::uuid, ${hub.projectId}::uuid, ${`dial-${id}`}, 1, 'outbound', 'main', '', '+14155550100', '+14155550000', 'answered:normal',
          ${launched}, ${ended}, ${callEnded}, 98000, 90, '1/1', 0.01, 0.015, 'USD')`;
    }
  }

  it('launches one call per ready agent while the pacer has too few samples', async () => {
    const campaignId = await campaign('predictive-new', { mode: 'predictive', dialingWindows: [{ days: allDays, from: '00:00', to: '24:00' }] });
    await addTasks('predictive-new', Array.from({ length: 10 }, (_, index) => ({ externalId: `n-${index}`, phones: [`+1415555${String(5000 + index)}`], timeZone: 'UTC' })));
    const claim = await attempts.claim({ campaignId, readyAgents: 3, agents: ready(3), ringTimeoutMs: 25_000, leaseMs: 60_000 });
    expect(claim.pacer).toMatchObject({ mode: 'progressive', reason: expect.stringContaining('few samples') });
    expect(claim.claimed).toHaveLength(3);
    expect(await hub.db.dialerAttempt.count({ where: { campaignId, endedAt: null } })).toBe(3);
  });

  it('dials ahead of the ready agents from the campaign\'s history, and within the CRM write budget', async () => {
    const campaignId = await campaign('predictive-old', { mode: 'predictive', dialingWindows: [{ days: allDays, from: '00:00', to: '24:00' }] });
    await addTasks('predictive-old', Array.from({ length: 40 }, (_, index) => ({ externalId: `o-${index}`, phones: [`+1415555${String(6000 + index)}`], timeZone: 'UTC' })));
    // One call in four answered: 60 of 240, each talked 90 s.
    await seedHistory(campaignId, 60, 240);
    const claim = await attempts.claim({ campaignId, readyAgents: 5, agents: ready(5), ringTimeoutMs: 25_000, leaseMs: 60_000 });
    expect(claim.pacer).toMatchObject({ mode: 'predictive' });
    expect(claim.pacer?.figures.answerRate).toBeGreaterThan(0.15);
    expect(claim.pacer?.figures.answerRate).toBeLessThan(0.35);
    // More calls than ready agents, never more than 3 lines per agent.
    expect(claim.claimed.length).toBeGreaterThan(5);
    expect(claim.claimed.length).toBeLessThanOrEqual(15);
    expect(claim.figures?.calls).toMatchObject({ launched: claim.claimed.length, ahead: claim.claimed.length - 5 });

    const budgeted = await campaign('predictive-budget', { mode: 'predictive', dialingWindows: [{ days: allDays, from: '00:00', to: '24:00' }], crmWritesPerMinute: 4 });
    await addTasks('predictive-budget', Array.from({ length: 20 }, (_, index) => ({ externalId: `b-${index}`, phones: [`+1415555${String(7000 + index)}`], timeZone: 'UTC' })));
    await seedHistory(budgeted, 60, 240);
    const capped = await attempts.claim({ campaignId: budgeted, readyAgents: 5, agents: ready(5), ringTimeoutMs: 25_000, leaseMs: 60_000 });
    expect(capped.claimed.length).toBeGreaterThan(0);
    expect(capped.claimed.length).toBeLessThanOrEqual(4);
  });
});

describe('live pacer inputs and figures', () => {
  const always = [{ days: allDays, from: '00:00', to: '24:00' }];

  it('sees an answered call as waiting (until connectSeconds), a call an agent rings for with that agent, and serves the stored figures', async () => {
    const campaignId = await campaign('live-inputs', { mode: 'predictive', dialingWindows: always, pacing: { connectSeconds: 2 } });
    await addTasks('live-inputs', Array.from({ length: 4 }, (_, index) => ({ externalId: `l-${index}`, phones: [`+1415555${String(8000 + index)}`], timeZone: 'UTC' })));
    const before = await call('GET', '/v1/campaigns/live-inputs/figures');
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ name: 'live-inputs', state: 'active', at: null, figures: null });

    const agents = (status: 'ready' | 'ringing', count: number, callId?: string) =>
      Array.from({ length: count }, (_, index) => ({ id: `${status}-${index}`, status, registered: true, offerable: status === 'ready', ...(status === 'ready' ? { idleSeconds: 5 } : {}), ...(callId ? { callId } : {}) }));
    const claim = await attempts.claim({ campaignId, readyAgents: 4, agents: agents('ready', 4), ringTimeoutMs: 25_000, leaseMs: 60_000 });
    expect(claim).toMatchObject({ connectSeconds: 2, figures: { dialLevel: 1, calls: { ringing: 0, waiting: 0, launched: 4, ahead: 0 }, agents: { loggedIn: 4, ready: 4 } } });
    const [waiting, abandoning, matched] = claim.claimed.map((claimed) => claimed.attemptId) as [string, string, string, string];
    const now = Date.now();
    await attempts.markAnswered(waiting, new Date(now - 500));
    // Past connectSeconds: abandoned by rule, the contact is hearing the message; no agent is needed for it.
    await attempts.markAnswered(abandoning, new Date(now - 3_000));
    await attempts.markAnswered(matched, new Date(now - 1_000));
    // Recorded once: a repeated mark does not move the answer.
    await attempts.markAnswered(waiting, new Date(now - 10_000));

    const config = campaignConfigSchema.parse((await hub.db.campaign.findUniqueOrThrow({ where: { id: campaignId } })).config);
    const state = await hub.db.$transaction((tx) => loadPacerState(tx, {
      campaignId, config, now: new Date(), ringTimeoutMs: 25_000, wrapUpSeconds: 0,
      agents: [...agents('ringing', 1, `dial-${matched}`), ...agents('ready', 1)],
    }));
    expect(state.ringingSeconds).toHaveLength(1);
    expect(state.waitingSeconds).toHaveLength(1);
    expect(state.waitingSeconds[0]).toBeGreaterThanOrEqual(0.4);
    expect(state.waitingSeconds[0]).toBeLessThan(1.9);
    expect(state.settings).toMatchObject({ connectSeconds: 2, minResolvedCalls: 40, maxLinesPerAgent: 3 });

    const figures = await call('GET', '/v1/campaigns/live-inputs/figures');
    expect(figures.status).toBe(200);
    expect(figures.body).toMatchObject({ figures: { dialLevel: 1, abandonRate: 0, occupancy: 0, calls: { launched: 4 }, pacing: expect.stringContaining('progressive') } });
    expect(Date.parse(figures.body.at as string)).toBeGreaterThan(now - 60_000);
    expect((await call('GET', '/v1/campaigns/no-such/figures')).status).toBe(404);
  });

  it('counts how long agents have talked and wrapped up; agents on a break or without a phone are no supply', async () => {
    const campaignId = await campaign('supply', { mode: 'predictive', dialingWindows: always });
    const config = campaignConfigSchema.parse((await hub.db.campaign.findUniqueOrThrow({ where: { id: campaignId } })).config);
    const state = await hub.db.$transaction((tx) => loadPacerState(tx, {
      campaignId, config, now: new Date(), ringTimeoutMs: 25_000, wrapUpSeconds: 10,
      agents: [
        { id: 'ready', status: 'ready', registered: true, offerable: true, idleSeconds: 7, statusSeconds: 7 },
        // An inbound call, not the campaign's: the roster's time in status still says how long.
        { id: 'talking', status: 'busy', registered: true, offerable: false, statusSeconds: 95, callId: 'inbound-1' },
        { id: 'wrapping', status: 'wrap-up', registered: true, offerable: false, statusSeconds: 6 },
        { id: 'offered', status: 'ringing', registered: true, offerable: false, statusSeconds: 3, callId: 'inbound-2' },
        { id: 'on-break', status: 'not-ready', registered: true, offerable: false, statusSeconds: 600 },
        { id: 'no-phone', status: 'ready', registered: false, offerable: false, statusSeconds: 30 },
        { id: 'gone', status: 'logged-out', registered: false, offerable: false, statusSeconds: 3_600 },
      ],
    }));
    expect(state.agents).toEqual([
      { activity: 'ready', elapsedSeconds: 7 },
      { activity: 'talking', elapsedSeconds: 95 },
      { activity: 'wrapup', elapsedSeconds: 6 },
      { activity: 'talking', elapsedSeconds: 0 },
    ]);
  });

  it('reads the abandon rule and learning minimums from the campaign, and names a bad one', async () => {
    const bad = await call('PUT', '/v1/campaigns/bad-pacing', { mode: 'predictive', trunks: ['main'], callerId: '+1 415 555 0100', queue: 'loans', pacing: { connectSeconds: 0.5, minSamples: 2 } });
    expect(bad.status).toBe(422);
    const fields = (bad.body.errors as { field: string }[]).map((error) => error.field);
    expect(fields).toEqual(expect.arrayContaining(['pacing.connectSeconds', 'pacing.minSamples']));
    const config = campaignConfigSchema.parse({ mode: 'predictive', trunks: ['main'], callerId: '+14155550100', queue: 'loans', pacing: { connectSeconds: 3, minSamples: 8, maxLinesPerAgent: 2 } });
    expect(pacerSettingsFor(config, 6_000)).toMatchObject({ connectSeconds: 3, noAnswerTimeoutSeconds: 6, minResolvedCalls: 8, minHandledCalls: 8, minAnsweredCalls: 2, maxLinesPerAgent: 2 });
  });
});

describe('attempt outcomes', () => {
  it('applies a redelivered outcome once and writes the retry rule to the task', async () => {
    const campaignId = await campaign('outcomes', {
      dialingWindows: [{ days: allDays, from: '00:00', to: '24:00' }],
      retry: { maxAttempts: 3, rules: [{ outcome: 'busy', retryAfterMinutes: 7 }, { outcome: 'no-answer', retryAfterMinutes: null }] },
    });
    const [busyId, silentId, reachedId] = await addTasks('outcomes', [
      { externalId: 'busy', phones: ['+14155553001'], timeZone: 'UTC' },
      { externalId: 'silent', phones: ['+14155553002'], timeZone: 'UTC' },
      { externalId: 'reached', phones: ['+14155553003'], timeZone: 'UTC' },
    ]);
    const claim = await attempts.claim({ campaignId, readyAgents: 3, leaseMs: 60_000 });
    const attemptOf = (taskId: string | undefined) => claim.claimed.find((claimed) => claimed.taskId === taskId)?.attemptId as string;
    const endedAt = new Date();

    const busy = { taskId: busyId as string, attemptId: attemptOf(busyId), outcome: 'busy' as const, endedAt, callId: 'call-busy' };
    const first = await attempts.recordOutcome(busy);
    expect(first).toMatchObject({ applied: true, state: 'pending' });
    const again = await attempts.recordOutcome({ ...busy, endedAt: new Date(endedAt.getTime() + 5_000) });
    expect(again.applied).toBe(false);
    const busyRow = await task(busyId as string);
    expect(busyRow).toMatchObject({ state: 'pending', attempts: 1, lastOutcome: 'busy', attemptId: null });
    // Rule 0: busy -> 7 minutes (rounded up to the whole minute by the window check).
    const delay = busyRow.nextAttemptAt.getTime() - endedAt.getTime();
    expect(delay).toBeGreaterThanOrEqual(7 * 60_000);
    expect(delay).toBeLessThan(8 * 60_000);

    expect(await attempts.recordOutcome({ taskId: silentId as string, attemptId: attemptOf(silentId), outcome: 'no-answer', endedAt })).toMatchObject({ applied: true, state: 'failed' });
    expect(await task(silentId as string)).toMatchObject({ state: 'failed', lastOutcome: 'no-answer', failureReason: expect.stringContaining('retry rule 1') });

    expect(await attempts.recordOutcome({ taskId: reachedId as string, attemptId: attemptOf(reachedId), outcome: 'connected', endedAt, agentId: 'alice' })).toEqual({ applied: true, state: 'done' });
    expect(await attempts.recordOutcome({ taskId: reachedId as string, attemptId: attemptOf(reachedId), outcome: 'busy', endedAt })).toMatchObject({ applied: false });
    expect(await task(reachedId as string)).toMatchObject({ state: 'done', lastOutcome: 'connected' });

    // One journey notice per applied outcome, none for the repeats.
    const rows = await hub.db.outboxEntry.findMany({ where: { kind: 'journey.dialer-outcome' } });
    const mine = rows.filter((row) => [busyId, silentId, reachedId].includes((row.payload as Json).event.taskId));
    expect(mine).toHaveLength(3);
    const busyNotice = mine.find((row) => (row.payload as Json).event.taskId === busyId);
    expect(busyNotice?.workflowId).toBe(`journey/${hub.projectId}/+14155553001`);
    expect((busyNotice?.payload as Json).event).toMatchObject({ campaign: 'outcomes', outcome: 'busy', attempt: 1, next: { state: 'pending', retryAt: busyRow.nextAttemptAt.toISOString() } });
  });

  it('returns a task whose lease ran out to pending after the retry delay; the late outcome changes nothing', async () => {
    const campaignId = await campaign('leases', { dialingWindows: [{ days: allDays, from: '00:00', to: '24:00' }], retry: { maxAttempts: 5, rules: [{ outcome: 'failed', retryAfterMinutes: 20 }] } });
    const [taskId] = await addTasks('leases', [{ externalId: 'lost', phones: ['+14155554001', '+14155554002'], timeZone: 'UTC' }]);
    const first = await attempts.claim({ campaignId, readyAgents: 1, leaseMs: 200 });
    expect(first.claimed).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const later = await attempts.claim({ campaignId, readyAgents: 1, leaseMs: 60_000 });
    expect(later.expired).toBe(1);
    // Not dialled again at once: the retry delay for "failed" applies.
    expect(later.claimed).toEqual([]);
    const row = await task(taskId as string);
    expect(row).toMatchObject({ state: 'pending', attempts: 1, lastOutcome: 'failed', attemptId: null });
    expect(row.nextAttemptAt.getTime() - Date.now()).toBeGreaterThan(19 * 60_000);
    expect(await hub.db.dialerAttempt.findUnique({ where: { id: first.claimed[0]?.attemptId as string } })).toMatchObject({ outcome: 'lost', taskId });
    const late = await attempts.recordOutcome({ taskId: taskId as string, attemptId: first.claimed[0]?.attemptId as string, outcome: 'connected', endedAt: new Date() });
    expect(late.applied).toBe(false);
    expect((await task(taskId as string)).state).toBe('pending');

    // When due again, the second attempt dials the second number.
    await hub.db.dialerTask.update({ where: { id: taskId as string }, data: { nextAttemptAt: new Date(Date.now() - 1000) } });
    const second = await attempts.claim({ campaignId, readyAgents: 1, leaseMs: 60_000 });
    expect(second.claimed[0]).toMatchObject({ taskId, attempt: 2, phone: '+14155554002' });
  });
});
