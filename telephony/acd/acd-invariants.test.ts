// Property-style test: over many random configurations and random agent behaviour (logins,
// logouts, lost registrations, expired registrations, agents who never answer), the ACD never
// sends an INVITE to an agent who is not logged in, registered and ready at that instant, and
// never rings one agent for two calls. Seeded, so a failure names a reproducible seed.
import { describe, expect, it } from 'vitest';
import { FakeCallControl, FakeLeg, type FarEnd } from '../fakes/call-control.js';
import { CallQueue } from './call-queue.js';
import { queueConfigSchema } from './queue-config.js';
import { AgentRoster, type AgentStatus } from './roster.js';

function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    chance: (p: number) => next() < p,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runScenario(seed: number): Promise<{ violations: string[]; invites: number; connected: number }> {
  const random = prng(seed);
  const roster = new AgentRoster();
  const sip = new FakeCallControl();
  const violations: string[] = [];
  const agentCount = random.int(1, 6);
  const agents = Array.from({ length: agentCount }, (_, i) => `agent${i}`);
  const uriOf = (agent: string) => `sip:${agent}@desk.test`;

  // Every transition into 'ringing' must come from a ready, registered agent.
  roster.onChange((change) => {
    if (change.to === 'ringing' && change.from !== 'ringing' && (change.from !== 'ready' || !change.registered)) {
      violations.push(`seed ${seed}: ${change.agentId} went ringing from ${change.from}, registered=${change.registered}`);
    }
  });
  const ringingFor = new Map<string, number>();
  sip.onOriginate = (request) => {
    const agent = agents.find((id) => uriOf(id) === request.uri);
    if (agent === undefined) {
      violations.push(`seed ${seed}: INVITE to unknown ${request.uri}`);
      return;
    }
    const view = roster.view(agent);
    if (view.status !== 'ringing' || !view.registered || view.registration?.contactUri !== request.uri) {
      violations.push(`seed ${seed}: INVITE to ${agent} while ${view.status}, registered=${view.registered}`);
    }
    ringingFor.set(agent, (ringingFor.get(agent) ?? 0) + 1);
  };

  const behaviours: FarEnd[] = [
    { kind: 'answer', afterMs: random.int(0, 8) },
    { kind: 'ring' },
    { kind: 'reject', sipStatus: 486 },
    { kind: 'silent' },
  ];
  for (const agent of agents) {
    roster.add(agent);
    sip.script(uriOf(agent), random.pick(behaviours));
    const loggedIn = random.chance(0.7);
    if (loggedIn) roster.login(agent);
    if (random.chance(0.7)) roster.register(agent, uriOf(agent), random.chance(0.2) ? 1 : 60_000); // some expire at once
    if (loggedIn && random.chance(0.6)) roster.setReady(agent);
  }
  await sleep(2); // let the 1 ms registrations expire

  const config = queueConfigSchema.parse({
    name: 'q',
    agents: [...new Set([agents[0] as string, ...agents.filter(() => random.chance(0.85))])],
    ringTimeoutMs: random.int(3, 15),
    preferredAgentWindowMs: random.pick([0, 5, 30]),
    maxWaitMs: random.int(40, 120),
    wrapUpMs: random.pick([0, 3]),
  });
  const queue = new CallQueue(config, { callControl: sip, roster });

  const calls = Array.from({ length: random.int(1, 4) }, (_, i) => {
    const leg = new FakeLeg('inbound', `+1555000${i}`, '+18005550100', () => new Date());
    leg.markAnswered();
    const preferredAgentId = random.chance(0.5) ? random.pick(agents) : undefined;
    const queued = queue.enqueue(leg, { callId: `s${seed}-c${i}`, preferredAgentId });
    if (random.chance(0.3)) setTimeout(() => leg.remoteHangup(), random.int(1, 30));
    return queued.result.then((outcome) => {
      if (outcome.outcome === 'connected') setTimeout(() => (outcome.agentLeg as FakeLeg).remoteHangup(), random.int(1, 10));
      return outcome;
    });
  });

  // Agents come and go while calls wait.
  const churn = (async () => {
    for (let step = 0; step < 8; step += 1) {
      await sleep(random.int(1, 10));
      const agent = random.pick(agents);
      const status: AgentStatus = roster.view(agent).status;
      const action = random.int(0, 4);
      if (action === 0 && status !== 'busy') roster.logout(agent);
      else if (action === 1) roster.unregister(agent);
      else if (action === 2) roster.register(agent, uriOf(agent), 60_000);
      else if (action === 3) roster.login(agent);
      else if (status === 'not-ready' || status === 'wrap-up') roster.setReady(agent);
    }
  })();

  const outcomes = await Promise.all(calls);
  await churn;
  queue.close();
  for (const outcome of outcomes) {
    const rung = outcome.offers.map((offer) => offer.agentId);
    if (outcome.outcome === 'connected' && !rung.includes(outcome.agentId)) violations.push(`seed ${seed}: connected to an agent never offered`);
  }
  return { violations, invites: sip.originations.length, connected: outcomes.filter((o) => o.outcome === 'connected').length };
}

describe('ACD invariants over random configurations', () => {
  it('never rings an agent who is not logged in, registered and ready', async () => {
    const seeds = Array.from({ length: 240 }, (_, i) => i + 1);
    const results: Awaited<ReturnType<typeof runScenario>>[] = [];
    for (let i = 0; i < seeds.length; i += 40) {
      results.push(...(await Promise.all(seeds.slice(i, i + 40).map(runScenario))));
    }
    expect(results.flatMap((r) => r.violations)).toEqual([]);
    // The scenarios must actually exercise ringing and connecting, or the property says nothing
    // (typically about 300 INVITEs and 55 connected calls; the margins absorb timer jitter).
    expect(results.reduce((sum, r) => sum + r.invites, 0)).toBeGreaterThan(120);
    expect(results.reduce((sum, r) => sum + r.connected, 0)).toBeGreaterThan(20);
  }, 60_000);
});
