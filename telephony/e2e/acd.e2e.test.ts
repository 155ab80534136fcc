// Inbound calls to agents over real SIP: a SIPp caller into the hub, the CallCenter answers and
// queues it, the ACD rings SIPp agents through the drachtio-srf adapter. Absent agents' phones are
// real SIPp UAS too, listening and willing to answer: what they saw on the wire proves they were
// never rung.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundRouting } from '../call-center.js';
import { countOf, nextLoopbackAddress } from '../testing/sipp.js';
import { E2eRig, eventually } from './harness.js';

let rig: E2eRig;

beforeAll(async () => {
  rig = await E2eRig.start();
});

afterAll(async () => {
  await rig?.stop();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('inbound call -> queue -> agent over SIP', () => {
  it('the longest-idle ready agent who answers is bridged; the one who lets it ring is passed over and set not-ready; absent agents get no INVITE', async () => {
    const phone = (scenario: 'carrier-answer' | 'carrier-no-answer', service: string, timeoutSeconds: number) =>
      rig.peer({ scenario, address: nextLoopbackAddress(), service, calls: 1, timeoutSeconds });
    // Phones that must stay silent give up after a few seconds so the test can read what they saw.
    const [annPhone, zoePhone, bobPhone, cidPhone, danPhone] = await Promise.all([
      phone('carrier-no-answer', 'ann', 15),
      phone('carrier-answer', 'zoe', 15),
      phone('carrier-answer', 'bob', 4),
      phone('carrier-answer', 'cid', 4),
      phone('carrier-answer', 'dan', 4),
    ]);
    // Idle order: ann (longest), zoe, bob. Not alphabetical, so only idle time can pick zoe over bob.
    rig.agentAt('ann', annPhone);
    await pause(5);
    rig.agentAt('zoe', zoePhone);
    await pause(5);
    rig.agentAt('bob', bobPhone);
    rig.agentAt('cid', cidPhone, { ready: false }); // logged in and registered, not ready
    rig.agentAt('dan', danPhone, { registered: false }); // ready, but the softphone is not registered

    const ringTimeoutMs = 800;
    const center = rig.callCenter({
      inbound: { queue: 'sales' },
      queues: [{ name: 'sales', agents: ['dan', 'cid', 'bob', 'zoe', 'ann'], ringTimeoutMs, preferredAgentWindowMs: 0, maxWaitMs: 20_000, wrapUpMs: 0 }],
    });
    const routed: InboundRouting[] = [];
    center.onInboundRouted((routing) => routed.push(routing));

    const caller = await rig.peer({ scenario: 'caller-queued', address: nextLoopbackAddress(), target: rig.hubTarget, service: '4100', calls: 1, timeoutSeconds: 20 });
    await eventually(() => routed.length === 1, 5_000, 'the inbound call to be queued');
    const routing = routed[0]!;
    expect(routing.carriedOut.kind).toBe('queued');
    if (routing.carriedOut.kind !== 'queued') return;
    const outcome = await routing.carriedOut.queued.result;

    expect(outcome.outcome).toBe('connected');
    if (outcome.outcome !== 'connected') return;
    expect(outcome.agentId).toBe('zoe');
    expect(outcome.offers.map((offer) => [offer.agentId, offer.outcome])).toEqual([
      ['ann', 'no-answer'],
      ['zoe', 'answered'],
    ]);
    // ann rang for the ring timeout, not less and not much more.
    expect(outcome.waitedMs).toBeGreaterThanOrEqual(ringTimeoutMs);
    expect(outcome.waitedMs).toBeLessThan(ringTimeoutMs + 2_000);
    expect(rig.roster.view('ann')).toMatchObject({ status: 'not-ready', notReadyReason: `did not answer within ${ringTimeoutMs} ms` });
    expect(rig.roster.view('zoe').status).toBe('busy');
    expect(outcome.agentLeg.state).toBe('answered');
    expect(routing.call.state).toBe('answered');

    // The hub ends the call: the caller gets a BYE, and the bridge takes the agent with it.
    await routing.call.hangup();
    const [callerRun, annRun, zoeRun, bobRun, cidRun, danRun] = await Promise.all([
      caller.finished(), annPhone.finished(), zoePhone.finished(), bobPhone.finished(), cidPhone.finished(), danPhone.finished(),
    ]);
    expect(callerRun.successful).toBe(1);
    // The caller's own INVITE and the hub's re-INVITE bringing zoe's media.
    expect(countOf(callerRun, 'INVITE')).toBe(2);
    expect(countOf(annRun, 'INVITE')).toBe(1);
    expect(countOf(annRun, 'CANCEL')).toBe(1);
    expect(countOf(zoeRun, 'INVITE')).toBe(1);
    expect(countOf(zoeRun, 'BYE')).toBe(1);
    expect(zoeRun.successful).toBe(1);
    for (const [agent, run] of [['bob', bobRun], ['cid', cidRun], ['dan', danRun]] as const) {
      expect(run.lines.length, `${agent}'s SIPp screen was read`).toBeGreaterThan(0);
      expect(countOf(run, 'INVITE'), `${agent} was rung`).toBe(0);
    }
    await eventually(() => rig.roster.view('zoe').status === 'ready', 2_000, 'zoe back to ready after wrap-up');
    expect(rig.hub.callControl.activeCalls).toBe(0);
  });

  it('a hub at its call limit still rings agents for the callers it holds: the agent leg belongs to the caller\'s call', async () => {
    const capacity = rig.hub.callControl.capacity;
    rig.hub.callControl.setMaxConcurrentCalls(1);
    try {
      const kayPhone = await rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: 'kay', calls: 1, timeoutSeconds: 15 });
      rig.agentAt('kay', kayPhone);
      const center = rig.callCenter({
        inbound: { queue: 'full-house' },
        queues: [{ name: 'full-house', agents: ['kay'], ringTimeoutMs: 3_000, preferredAgentWindowMs: 0, maxWaitMs: 10_000, wrapUpMs: 0 }],
      });
      const routed: InboundRouting[] = [];
      center.onInboundRouted((routing) => routed.push(routing));
      const caller = await rig.peer({ scenario: 'caller-queued', address: nextLoopbackAddress(), target: rig.hubTarget, service: '4110', calls: 1, timeoutSeconds: 15 });
      await eventually(() => routed.length === 1, 5_000, 'the inbound call to be queued');
      const routing = routed[0]!;
      if (routing.carriedOut.kind !== 'queued') throw new Error(`carried out as ${routing.carriedOut.kind}`);
      const outcome = await routing.carriedOut.queued.result;
      expect(outcome.offers.map((offer) => [offer.agentId, offer.outcome, offer.reason])).toEqual([['kay', 'answered', undefined]]);
      expect(outcome).toMatchObject({ outcome: 'connected', agentId: 'kay' });
      expect(rig.hub.callControl.activeCalls).toBe(1);
      await routing.call.hangup();
      const [callerRun, kayRun] = await Promise.all([caller.finished(), kayPhone.finished()]);
      expect(callerRun.successful).toBe(1);
      expect(countOf(kayRun, 'BYE')).toBe(1);
    } finally {
      rig.hub.callControl.setMaxConcurrentCalls(capacity);
    }
  });
});
