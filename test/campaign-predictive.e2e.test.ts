// A predictive campaign over real SIP, nothing faked: the telephony process as `npm start` runs it
// (drachtio-server stand-in, embedded rtpengine for the abandon message), a SIPp carrier whose
// contacts answer at random after a random ring, are busy or ring out (carrier-random-outcome.xml),
// and SIPp agent phones that answer at once and hang up after a short talk. A fourth agent is at a
// phone that rings and nobody picks up: ready first (the longest idle), he is offered the first
// answered call, which finds no agent within the 2 s of the abandon rule; then he is set not-ready.
//
// Checked: every task reaches an outcome exactly once (one attempt each, one outcome on its way to
// each contact's journey), answered calls reached the answering agents, abandoned ones were hung up
// by the hub 2 s after the answer plus the message (which played), the abandon rate counts them,
// the pacer launched beyond one call per ready agent (it really ran predictive), and no
// number was dialled twice within its retry interval.
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextLoopbackAddress, startSipp, type SippPeer } from '../telephony/testing/sipp.js';
import { campaignStatusQuery, campaignWorkflowId, dialAttemptWorkflowId } from '../workflows/campaigns/shared.js';
import type { dialAttempt } from '../workflows/campaigns/workflows.js';
import { journeyStateQuery, journeyWorkflowId } from '../workflows/journey/shared.js';
import { eventually, type TestHub } from './support/hub.js';
import { startTelephonySuite, type TelephonyProcess, type TelephonySuite } from './support/telephony-process.js';

const TASKS = 30;
const RING_TIMEOUT_MS = 5_000;
const CONNECT_SECONDS = 2;

let hub: TestHub;
let telephony: TelephonyProcess | undefined;
let suite: TelephonySuite;
let client: Client;
let peers: SippPeer[] = [];

beforeAll(async () => {
  suite = await startTelephonySuite('predictive', { idleTimeoutMs: 120_000, campaign: { tickMs: 500, ringTimeoutMs: RING_TIMEOUT_MS } });
  ({ hub, client, peers } = suite);
});

afterAll(async () => {
  await suite?.close();
});

describe('a predictive campaign over SIP', () => {
  it('paces ahead of the agents, connects answered calls, abandons with the message after 2 s, and resolves every task once', async () => {
    telephony = await suite.startTelephony();
    const health = await telephony.healthy<{ media?: string }>();
    expect(health.media ?? '').not.toMatch(/unavailable/);

    const carrier = await startSipp({ scenario: 'carrier-random-outcome', address: nextLoopbackAddress(), calls: 10_000, timeoutSeconds: 120 });
    peers.push(carrier);
    const answering = ['ann', 'bob', 'cy'];
    const phones = new Map<string, SippPeer>();
    for (const agent of answering) {
      const phone = await startSipp({ scenario: 'agent-answers-talks', address: nextLoopbackAddress(), service: agent, calls: 10_000, timeoutSeconds: 120 });
      peers.push(phone);
      phones.set(agent, phone);
    }
    // Dan's phone rings and nobody picks up.
    const away = await startSipp({ scenario: 'carrier-no-answer', address: nextLoopbackAddress(), service: 'dan', calls: 10_000, timeoutSeconds: 120 });
    peers.push(away);
    phones.set('dan', away);

    const trunk = { kind: 'carrier', host: carrier.hostport, auth: { mode: 'ip' }, currency: 'EUR', routes: [{ prefix: '1', pricePerMinute: '0.010', billingIncrement: '1/1' }] };
    expect((await hub.call('PUT', '/v1/telephony/trunks/out', trunk)).status).toBe(201);
    const queue = { agents: [...answering, 'dan'], ringTimeoutMs: 5_000, maxWaitMs: 20_000, wrapUpMs: 300, preferredAgentWindowMs: 0 };
    expect((await hub.call('PUT', '/v1/telephony/queues/sales', queue)).status).toBe(201);
    await telephony.healthy<{ trunks: number; queues: number }>((body) => body.trunks === 1 && body.queues === 1, 15_000, 'the trunk and queue to reach the call center');
    // Dan first: the longest idle, he is offered the first answered call, which is abandoned for sure.
    for (const agent of ['dan', ...answering]) {
      const phone = phones.get(agent) as SippPeer;
      const ready = await telephony.control(`/projects/${hub.projectId}/agents/${agent}`, { method: 'PUT', json: { status: 'ready', contact: phone.uri } });
      expect(ready.status).toBe(200);
    }

    const always = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }];
    const campaign = {
      mode: 'predictive', trunks: ['out'], callerId: '+14155550100', queue: 'sales', dialingWindows: always,
      // Learn from a handful of calls: the run is short.
      pacing: { connectSeconds: CONNECT_SECONDS, minSamples: 5 },
      retry: { maxAttempts: 3, rules: [{ outcome: 'any', retryAfterMinutes: 10 }] },
    };
    expect((await hub.call('PUT', '/v1/campaigns/predictive', campaign)).status).toBe(201);
    const numbers = Array.from({ length: TASKS }, (_, index) => `+1415555${String(7100 + index)}`);
    const added = await hub.call('POST', '/v1/campaigns/predictive/tasks', { tasks: numbers.map((phone, index) => ({ externalId: `P-${index}`, phones: [phone], timeZone: 'UTC' })) });
    expect(added.body.accepted).toBe(TASKS);
    const { id: campaignId } = (await hub.call('POST', '/v1/campaigns/predictive/resume')).body as { id: string };

    // Dan stays ready until the first call abandoned on his account; then he is set not-ready.
    const maxDialLevel = { value: 0, predictive: false };
    const started = Date.now();
    let danAway = false;
    await eventually(async () => {
      const figures = (await hub.call('GET', '/v1/campaigns/predictive/figures')).body as { figures: { dialLevel: number; pacing: string } | null };
      if (figures.figures) {
        maxDialLevel.value = Math.max(maxDialLevel.value, figures.figures.dialLevel);
        if (figures.figures.pacing.startsWith('predictive: model')) maxDialLevel.predictive = true;
      }
      if (!danAway && (await hub.db.dialerAttempt.count({ where: { campaignId, outcome: 'abandoned' } })) > 0) {
        danAway = true;
        await telephony?.control(`/projects/${hub.projectId}/agents/dan`, { method: 'PUT', json: { status: 'not-ready', reason: 'away from the desk' } });
      }
      const open = await hub.db.dialerTask.count({ where: { campaignId, OR: [{ attempts: 0 }, { state: 'dialing' }] } });
      return open === 0 ? true : undefined;
    }, 90_000, 'every task attempted and resolved');
    const elapsedMs = Date.now() - started;

    // Every task: exactly one attempt, with exactly one outcome, and nothing dialled again (retry in 10 minutes).
    const attempts = await hub.db.dialerAttempt.findMany({ where: { campaignId }, orderBy: { launchedAt: 'asc' } });
    expect(attempts).toHaveLength(TASKS);
    expect(new Set(attempts.map((attempt) => attempt.taskId)).size).toBe(TASKS);
    expect(new Set(attempts.map((attempt) => attempt.phone))).toEqual(new Set(numbers));
    expect(attempts.every((attempt) => attempt.outcome !== null && attempt.endedAt !== null)).toBe(true);
    const tasks = await hub.db.dialerTask.findMany({ where: { campaignId } });
    expect(tasks.every((task) => task.attempts === 1 && (task.state === 'done' || (task.state === 'pending' && task.nextAttemptAt.getTime() - Date.now() > 8 * 60_000)))).toBe(true);
    const byOutcome = (outcome: string) => attempts.filter((attempt) => attempt.outcome === outcome);
    const connected = byOutcome('connected');
    const abandoned = byOutcome('abandoned');
    expect(connected.length).toBeGreaterThan(0);
    expect(abandoned.length).toBeGreaterThan(0);
    expect(byOutcome('lost')).toHaveLength(0);
    expect(connected.length + abandoned.length + byOutcome('busy').length + byOutcome('no-answer').length).toBe(TASKS);

    // Answered calls reached the agents who answer; each was answered before it ended.
    expect(connected.every((attempt) => attempt.agentId !== null && answering.includes(attempt.agentId) && attempt.answeredAt !== null)).toBe(true);

    // Abandoned: answered, and hung up by the hub after connectSeconds plus the message, which played.
    const cdrs = await hub.db.callDetailRecord.findMany({ where: { callId: { in: abandoned.map((attempt) => `dial-${attempt.id}`) }, answeredAt: { not: null } } });
    expect(cdrs).toHaveLength(abandoned.length);
    for (const cdr of cdrs) {
      const heldMs = (cdr.endedAt as Date).getTime() - (cdr.answeredAt as Date).getTime();
      expect(heldMs).toBeGreaterThanOrEqual(CONNECT_SECONDS * 1000 - 200);
      // 2 s, a message of about 3 s, and slack for a loaded machine.
      expect(heldMs).toBeLessThan(CONNECT_SECONDS * 1000 + 9_000);
    }
    for (const attempt of abandoned) {
      const result = await client.workflow.getHandle<typeof dialAttempt>(dialAttemptWorkflowId(hub.projectId, attempt.id)).result();
      expect(result).toMatchObject({ outcome: 'abandoned', applied: true, abandonMessage: 'played' });
    }
    // The window's abandon rate counts them (figures of a tick after the last outcome).
    const lastEnded = Math.max(...attempts.map((attempt) => (attempt.endedAt as Date).getTime()));
    const figures = await eventually(async () => {
      const body = (await hub.call('GET', '/v1/campaigns/predictive/figures')).body as { at: string; figures: { abandonRate: number; window: { answered: number; abandoned: number } } };
      return Date.parse(body.at) > lastEnded ? body : undefined;
    }, 10_000, 'the figures of a tick after the last outcome');
    expect(figures.figures.window).toEqual({ answered: connected.length + abandoned.length, abandoned: abandoned.length });
    expect(figures.figures.abandonRate).toBeCloseTo(abandoned.length / (connected.length + abandoned.length), 5);

    // The pacer ran predictive: its model decided, and it launched calls beyond one per ready agent.
    const status = await client.workflow.getHandle(campaignWorkflowId(hub.projectId, 'predictive')).query(campaignStatusQuery);
    const inFlightAt = (at: number) => attempts.filter((attempt) => attempt.launchedAt.getTime() <= at && (attempt.endedAt as Date).getTime() > at).length;
    const mostInFlight = Math.max(...attempts.map((attempt) => inFlightAt(attempt.launchedAt.getTime())));
    console.info(JSON.stringify({ elapsedMs, outcomes: Object.fromEntries(['connected', 'abandoned', 'busy', 'no-answer'].map((outcome) => [outcome, byOutcome(outcome).length])), launchedAhead: status.launchedAhead, mostInFlight, maxDialLevel }));
    // Launches beyond one per ready agent without a call in flight happen only when the model decides.
    expect(status.launchedAhead).toBeGreaterThan(0);

    // Every outcome reached the contact's journey, once per task.
    const journeys = await eventually(async () => {
      const states = await Promise.all(attempts.map((attempt) => client.workflow.getHandle(journeyWorkflowId(hub.projectId, attempt.phone)).query(journeyStateQuery).catch(() => undefined)));
      return states.every((state) => state?.dialerOutcomes?.length) ? states : undefined;
    }, 30_000, 'every outcome on its contact\'s journey');
    journeys.forEach((state, index) => {
      const attempt = attempts[index]!;
      expect(state?.dialerOutcomes).toHaveLength(1);
      expect(state?.dialerOutcomes?.[0]).toMatchObject({ campaign: 'predictive', taskId: attempt.taskId, attemptId: attempt.id, outcome: attempt.outcome });
    });

    expect((await hub.call('POST', '/v1/campaigns/predictive/stop')).status).toBe(200);
  }, 180_000);
});
