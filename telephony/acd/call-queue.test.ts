// ACD behaviour against the FakeCallControl test double: who rings, in which order, and what
// happens to agents who do not answer.
import { describe, expect, it } from 'vitest';
import { FakeCallControl, FakeLeg } from '../fakes/call-control.js';
import { CallQueue } from './call-queue.js';
import { queueConfigSchema, type QueueConfigInput } from './queue-config.js';
import { AgentRoster } from './roster.js';

const uri = (agent: string) => `sip:${agent}@agents.test`;

function setup(queue: Partial<QueueConfigInput> & Pick<QueueConfigInput, 'agents'>) {
  let clock = Date.parse('2026-01-01T09:00:00Z');
  const now = () => new Date(clock);
  const roster = new AgentRoster(now);
  const sip = new FakeCallControl(now);
  const config = queueConfigSchema.parse({ name: 'sales', ringTimeoutMs: 40, preferredAgentWindowMs: 0, wrapUpMs: 0, maxWaitMs: 2_000, ...queue });
  const callQueue = new CallQueue(config, { callControl: sip, roster, now });
  const ready = (agent: string) => {
    roster.login(agent);
    roster.register(agent, uri(agent), 3_600_000);
    roster.setReady(agent);
  };
  const advance = (ms: number) => (clock += ms);
  let calls = 0;
  const caller = () => {
    calls += 1;
    const leg = new FakeLeg('inbound', `+1415555000${calls}`, '+18005550100', now);
    leg.markAnswered();
    return leg;
  };
  return { roster, sip, callQueue, ready, advance, caller, config };
}

describe('CallQueue', () => {
  it('offers each call to the longest-idle ready agent, and a finished agent goes to the back', async () => {
    const { sip, callQueue, ready, advance, caller, roster } = setup({ agents: ['ann', 'bob', 'cid'] });
    sip.script('agents.test', { kind: 'answer' });
    ready('bob');
    advance(1_000);
    ready('cid');
    advance(1_000);
    ready('ann');

    const first = await callQueue.enqueue(caller(), { callId: 'c1' }).result;
    expect(first).toMatchObject({ outcome: 'connected', agentId: 'bob' });
    const second = await callQueue.enqueue(caller(), { callId: 'c2' }).result;
    expect(second).toMatchObject({ outcome: 'connected', agentId: 'cid' });

    // bob hangs up first and becomes ready again (wrap-up 0): now he is the most recently idle.
    advance(1_000);
    if (first.outcome !== 'connected') throw new Error('unreachable');
    (first.agentLeg as FakeLeg).remoteHangup();
    await new Promise((r) => setTimeout(r, 5));
    expect(roster.view('bob').status).toBe('ready');
    const third = await callQueue.enqueue(caller(), { callId: 'c3' }).result;
    expect(third).toMatchObject({ outcome: 'connected', agentId: 'ann' });
    const fourth = await callQueue.enqueue(caller(), { callId: 'c4' }).result;
    expect(fourth).toMatchObject({ outcome: 'connected', agentId: 'bob' });
    expect(sip.bridges).toHaveLength(4);
  });

  it('ring timeout: the call moves to the next agent and the silent one is set not-ready', async () => {
    const { sip, callQueue, ready, advance, caller, roster } = setup({ agents: ['ann', 'bob'], ringTimeoutMs: 30 });
    sip.script(uri('ann'), { kind: 'ring' }).script(uri('bob'), { kind: 'answer', afterMs: 5 });
    ready('ann');
    advance(10);
    ready('bob');
    const outcome = await callQueue.enqueue(caller(), { callId: 'c1' }).result;
    expect(outcome).toMatchObject({ outcome: 'connected', agentId: 'bob' });
    expect(outcome.offers.map((o) => [o.agentId, o.outcome])).toEqual([['ann', 'no-answer'], ['bob', 'answered']]);
    expect(roster.view('ann')).toMatchObject({ status: 'not-ready', notReadyReason: 'did not answer within 30 ms' });
    expect(sip.originations.map((o) => o.request.uri)).toEqual([uri('ann'), uri('bob')]);
  });

  it('a caller waits while nobody is ready and is offered the first agent who becomes ready', async () => {
    const { sip, callQueue, ready, caller } = setup({ agents: ['ann'] });
    sip.script('agents.test', { kind: 'answer' });
    const queued = callQueue.enqueue(caller(), { callId: 'c1' });
    await new Promise((r) => setTimeout(r, 20));
    expect(sip.originations).toHaveLength(0);
    ready('ann');
    await expect(queued.result).resolves.toMatchObject({ outcome: 'connected', agentId: 'ann' });
  });

  it('caller hangs up while an agent rings: the ringing stops and the agent keeps their place', async () => {
    const { sip, callQueue, ready, caller, roster } = setup({ agents: ['ann'], ringTimeoutMs: 5_000 });
    sip.script('agents.test', { kind: 'ring' });
    ready('ann');
    const idleSince = roster.view('ann').idleSince;
    const leg = caller();
    const queued = callQueue.enqueue(leg, { callId: 'c1' });
    await new Promise((r) => setTimeout(r, 10));
    expect(roster.view('ann').status).toBe('ringing');
    leg.remoteHangup();
    await expect(queued.result).resolves.toMatchObject({ outcome: 'abandoned' });
    await new Promise((r) => setTimeout(r, 5));
    expect(sip.originations[0]?.result?.outcome).toBe('cancelled');
    expect(roster.view('ann')).toMatchObject({ status: 'ready', idleSince });
  });

  it('an agent who logs out while ringing is cancelled and the call moves on', async () => {
    const { sip, callQueue, ready, advance, caller, roster } = setup({ agents: ['ann', 'bob'], ringTimeoutMs: 5_000 });
    sip.script(uri('ann'), { kind: 'ring' }).script(uri('bob'), { kind: 'answer' });
    ready('ann');
    advance(10);
    ready('bob');
    const queued = callQueue.enqueue(caller(), { callId: 'c1' });
    await new Promise((r) => setTimeout(r, 10));
    roster.logout('ann');
    await expect(queued.result).resolves.toMatchObject({ outcome: 'connected', agentId: 'bob' });
    expect(roster.view('ann').status).toBe('logged-out');
  });

  describe('preferred agent', () => {
    it('gets the call first even when another agent has been idle longer', async () => {
      const { sip, callQueue, ready, advance, caller } = setup({ agents: ['ann', 'bob'], preferredAgentWindowMs: 1_000 });
      sip.script('agents.test', { kind: 'answer' });
      ready('ann');
      advance(5_000);
      ready('bob');
      const outcome = await callQueue.enqueue(caller(), { callId: 'c1', preferredAgentId: 'bob' }).result;
      expect(outcome).toMatchObject({ outcome: 'connected', agentId: 'bob' });
    });

    it('is waited for while busy within the window; others are not rung meanwhile', async () => {
      const { sip, callQueue, ready, caller, roster } = setup({ agents: ['ann', 'bob'], preferredAgentWindowMs: 5_000 });
      sip.script('agents.test', { kind: 'answer' });
      ready('bob');
      const busyCall = await callQueue.enqueue(caller(), { callId: 'busy' }).result; // bob is now busy
      expect(busyCall).toMatchObject({ agentId: 'bob' });
      ready('ann');
      const queued = callQueue.enqueue(caller(), { callId: 'c1', preferredAgentId: 'bob' });
      await new Promise((r) => setTimeout(r, 30));
      expect(sip.originations).toHaveLength(1);
      expect(roster.view('ann').status).toBe('ready');
      if (busyCall.outcome !== 'connected') throw new Error('unreachable');
      (busyCall.agentLeg as FakeLeg).remoteHangup(); // bob finishes, wrap-up 0 -> ready
      await expect(queued.result).resolves.toMatchObject({ outcome: 'connected', agentId: 'bob' });
    });

    it('after the window the call goes to anyone', async () => {
      const { sip, callQueue, ready, caller, roster } = setup({ agents: ['ann', 'bob'], preferredAgentWindowMs: 40 });
      sip.script('agents.test', { kind: 'answer' });
      ready('bob');
      await callQueue.enqueue(caller(), { callId: 'busy' }).result;
      ready('ann');
      const started = Date.now();
      const outcome = await callQueue.enqueue(caller(), { callId: 'c1', preferredAgentId: 'bob' }).result;
      expect(outcome).toMatchObject({ outcome: 'connected', agentId: 'ann' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(35);
      expect(roster.view('bob').status).toBe('busy');
    });

    it('an absent preferred agent (logged out or unregistered) costs the caller no wait', async () => {
      const { sip, callQueue, ready, caller, roster } = setup({ agents: ['ann', 'bob'], preferredAgentWindowMs: 60_000 });
      sip.script('agents.test', { kind: 'answer' });
      ready('ann');
      roster.add('bob'); // known, logged out
      const outcome = await callQueue.enqueue(caller(), { callId: 'c1', preferredAgentId: 'bob' }).result;
      expect(outcome).toMatchObject({ outcome: 'connected', agentId: 'ann' });
      expect(outcome.waitedMs).toBeLessThan(1_000);
    });

    it('a preferred agent who does not answer ends the window', async () => {
      const { sip, callQueue, ready, advance, caller, roster } = setup({ agents: ['ann', 'bob'], preferredAgentWindowMs: 60_000, ringTimeoutMs: 20 });
      sip.script(uri('bob'), { kind: 'ring' }).script(uri('ann'), { kind: 'answer' });
      ready('ann');
      advance(10);
      ready('bob');
      const outcome = await callQueue.enqueue(caller(), { callId: 'c1', preferredAgentId: 'bob' }).result;
      expect(outcome.offers.map((o) => [o.agentId, o.outcome])).toEqual([['bob', 'no-answer'], ['ann', 'answered']]);
      expect(roster.view('bob').status).toBe('not-ready');
    });
  });

  it('a bridge that fails releases the agent (not-ready, with the reason) and the caller gets the next agent', async () => {
    const { sip, callQueue, ready, advance, caller, roster } = setup({ agents: ['ann', 'bob'] });
    sip.script('agents.test', { kind: 'answer' });
    ready('ann');
    advance(10);
    ready('bob');
    const realBridge = sip.bridge.bind(sip);
    let failures = 1;
    sip.bridge = async (a, b) => {
      if (failures-- > 0) throw new Error('re-INVITE refused with 488');
      return realBridge(a, b);
    };
    const leg = caller();
    const outcome = await callQueue.enqueue(leg, { callId: 'c1' }).result;
    expect(outcome).toMatchObject({ outcome: 'connected', agentId: 'bob' });
    expect(outcome.offers.map((o) => [o.agentId, o.outcome])).toEqual([['ann', 'answered'], ['ann', 'failed'], ['bob', 'answered']]);
    expect(roster.view('ann')).toMatchObject({ status: 'not-ready', notReadyReason: 'bridge failed: re-INVITE refused with 488' });
    expect(leg.state).toBe('answered');
  });

  it('a caller nobody takes leaves after maxWaitMs', async () => {
    const { callQueue, caller, roster } = setup({ agents: ['ann'], maxWaitMs: 30 });
    roster.add('ann');
    await expect(callQueue.enqueue(caller(), { callId: 'c1' }).result).resolves.toMatchObject({ outcome: 'timed-out' });
  });

  it("a caller's own wait limit, shorter than the queue's, ends the wait and withdraws the ringing agent", async () => {
    const { sip, callQueue, caller, ready, roster } = setup({ agents: ['ann'], maxWaitMs: 2_000, ringTimeoutMs: 1_000 });
    sip.script('agents.test', { kind: 'ring' });
    ready('ann');
    const started = performance.now();
    const outcome = await callQueue.enqueue(caller(), { callId: 'c1', maxWaitMs: 60 }).result;
    expect(outcome).toMatchObject({ outcome: 'timed-out' });
    expect(performance.now() - started).toBeLessThan(900);
    await new Promise((r) => setTimeout(r, 10));
    // Withdrawn, not a missed call: the agent stays ready for the next caller.
    expect(roster.view('ann').status).toBe('ready');
    expect(callQueue.size).toBe(0);
  });

  it('queue config has no way to choose another strategy and rejects duplicates with a path', () => {
    const result = queueConfigSchema.safeParse({ name: 'q', agents: ['a', 'a'], strategy: 'sequential' });
    expect(result.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['agents.1', 'agent "a" appears twice']]);
    expect(queueConfigSchema.parse({ name: 'q', agents: ['a'], strategy: 'sequential' })).not.toHaveProperty('strategy');
  });
});
