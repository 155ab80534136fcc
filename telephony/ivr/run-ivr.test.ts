// IVR menus and the loop guard, against the FakeMediaControl test double and an injected CRM lookup.
import { describe, expect, it } from 'vitest';
import { FakeLeg } from '../fakes/call-control.js';
import { FakeMediaControl, type CallerInput } from '../fakes/media-control.js';
import { externalReferences, ivrMenuSchema, type IvrMenuInput } from './menu.js';
import { runIvr, type ContactLookupResult, type IvrDeps } from './run-ivr.js';

const mainMenu: IvrMenuInput = {
  name: 'main',
  start: 'who',
  fallbackQueue: 'front-desk',
  maxVisitsPerNode: 3,
  maxDurationMs: 60_000,
  nodes: {
    who: { kind: 'crm', branches: { vip: 'vip-queue', debtor: 'collections', conflict: 'verify' }, otherwise: 'welcome', notFound: 'welcome' },
    // Two CRMs disagree: "verify" re-reads the contact, which is still in conflict -> a loop by data.
    verify: { kind: 'play', prompt: 'checking-your-data', next: 'who' },
    welcome: { kind: 'menu', prompt: 'welcome', options: { '1': 'sales', '2': 'accounting', '0': 'welcome' } },
    sales: { kind: 'queue', queue: 'sales' },
    accounting: { kind: 'transfer', trunk: 'office', extension: '204' },
    collections: { kind: 'queue', queue: 'collections', prompt: 'please-hold' },
    'vip-queue': { kind: 'queue', queue: 'vip' },
  },
};

function run(input: IvrMenuInput, callerInputs: CallerInput[], lookup: (phone: string) => Promise<ContactLookupResult | undefined>, now?: () => number) {
  const menu = ivrMenuSchema.parse(input);
  const media = new FakeMediaControl(callerInputs);
  const leg = new FakeLeg('inbound', '+14155550001', '+18005550100', () => new Date());
  leg.markAnswered();
  const result = runIvr({ media, promptPath: (p) => `/prompts/${p}.wav`, lookupContact: lookup, now }, menu, leg, '+14155550001');
  return { result, media, leg };
}

describe('IVR menus', () => {
  it('routes by the caller\'s digits', async () => {
    const { result, media } = run(mainMenu, [{ digits: '1' }], async () => undefined);
    await expect(result).resolves.toMatchObject({ kind: 'queue', queue: 'sales', guard: undefined });
    expect(media.played).toEqual(['/prompts/welcome.wav']);
  });

  it('routes by the contact\'s CRM status', async () => {
    const { result } = run(mainMenu, [], async () => ({ status: 'debtor' }));
    await expect(result).resolves.toMatchObject({ kind: 'queue', queue: 'collections', trail: [{ node: 'who', crmStatus: 'debtor' }, { node: 'collections' }] });
    const vip = await run(mainMenu, [], async () => ({ status: 'vip' })).result;
    expect(vip).toMatchObject({ kind: 'queue', queue: 'vip' });
  });

  it('a transfer node asks for a PBX transfer', async () => {
    const { result } = run(mainMenu, [{ digits: '2' }], async () => ({ status: 'lead' }));
    await expect(result).resolves.toMatchObject({ kind: 'transfer', trunk: 'office', extension: '204' });
  });

  it('a failing or slow CRM does not hold the caller: onError / otherwise', async () => {
    const slow = { ...mainMenu, nodes: { ...mainMenu.nodes, who: { kind: 'crm' as const, timeoutMs: 100, branches: {}, otherwise: 'welcome', notFound: 'welcome', onError: 'sales' } } };
    const started = Date.now();
    const { result } = run(slow, [], () => new Promise(() => undefined));
    const outcome = await result;
    expect(outcome).toMatchObject({ kind: 'queue', queue: 'sales', trail: [{ node: 'who', note: 'CRM lookup failed: CRM lookup took longer than 100 ms' }, { node: 'sales' }] });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a caller who hangs up in the menu is reported abandoned', async () => {
    const { result } = run(mainMenu, [{ hangup: true }], async () => undefined);
    await expect(result).resolves.toMatchObject({ kind: 'abandoned' });
  });
});

describe('call me back', () => {
  const callbackMenu: IvrMenuInput = {
    name: 'busy-hours',
    start: 'offer',
    fallbackQueue: 'front-desk',
    nodes: {
      offer: { kind: 'menu', prompt: 'all-agents-busy', options: { '1': 'wait', '2': 'call-me' } },
      wait: { kind: 'queue', queue: 'sales' },
      'call-me': { kind: 'callback', queue: 'sales', delayMinutes: 15, prompt: 'we-will-call-you' },
    },
  };
  const runWith = (scheduleCallback: IvrDeps['scheduleCallback']) => {
    const menu = ivrMenuSchema.parse(callbackMenu);
    const media = new FakeMediaControl([{ digits: '2' }]);
    const leg = new FakeLeg('inbound', '+14155550001', '+18005550100', () => new Date());
    leg.markAnswered();
    const asked: unknown[] = [];
    const deps: IvrDeps = {
      media,
      promptPath: (p) => `/prompts/${p}.wav`,
      lookupContact: async () => undefined,
      ...(scheduleCallback === undefined ? {} : { scheduleCallback: (request) => { asked.push(request); return scheduleCallback(request); } }),
    };
    return { result: runIvr(deps, menu, leg, '+14155550001'), media, asked };
  };

  it('schedules the callback, tells the caller and ends the IVR with it', async () => {
    const { result, media, asked } = runWith(async () => ({ ok: true, callbackId: 'cb-1', at: '2026-11-25T10:15:00.000Z' }));
    await expect(result).resolves.toMatchObject({ kind: 'callback', queue: 'sales', callbackId: 'cb-1', at: '2026-11-25T10:15:00.000Z', trail: [{ node: 'offer', digits: '2' }, { node: 'call-me', note: 'callback cb-1 at 2026-11-25T10:15:00.000Z' }] });
    expect(asked).toEqual([{ queue: 'sales', delayMinutes: 15 }]);
    expect(media.played).toEqual(['/prompts/all-agents-busy.wav', '/prompts/we-will-call-you.wav']);
  });

  it('queues a caller who cannot be called back, saying why, and says nothing it cannot keep', async () => {
    const refused = runWith(async () => ({ ok: false, reason: 'phone: not a phone number' }));
    await expect(refused.result).resolves.toMatchObject({ kind: 'queue', queue: 'sales', reason: 'callback not scheduled (phone: not a phone number)' });
    expect(refused.media.played).toEqual(['/prompts/all-agents-busy.wav']);
    const failing = runWith(async () => {
      throw new Error('database unavailable');
    });
    await expect(failing.result).resolves.toMatchObject({ kind: 'queue', queue: 'sales', reason: 'callback not scheduled (database unavailable)' });
    const none = runWith(undefined);
    await expect(none.result).resolves.toMatchObject({ kind: 'queue', queue: 'sales', reason: 'callback not scheduled (callbacks cannot be scheduled here)' });
  });

  it('a callback node names a queue that must exist, like a queue node', () => {
    const menu = ivrMenuSchema.parse(callbackMenu);
    expect(externalReferences(menu)).toContainEqual({ path: ['nodes', 'call-me', 'queue'], kind: 'queue', name: 'sales' });
    expect(ivrMenuSchema.safeParse({ ...callbackMenu, nodes: { ...callbackMenu.nodes, 'call-me': { kind: 'callback', queue: 'sales', delayMinutes: 2000 } } }).success).toBe(false);
  });
});

describe('loop guard', () => {
  it('a CRM-driven branch whose data loops goes to the fallback queue and records why', async () => {
    let lookups = 0;
    const { result } = run(mainMenu, [], async () => {
      lookups += 1;
      return { status: 'conflict' };
    });
    const outcome = await result;
    expect(outcome).toMatchObject({
      kind: 'queue', queue: 'front-desk',
      guard: { rule: 'node-visits', node: 'who', visits: 4, limit: 3 },
      reason: 'loop guard: node "who" entered 4 times (limit 3)',
    });
    expect(lookups).toBe(3);
  });

  it('revisiting a node within the limit is a normal menu, not a loop', async () => {
    const { result } = run(mainMenu, [{ digits: '0' }, { digits: '0' }, { digits: '1' }], async () => undefined);
    await expect(result).resolves.toMatchObject({ kind: 'queue', queue: 'sales', guard: undefined });
  });

  it('silence repeats the menu only up to the limit', async () => {
    const { result, media } = run(mainMenu, [], async () => undefined); // no digits ever
    await expect(result).resolves.toMatchObject({ kind: 'queue', queue: 'front-desk', guard: { rule: 'node-visits', node: 'welcome' } });
    expect(media.played).toHaveLength(3);
  });

  it('a caller in the IVR longer than maxDurationMs goes to the fallback queue, visits notwithstanding', async () => {
    let clock = 0;
    const longMenu = { ...mainMenu, maxVisitsPerNode: 20, maxDurationMs: 25_000 };
    const { result, media } = run(longMenu, Array.from({ length: 20 }, () => ({ digits: '0' })), async () => undefined, () => clock);
    media.onPrompt = () => (clock += 10_000); // each prompt takes 10 s
    const outcome = await result;
    expect(outcome).toMatchObject({ kind: 'queue', queue: 'front-desk', guard: { rule: 'duration', node: 'welcome', limit: 25_000 } });
    expect(media.played).toHaveLength(3);
  });

  it('a prompt that never finishes is cut at maxDurationMs in real time', async () => {
    const stuck = { ...mainMenu, maxDurationMs: 1_000 };
    const menu = ivrMenuSchema.parse(stuck);
    const leg = new FakeLeg('inbound', '+1', '+2', () => new Date());
    leg.markAnswered();
    const media = new FakeMediaControl();
    media.playAndCollect = () => new Promise(() => undefined);
    const started = Date.now();
    const outcome = await runIvr({ media, promptPath: (p) => p, lookupContact: async () => undefined }, menu, leg, '+1');
    expect(outcome).toMatchObject({ kind: 'queue', queue: 'front-desk', guard: { rule: 'duration', node: 'welcome' } });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('menu validation', () => {
  it('names the path of every reference to a missing node', () => {
    const broken = {
      ...mainMenu,
      start: 'nowhere',
      nodes: {
        ...mainMenu.nodes,
        welcome: { kind: 'menu', prompt: 'welcome', options: { '1': 'sales', '9': 'billing' }, noInput: 'gone' },
        who: { kind: 'crm', branches: { vip: 'vip-lounge' }, otherwise: 'welcome', notFound: 'welcome' },
      },
    };
    const issues = ivrMenuSchema.safeParse(broken).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual(expect.arrayContaining([
      'start: node "nowhere" does not exist',
      'nodes.welcome.options.9: node "billing" does not exist',
      'nodes.welcome.noInput: node "gone" does not exist',
      'nodes.who.branches.vip: node "vip-lounge" does not exist',
    ]));
    expect(issues).toHaveLength(4);
  });

  it('rejects an unknown node kind and options longer than maxDigits', () => {
    const result = ivrMenuSchema.safeParse({
      ...mainMenu,
      nodes: { ...mainMenu.nodes, welcome: { kind: 'menu', prompt: 'welcome', options: { '12': 'sales' } }, odd: { kind: 'voicemail' } },
    });
    const paths = result.error?.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['nodes.odd.kind']));
    const long = ivrMenuSchema.safeParse({ ...mainMenu, nodes: { ...mainMenu.nodes, welcome: { kind: 'menu', prompt: 'welcome', options: { '12': 'sales' } } } });
    expect(long.error?.issues.map((i) => i.path.join('.'))).toEqual(['nodes.welcome.options.12']);
  });
});
