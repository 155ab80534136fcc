// An agent transfers a live caller to an office extension through the PBX trunk, over real SIP:
// the FXO/VoIP gateway is a SIPp UAS. When the gateway is dead (nobody listening, OPTIONS
// unanswered) the caller lands in the fallback queue with another SIPp agent and the agent is told.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueOutcome } from '../acd/call-queue.js';
import type { CallCenter, InboundRouting } from '../call-center.js';
import { countOf, freeUdpPort, nextLoopbackAddress, type SippPeer } from '../testing/sipp.js';
import { E2eRig, eventually } from './harness.js';

let rig: E2eRig;

beforeAll(async () => {
  rig = await E2eRig.start();
});

afterAll(async () => {
  await rig?.stop();
});

function agentPhone(service: string): Promise<SippPeer> {
  return rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service, calls: 1, timeoutSeconds: 20 });
}

/** A SIPp caller into `center`, answered and connected to an agent of `sales`. */
async function connectedCaller(center: CallCenter, service: string, blindTransferee = false): Promise<{ caller: SippPeer; routing: InboundRouting; connected: Extract<QueueOutcome, { outcome: 'connected' }> }> {
  const routed: InboundRouting[] = [];
  const off = center.onInboundRouted((routing) => routed.push(routing));
  const { address, port } = rig.hub.callControl.sipAddress;
  const caller = await rig.peer({
    scenario: blindTransferee ? 'caller-queued-transferee' : 'caller-queued', address: nextLoopbackAddress(), target: rig.hubTarget, service,
    calls: 1, timeoutSeconds: 20, keys: { hub_host: address, hub_port: String(port) },
  });
  await eventually(() => routed.length === 1, 5_000, 'the inbound call to be queued');
  off();
  const routing = routed[0]!;
  if (routing.carriedOut.kind !== 'queued') throw new Error(`caller was ${routing.carriedOut.kind}, not queued`);
  const outcome = await routing.carriedOut.queued.result;
  if (outcome.outcome !== 'connected') throw new Error(`caller ${outcome.outcome} in the queue`);
  return { caller, routing, connected: outcome };
}

function pbxCenter(gatewayHostport: string, agents: { sales: string; frontDesk: string }): CallCenter {
  return rig.callCenter({
    inbound: { queue: 'sales' },
    queues: [
      { name: 'sales', agents: [agents.sales], ringTimeoutMs: 3_000, preferredAgentWindowMs: 0, wrapUpMs: 0 },
      { name: 'front-desk', agents: [agents.frontDesk], ringTimeoutMs: 3_000, preferredAgentWindowMs: 0, wrapUpMs: 0 },
    ],
    trunks: [{ name: 'office', kind: 'pbx', host: gatewayHostport, auth: { mode: 'ip' }, health: { failuresBeforeDown: 1, probeTimeoutMs: 400 } }],
    transferRingTimeoutMs: 1_500,
  });
}

describe('transfer to a PBX extension over SIP', () => {
  it('attended: the gateway answers extension 204, the agent is released, the caller is re-INVITEd onto the gateway', async () => {
    const annPhone = await agentPhone('ann');
    const fayPhone = await rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: 'fay', calls: 1, timeoutSeconds: 3 });
    const gateway = await rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: '204', calls: 1, timeoutSeconds: 20 });
    rig.agentAt('ann', annPhone);
    rig.agentAt('fay', fayPhone);
    const center = pbxCenter(gateway.hostport, { sales: 'ann', frontDesk: 'fay' });
    const { caller, routing, connected } = await connectedCaller(center, '4200');
    expect(connected.agentId).toBe('ann');

    const result = await center.transferToExtension({
      callId: routing.callId, callerLeg: routing.call, agentId: 'ann', releaseAgent: connected.releaseAgent,
      extension: '204', trunk: 'office', mode: 'attended', fallbackQueue: 'front-desk',
    });
    expect(result).toEqual({ outcome: 'transferred', mode: 'attended', to: `sip:204@${gateway.hostport}` });
    expect(routing.call.state).toBe('answered');
    await eventually(() => rig.roster.view('ann').status === 'ready', 3_000, 'ann free again after the transfer');
    expect(rig.notices).toEqual([]);

    await routing.call.hangup();
    const [callerRun, annRun, gatewayRun, fayRun] = await Promise.all([caller.finished(), annPhone.finished(), gateway.finished(), fayPhone.finished()]);
    expect(callerRun.successful).toBe(1);
    // Own INVITE, re-INVITE with ann's media, re-INVITE with the gateway's media.
    expect(countOf(callerRun, 'INVITE')).toBe(3);
    expect(countOf(annRun, 'BYE')).toBe(1);
    expect(gatewayRun.successful).toBe(1);
    expect(countOf(gatewayRun, 'BYE')).toBe(1);
    expect(countOf(fayRun, 'INVITE')).toBe(0);
    expect(rig.hub.callControl.activeCalls).toBe(0);
  });

  it('blind: REFER to the caller, who calls extension 205 at the gateway and reports success by NOTIFY; the hub and the agent leave the call', async () => {
    const kimPhone = await agentPhone('kim');
    const gateway = await rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: '205', calls: 1, timeoutSeconds: 20 });
    rig.agentAt('kim', kimPhone);
    rig.notices.length = 0;
    const center = pbxCenter(gateway.hostport, { sales: 'kim', frontDesk: 'kim' });
    const { caller, routing, connected } = await connectedCaller(center, '4230', true);
    expect(connected.agentId).toBe('kim');
    const events: string[] = [];
    routing.call.on((event) => events.push(event.type === 'ended' ? `ended:${event.cause}` : event.type));

    const result = await center.transferToExtension({
      callId: routing.callId, callerLeg: routing.call, agentId: 'kim', releaseAgent: connected.releaseAgent,
      extension: '205', trunk: 'office', mode: 'blind', fallbackQueue: 'front-desk',
    });
    expect(result).toEqual({ outcome: 'transferred', mode: 'blind', to: `sip:205@${gateway.hostport}` });
    const [callerRun, kimRun, gatewayRun] = await Promise.all([caller.finished(), kimPhone.finished(), gateway.finished()]);
    expect(callerRun.successful).toBe(1);
    expect(countOf(callerRun, 'REFER')).toBe(1);
    expect(countOf(callerRun, 'NOTIFY')).toBe(1);
    // The gateway really got the transferred call, answered it, and the caller hung up on it later.
    expect(gatewayRun.successful).toBe(1);
    expect(countOf(gatewayRun, 'BYE')).toBe(1);
    expect(countOf(kimRun, 'BYE')).toBe(1);
    expect(events).toEqual(['transferred', 'ended:transferred']);
    expect(rig.notices).toEqual([]);
    await eventually(() => rig.roster.view('kim').status === 'ready', 3_000, 'kim free again after the transfer');
    expect(rig.hub.callControl.activeCalls).toBe(0);
  });

  it('gateway down (OPTIONS unanswered): the transfer is not tried, the caller is bridged to the fallback queue\'s agent, the agent is told why', async () => {
    const deadAddress = nextLoopbackAddress();
    const deadGateway = `${deadAddress}:${await freeUdpPort(deadAddress)}`;
    const bobPhone = await agentPhone('bob');
    const gilPhone = await agentPhone('gil');
    rig.agentAt('bob', bobPhone);
    rig.agentAt('gil', gilPhone);
    rig.notices.length = 0;
    const center = pbxCenter(deadGateway, { sales: 'bob', frontDesk: 'gil' });
    await center.probes.probeDue();
    expect(center.health.state('office')).toMatchObject({ status: 'down', lastFailure: 'no answer to OPTIONS' });

    const { caller, routing, connected } = await connectedCaller(center, '4210');
    expect(connected.agentId).toBe('bob');
    const result = await center.transferToExtension({
      callId: routing.callId, callerLeg: routing.call, agentId: 'bob', releaseAgent: connected.releaseAgent,
      extension: '204', trunk: 'office', mode: 'attended', fallbackQueue: 'front-desk',
    });
    expect(result.outcome).toBe('fallback');
    if (result.outcome !== 'fallback') return;
    expect(result.reason).toMatch(/gateway "office" is down .*no answer to OPTIONS.*transfer not attempted/);
    expect(rig.notices).toEqual([
      { agentId: 'bob', notice: expect.objectContaining({ kind: 'transfer-failed', callId: routing.callId, extension: '204', trunk: 'office', fallbackQueue: 'front-desk', reason: result.reason }) },
    ]);
    const fallback = await result.queued.result;
    expect(fallback).toMatchObject({ outcome: 'connected', agentId: 'gil' });
    expect(result.queued.reason).toBe(result.reason);
    expect(routing.call.state).toBe('answered');

    await routing.call.hangup();
    const [callerRun, bobRun, gilRun] = await Promise.all([caller.finished(), bobPhone.finished(), gilPhone.finished()]);
    expect(callerRun.successful).toBe(1);
    // Own INVITE, then bob's media, then gil's: never the gateway's.
    expect(countOf(callerRun, 'INVITE')).toBe(3);
    expect(countOf(bobRun, 'BYE')).toBe(1);
    expect(countOf(gilRun, 'BYE')).toBe(1);
    expect(rig.hub.callControl.activeCalls).toBe(0);
  });

  it('gateway dead but still believed up: the attended transfer finds nobody within its ring timeout, the caller goes to the fallback queue, the gateway is marked down', async () => {
    const deadAddress = nextLoopbackAddress();
    const deadGateway = `${deadAddress}:${await freeUdpPort(deadAddress)}`;
    const hanPhone = await agentPhone('han');
    const ivyPhone = await agentPhone('ivy');
    rig.agentAt('han', hanPhone);
    rig.agentAt('ivy', ivyPhone);
    rig.notices.length = 0;
    const center = pbxCenter(deadGateway, { sales: 'han', frontDesk: 'ivy' });
    const { caller, routing, connected } = await connectedCaller(center, '4220');
    expect(connected.agentId).toBe('han');

    const started = Date.now();
    const result = await center.transferToExtension({
      callId: routing.callId, callerLeg: routing.call, agentId: 'han', releaseAgent: connected.releaseAgent,
      extension: '204', trunk: 'office', mode: 'attended', fallbackQueue: 'front-desk',
    });
    // Bounded by the transfer ring timeout (1.5 s), not by SIP Timer B (32 s).
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(result.outcome).toBe('fallback');
    if (result.outcome !== 'fallback') return;
    expect(result.reason).toMatch(/^transfer to extension 204 failed: no response/);
    expect(rig.notices.map((entry) => [entry.agentId, entry.notice.reason])).toEqual([['han', result.reason]]);
    expect(center.health.state('office').status).toBe('down');
    expect(await result.queued.result).toMatchObject({ outcome: 'connected', agentId: 'ivy' });

    await routing.call.hangup();
    const [callerRun, hanRun, ivyRun] = await Promise.all([caller.finished(), hanPhone.finished(), ivyPhone.finished()]);
    expect(callerRun.successful).toBe(1);
    expect(countOf(callerRun, 'INVITE')).toBe(3);
    expect(countOf(hanRun, 'BYE')).toBe(1);
    expect(countOf(ivyRun, 'BYE')).toBe(1);
    expect(rig.hub.callControl.activeCalls).toBe(0);
  });
});
