// Transfers to office extensions through a pbx trunk, against the FakeCallControl test double.
import { describe, expect, it } from 'vitest';
import { FakeCallControl, FakeLeg } from '../fakes/call-control.js';
import { TrunkHealth, TrunkProbeScheduler } from '../trunks/health.js';
import { trunk } from '../trunks/test-trunks.js';
import { CallQueue } from './call-queue.js';
import { transferToPbxExtension, PbxTransferConfigError, type AgentNotice } from './pbx-transfer.js';
import { queueConfigSchema } from './queue-config.js';
import { AgentRoster } from './roster.js';

function setup() {
  const roster = new AgentRoster();
  const sip = new FakeCallControl();
  sip.script('agents.test', { kind: 'answer' });
  const office = trunk({ name: 'office', kind: 'pbx', host: '10.0.0.9:5060', routes: [], health: { failuresBeforeDown: 2, probeIntervalMs: 100 } });
  const carrier = trunk({ name: 'carrier' });
  const trunks = [office, carrier];
  const health = new TrunkHealth(trunks);
  const queueOptions = { ringTimeoutMs: 50, preferredAgentWindowMs: 0, wrapUpMs: 0, maxWaitMs: 2_000 };
  const sales = new CallQueue(queueConfigSchema.parse({ name: 'sales', agents: ['ann'], ...queueOptions }), { callControl: sip, roster });
  const fallbackQueue = new CallQueue(queueConfigSchema.parse({ name: 'front-desk', agents: ['bob'], ...queueOptions }), { callControl: sip, roster });
  for (const agent of ['ann', 'bob']) {
    roster.login(agent);
    roster.register(agent, `sip:${agent}@agents.test`, 60_000);
    roster.setReady(agent);
  }
  const notices: { agentId: string; notice: AgentNotice }[] = [];
  const deps = { callControl: sip, trunks, health, fallbackQueue, notifyAgent: (agentId: string, notice: AgentNotice) => notices.push({ agentId, notice }) };
  const connectCaller = async () => {
    const caller = new FakeLeg('inbound', '+14155550001', '+18005550100', () => new Date());
    caller.markAnswered();
    const outcome = await sales.enqueue(caller, { callId: 'call-1' }).result;
    if (outcome.outcome !== 'connected') throw new Error(`caller not connected: ${outcome.outcome}`);
    return { caller, connection: outcome };
  };
  return { sip, roster, health, deps, notices, connectCaller, trunks };
}

describe('transferToPbxExtension', () => {
  it('gateway down (OPTIONS unanswered): no transfer is tried, the caller lands in the fallback queue and the agent is told why', async () => {
    const { sip, roster, health, deps, notices, connectCaller, trunks } = setup();
    sip.scriptProbe('10.0.0.9', { reachable: false, sipStatus: undefined, rttMs: 2_000 });
    let clock = 0;
    const probes = new TrunkProbeScheduler(sip, trunks, health, () => clock);
    await probes.probeDue();
    clock += 100;
    await probes.probeDue();
    expect(health.isUp('office')).toBe(false);

    const { caller, connection } = await connectCaller();
    const result = await transferToPbxExtension(deps, {
      callId: 'call-1', callerLeg: caller, agentId: 'ann', releaseAgent: connection.releaseAgent, extension: '204', trunk: 'office', mode: 'blind',
    });
    expect(result.outcome).toBe('fallback');
    expect(sip.transfers).toHaveLength(0);
    if (result.outcome !== 'fallback') return;
    expect(result.reason).toMatch(/gateway "office" is down .*no answer to OPTIONS/);
    await expect(result.queued.result).resolves.toMatchObject({ outcome: 'connected', agentId: 'bob' });
    expect(caller.state).toBe('answered');
    expect(roster.view('ann').status).not.toBe('busy');
    expect(notices).toEqual([{ agentId: 'ann', notice: expect.objectContaining({ kind: 'transfer-failed', extension: '204', fallbackQueue: 'front-desk', reason: result.reason }) }]);
  });

  it('a transfer the gateway refuses (503) falls back too and counts against the gateway', async () => {
    const { sip, health, deps, notices, connectCaller } = setup();
    sip.scriptTransfer('10.0.0.9', { ok: false, sipStatus: 503, reason: 'Service Unavailable' });
    const { caller, connection } = await connectCaller();
    const result = await transferToPbxExtension(deps, {
      callId: 'call-1', callerLeg: caller, agentId: 'ann', releaseAgent: connection.releaseAgent, extension: '204', trunk: 'office', mode: 'attended',
    });
    expect(result).toMatchObject({ outcome: 'fallback', reason: 'transfer to extension 204 failed: 503 Service Unavailable' });
    expect(sip.transfers[0]?.request).toMatchObject({ mode: 'attended', to: 'sip:204@10.0.0.9:5060', callerId: '+14155550001' });
    expect(health.state('office').consecutiveFailures).toBe(1);
    expect(notices).toHaveLength(1);
    if (result.outcome === 'fallback') await expect(result.queued.result).resolves.toMatchObject({ outcome: 'connected', agentId: 'bob' });
  });

  it('a blind transfer that works releases the agent and leaves the caller with the PBX', async () => {
    const { sip, roster, deps, notices, connectCaller } = setup();
    const { caller, connection } = await connectCaller();
    const result = await transferToPbxExtension(deps, {
      callId: 'call-1', callerLeg: caller, agentId: 'ann', releaseAgent: connection.releaseAgent, extension: '204', trunk: 'office', mode: 'blind',
    });
    expect(result).toEqual({ outcome: 'transferred', mode: 'blind', to: 'sip:204@10.0.0.9:5060' });
    expect(caller.state).toBe('ended');
    expect(connection.agentLeg.state).toBe('ended');
    await new Promise((r) => setTimeout(r, 5));
    expect(roster.view('ann').status).toBe('ready');
    expect(notices).toEqual([]);
    expect(sip.originations.map((o) => o.request.uri)).toEqual(['sip:ann@agents.test']);
  });

  it('refuses a carrier trunk or a malformed extension, naming the field', async () => {
    const { deps, connectCaller } = setup();
    const { caller } = await connectCaller();
    const base = { callId: 'c', callerLeg: caller, agentId: 'ann', mode: 'blind' as const };
    await expect(transferToPbxExtension(deps, { ...base, trunk: 'carrier', extension: '204' })).rejects.toMatchObject({ field: 'trunk' });
    await expect(transferToPbxExtension(deps, { ...base, trunk: 'office', extension: '20 4' })).rejects.toBeInstanceOf(PbxTransferConfigError);
  });
});
