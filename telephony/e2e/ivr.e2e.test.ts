// Inbound calls through the IVR over real SIP and real media: a SIPp caller into the hub, its
// media anchored in rtpengine (a private instance), a generated prompt played by rtpengine, the
// caller's key press sent as SIP INFO through the stand-in and the drachtio-srf adapter, then the
// queue rings SIPp agents. And contradictory CRM data that would send the caller round the IVR
// forever reaches the fallback queue within the loop guard's limit.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundRouting } from '../call-center.js';
import { ivrMenuSchema, type IvrMenuInput } from '../ivr/menu.js';
import { startEmbeddedMedia, type EmbeddedMedia } from '../media/embedded-media.js';
import { buildPrompts, loadPromptCatalog, promptFile, type PromptCatalog } from '../media/prompts.js';
import { readWavInfo } from '../media/wav.js';
import { countOf, nextLoopbackAddress, type SippPeer } from '../testing/sipp.js';
import { E2eRig, eventually } from './harness.js';

let rig: E2eRig;
let stack: EmbeddedMedia;
let catalog: PromptCatalog;
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'e2e-ivr-'));
  catalog = await loadPromptCatalog();
  await buildPrompts(catalog, { names: ['main-menu', 'welcome'] });
  stack = await startEmbeddedMedia({ logFile: path.join(workDir, 'rtpengine.log') });
  rig = await E2eRig.start();
}, 60_000);

afterAll(async () => {
  await rig?.stop();
  await stack?.stop();
  await rm(workDir, { recursive: true, force: true });
});

function agentPhone(service: string, timeoutSeconds = 20): Promise<SippPeer> {
  return rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service, calls: 1, timeoutSeconds });
}

function ivrCenter(menu: IvrMenuInput, queues: { name: string; agent: string }[], lookupContact: (phone: string) => Promise<{ status: string } | undefined>) {
  const center = rig.callCenter({
    inbound: { ivr: ivrMenuSchema.parse(menu) },
    media: stack.media,
    ivr: { promptPath: (name) => promptFile(catalog, name), lookupContact },
    queues: queues.map(({ name, agent }) => ({ name, agents: [agent], ringTimeoutMs: 3_000, preferredAgentWindowMs: 0, wrapUpMs: 0 })),
  });
  const routed: InboundRouting[] = [];
  center.onInboundRouted((routing) => routed.push(routing));
  return { center, routed };
}

describe('inbound call -> IVR -> queue over SIP and rtpengine', () => {
  it('the caller hears the menu, presses 2 by SIP INFO and is bridged to the support agent; the sales agent is never rung', async () => {
    const amyPhone = await agentPhone('amy', 4);
    const supPhone = await agentPhone('sup');
    rig.agentAt('amy', amyPhone);
    rig.agentAt('sup', supPhone);
    const lookups: string[] = [];
    const { routed } = ivrCenter(
      {
        name: 'main', start: 'welcome', fallbackQueue: 'sales',
        nodes: {
          welcome: { kind: 'menu', prompt: 'main-menu', options: { '1': 'sales', '2': 'support' }, timeoutMs: 5_000 },
          sales: { kind: 'queue', queue: 'sales' },
          support: { kind: 'queue', queue: 'support' },
        },
      },
      [{ name: 'sales', agent: 'amy' }, { name: 'support', agent: 'sup' }],
      async (phone) => {
        lookups.push(phone);
        return undefined;
      },
    );

    // The key goes 1.5 s after the answer, while the menu prompt (about 5 s) still plays: barge-in.
    const promptMs = (await readWavInfo(promptFile(catalog, 'main-menu'))).durationMs;
    expect(promptMs).toBeGreaterThan(3_000);
    const caller = await rig.peer({
      scenario: 'caller-ivr-digit', address: nextLoopbackAddress(), target: rig.hubTarget, service: '4300', calls: 1, timeoutSeconds: 20,
      pauseMs: 1_500, keys: { digit: '2' },
    });
    const started = Date.now();
    await eventually(() => routed.length === 1, 10_000, 'the IVR to hand the call on');
    const routing = routed[0]!;
    // The digit ended the turn during the prompt, not after it (and its 5 s input timeout).
    expect(Date.now() - started).toBeLessThan(promptMs);
    expect(routing.ivr).toMatchObject({ kind: 'queue', queue: 'support', guard: undefined });
    expect(routing.ivr?.trail.map((step) => [step.node, step.digits])).toEqual([['welcome', '2'], ['support', undefined]]);
    expect(lookups).toEqual([]);
    if (routing.carriedOut.kind !== 'queued') throw new Error(`carried out as ${routing.carriedOut.kind}`);
    expect(routing.carriedOut.queued.queue).toBe('support');
    expect(await routing.carriedOut.queued.result).toMatchObject({ outcome: 'connected', agentId: 'sup' });

    await routing.call.hangup();
    const [callerRun, supRun, amyRun] = await Promise.all([caller.finished(), supPhone.finished(), amyPhone.finished()]);
    expect(callerRun.successful).toBe(1);
    expect(countOf(callerRun, 'INFO')).toBe(1);
    // Own INVITE (answered with rtpengine's media), then the re-INVITE with the agent's.
    expect(countOf(callerRun, 'INVITE')).toBe(2);
    expect(countOf(supRun, 'BYE')).toBe(1);
    expect(countOf(amyRun, 'INVITE')).toBe(0);
    expect(rig.hub.callControl.activeCalls).toBe(0);
  });

  it('the caller presses 1 as RFC 2833 in its RTP: rtpengine detects it, the IVR picks sales, the sales agent is bridged', async () => {
    const salPhone = await agentPhone('sal');
    const supPhone = await agentPhone('sup2', 4);
    rig.agentAt('sal', salPhone);
    rig.agentAt('sup2', supPhone);
    const digits: string[] = [];
    const stopListening = stack.media.onDigit((event) => digits.push(`${event.digit}:${event.source}`));
    const { routed } = ivrCenter(
      {
        name: 'main', start: 'welcome', fallbackQueue: 'sales-2833',
        nodes: {
          welcome: { kind: 'menu', prompt: 'main-menu', options: { '1': 'sales', '2': 'support' }, timeoutMs: 5_000 },
          sales: { kind: 'queue', queue: 'sales-2833' },
          support: { kind: 'queue', queue: 'support-2833' },
        },
      },
      [{ name: 'sales-2833', agent: 'sal' }, { name: 'support-2833', agent: 'sup2' }],
      async () => undefined,
    );
    try {
      const caller = await rig.peer({ scenario: 'caller-ivr-rfc2833', address: nextLoopbackAddress(), target: rig.hubTarget, service: '4320', calls: 1, timeoutSeconds: 20, pauseMs: 1_500 });
      await eventually(() => routed.length === 1, 10_000, 'the IVR to hand the call on');
      const routing = routed[0]!;
      expect(routing.ivr?.trail.map((step) => [step.node, step.digits])).toEqual([['welcome', '1'], ['sales', undefined]]);
      expect(digits).toEqual(['1:rfc2833']);
      if (routing.carriedOut.kind !== 'queued') throw new Error(`carried out as ${routing.carriedOut.kind}`);
      expect(await routing.carriedOut.queued.result).toMatchObject({ outcome: 'connected', agentId: 'sal' });

      await routing.call.hangup();
      const [callerRun, salRun, supRun] = await Promise.all([caller.finished(), salPhone.finished(), supPhone.finished()]);
      expect(callerRun.successful).toBe(1);
      expect(countOf(salRun, 'BYE')).toBe(1);
      expect(countOf(supRun, 'INVITE')).toBe(0);
      expect(rig.hub.callControl.activeCalls).toBe(0);
    } finally {
      stopListening();
    }
  });

  it('CRM data that loops (the contact stays "conflict" after every check) reaches the fallback queue within the visit limit, and the reason travels with the caller', async () => {
    const vipPhone = await agentPhone('vip-agent', 4);
    const deskPhone = await agentPhone('desk');
    rig.agentAt('vip-agent', vipPhone);
    rig.agentAt('desk', deskPhone);
    const lookups: string[] = [];
    const { routed } = ivrCenter(
      {
        name: 'crm-first', start: 'who', fallbackQueue: 'front-desk', maxVisitsPerNode: 2, maxDurationMs: 20_000,
        nodes: {
          who: { kind: 'crm', branches: { vip: 'vip', conflict: 'verify' }, otherwise: 'vip', notFound: 'vip', timeoutMs: 1_000 },
          verify: { kind: 'play', prompt: 'welcome', next: 'who' },
          vip: { kind: 'queue', queue: 'vip' },
        },
      },
      [{ name: 'vip', agent: 'vip-agent' }, { name: 'front-desk', agent: 'desk' }],
      async (phone) => {
        lookups.push(phone);
        return { status: 'conflict' };
      },
    );

    const caller = await rig.peer({ scenario: 'caller-queued', address: nextLoopbackAddress(), target: rig.hubTarget, service: '4310', calls: 1, timeoutSeconds: 20 });
    await eventually(() => routed.length === 1, 15_000, 'the IVR to hand the call on');
    const routing = routed[0]!;
    const reason = 'loop guard: node "who" entered 3 times (limit 2)';
    expect(routing.ivr).toMatchObject({ kind: 'queue', queue: 'front-desk', guard: { rule: 'node-visits', node: 'who', visits: 3, limit: 2 }, reason });
    expect(routing.ivr?.trail.map((step) => step.node)).toEqual(['who', 'verify', 'who', 'verify', 'who']);
    // Two lookups, each answered "conflict": the third visit never asked the CRM.
    expect(lookups).toEqual(['caller', 'caller']);
    if (routing.carriedOut.kind !== 'queued') throw new Error(`carried out as ${routing.carriedOut.kind}`);
    expect(routing.carriedOut.queued).toMatchObject({ queue: 'front-desk', reason });
    expect(await routing.carriedOut.queued.result).toMatchObject({ outcome: 'connected', agentId: 'desk' });

    await routing.call.hangup();
    const [callerRun, deskRun, vipRun] = await Promise.all([caller.finished(), deskPhone.finished(), vipPhone.finished()]);
    expect(callerRun.successful).toBe(1);
    expect(countOf(callerRun, 'INVITE')).toBe(2);
    expect(countOf(deskRun, 'BYE')).toBe(1);
    expect(countOf(vipRun, 'INVITE')).toBe(0);
    expect(rig.hub.callControl.activeCalls).toBe(0);
  });
});
