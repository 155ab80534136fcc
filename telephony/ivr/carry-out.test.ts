// Inbound call -> IVR -> queue or PBX transfer, end to end in the domain, against the
// FakeCallControl and FakeMediaControl test doubles.
import { describe, expect, it } from 'vitest';
import { CallQueue } from '../acd/call-queue.js';
import { queueConfigSchema } from '../acd/queue-config.js';
import { AgentRoster } from '../acd/roster.js';
import { FakeCallControl, FakeLeg } from '../fakes/call-control.js';
import { FakeMediaControl, type CallerInput } from '../fakes/media-control.js';
import { TrunkHealth } from '../trunks/health.js';
import { trunk } from '../trunks/test-trunks.js';
import { carryOutIvrDecision } from './carry-out.js';
import { ivrMenuSchema } from './menu.js';
import { runIvr, type ContactLookupResult } from './run-ivr.js';

const menu = ivrMenuSchema.parse({
  name: 'main', start: 'who', fallbackQueue: 'front-desk', maxVisitsPerNode: 3,
  nodes: {
    who: { kind: 'crm', branches: { conflict: 'verify' }, otherwise: 'welcome', notFound: 'welcome' },
    verify: { kind: 'play', prompt: 'checking', next: 'who' },
    welcome: { kind: 'menu', prompt: 'welcome', options: { '1': 'sales', '2': 'accounting' } },
    sales: { kind: 'queue', queue: 'sales' },
    accounting: { kind: 'transfer', trunk: 'office', extension: '204' },
  },
});

function setup() {
  const sip = new FakeCallControl();
  sip.script('desk.test', { kind: 'answer' });
  let clock = Date.parse('2026-01-01T09:00:00Z');
  const roster = new AgentRoster(() => new Date(clock));
  const queueDefaults = { ringTimeoutMs: 50, preferredAgentWindowMs: 0, wrapUpMs: 0, maxWaitMs: 2_000 };
  const queues = new Map<string, CallQueue>();
  for (const [name, agents] of [['sales', ['ann', 'absent']], ['front-desk', ['bob', 'cid']]] as const) {
    queues.set(name, new CallQueue(queueConfigSchema.parse({ name, agents: [...agents], ...queueDefaults }), { callControl: sip, roster }));
  }
  for (const agent of ['ann', 'cid', 'bob']) {
    roster.login(agent);
    roster.register(agent, `sip:${agent}@desk.test`, 60_000);
    roster.setReady(agent); // bob last: cid has been idle longer
    clock += 1_000;
  }
  roster.login('absent'); // logged in, ready, but the softphone never registered
  roster.setReady('absent');
  const office = trunk({ name: 'office', kind: 'pbx', routes: [], health: { failuresBeforeDown: 1 } });
  const health = new TrunkHealth([office]);
  const inbound = async (inputs: CallerInput[], lookup: () => Promise<ContactLookupResult | undefined>) => {
    const call = new FakeLeg('inbound', '+14155550001', '+18005550100', () => new Date());
    call.markAnswered();
    const media = new FakeMediaControl(inputs);
    const decision = await runIvr({ media, promptPath: (p) => p, lookupContact: lookup }, menu, call, call.from);
    const carried = await carryOutIvrDecision({ callControl: sip, queues, trunks: [office], health }, menu, decision, call, { callId: 'call-1' });
    return { call, decision, carried };
  };
  return { sip, roster, health, inbound };
}

describe('inbound call through the IVR', () => {
  it('digit 1 -> sales -> the ready, registered agent answers; the unregistered one is never rung', async () => {
    const { sip, inbound } = setup();
    const { carried } = await inbound([{ digits: '1' }], async () => undefined);
    if (carried.kind !== 'queued') throw new Error(carried.kind);
    await expect(carried.queued.result).resolves.toMatchObject({ outcome: 'connected', agentId: 'ann' });
    expect(sip.originations.map((o) => o.request.uri)).toEqual(['sip:ann@desk.test']);
  });

  it('CRM data that loops -> loop guard -> fallback queue, with the reason, to its longest-idle agent', async () => {
    const { inbound } = setup();
    const { decision, carried } = await inbound([], async () => ({ status: 'conflict' }));
    expect(decision).toMatchObject({ kind: 'queue', queue: 'front-desk', guard: { rule: 'node-visits', node: 'who' } });
    if (carried.kind !== 'queued') throw new Error(carried.kind);
    expect(carried.queued).toMatchObject({ queue: 'front-desk', reason: 'loop guard: node "who" entered 4 times (limit 3)' });
    await expect(carried.queued.result).resolves.toMatchObject({ outcome: 'connected', agentId: 'cid' });
  });

  it('digit 2 with the PBX gateway down -> fallback queue instead of a dropped caller', async () => {
    const { sip, health, inbound } = setup();
    health.recordFailure('office', 'no answer to OPTIONS');
    const { call, carried } = await inbound([{ digits: '2' }], async () => undefined);
    expect(sip.transfers).toHaveLength(0);
    if (carried.kind !== 'queued') throw new Error(carried.kind);
    expect(carried.queued.reason).toMatch(/gateway "office" is down/);
    await expect(carried.queued.result).resolves.toMatchObject({ outcome: 'connected', agentId: 'cid' });
    expect(call.state).toBe('answered');
  });

  it('digit 2 with the gateway up -> blind transfer to the extension', async () => {
    const { sip, inbound } = setup();
    const { carried } = await inbound([{ digits: '2' }], async () => undefined);
    expect(carried).toMatchObject({ kind: 'transferred', transfer: { to: 'sip:204@office.example:5060' } });
    expect(sip.transfers.map((t) => t.request.mode)).toEqual(['blind']);
  });
});
