// Agents' phones register to the hub over real SIP: SIPp phones send REGISTER through the
// drachtio-server stand-in to the drachtio-srf adapter, answer its digest challenge, and the
// roster's view of who is registered (and where their phone is) follows. Calls then go to the
// registered Contact, and to nobody whose registration was removed or ran out.
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RosterChange } from '../acd/roster.js';
import type { InboundRouting } from '../call-center.js';
import { AgentRegistrar, type AgentSipAccount, type AgentSipAccounts } from '../registration/agent-registrar.js';
import { countOf, nextLoopbackAddress, type SippPeer } from '../testing/sipp.js';
import { E2eRig, eventually } from './harness.js';

/** The accounts as configuration gives them (PostgreSQL in the hub; test/agent-sip-accounts.test.ts covers that store). */
class AccountList implements AgentSipAccounts {
  constructor(private readonly accounts: AgentSipAccount[]) {}
  async byUsername(username: string): Promise<AgentSipAccount | undefined> {
    return this.accounts.find((account) => account.username === username);
  }
}

let rig: E2eRig;
const changes: RosterChange[] = [];

beforeAll(async () => {
  rig = await E2eRig.start();
  const accounts = new AccountList(['ann', 'bob', 'cid', 'dan', 'eve'].map((agentId) => ({ agentId, username: agentId, password: `${agentId}-secret` })));
  new AgentRegistrar(rig.roster, accounts, { realm: 'hub.test', minExpiresSeconds: 1, maxExpiresSeconds: 600 }).attach(rig.hub.callControl);
  rig.roster.onChange((change) => changes.push(change));
});

afterAll(async () => {
  await rig?.stop();
});

/** A SIPp phone registering `user` for `expires` seconds, its calls going to `phone`. */
async function register(user: string, password: string, phone: SippPeer, expires: number) {
  const peer = await rig.peer({
    scenario: 'agent-register', address: nextLoopbackAddress(), target: rig.hubTarget, calls: 1, timeoutSeconds: 10,
    keys: { phone_user: user, phone_contact: phone.hostport, phone_expires: String(expires) }, authUsername: user, authPassword: password,
  });
  return peer.finished();
}

const phone = (service: string, timeoutSeconds: number) =>
  rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service, calls: 1, timeoutSeconds });

async function queuedCall(queue: string, agents: string[], maxWaitMs: number, service: string) {
  const center = rig.callCenter({
    inbound: { queue },
    queues: [{ name: queue, agents, ringTimeoutMs: 3_000, preferredAgentWindowMs: 0, maxWaitMs, wrapUpMs: 0 }],
  });
  const routed: InboundRouting[] = [];
  center.onInboundRouted((routing) => routed.push(routing));
  const caller = await rig.peer({ scenario: 'caller-queued', address: nextLoopbackAddress(), target: rig.hubTarget, service, calls: 1, timeoutSeconds: 15 });
  await eventually(() => routed.length === 1, 5_000, 'the inbound call to be queued');
  const routing = routed[0]!;
  if (routing.carriedOut.kind !== 'queued') throw new Error(`carried out as ${routing.carriedOut.kind}`);
  return { caller, routing, outcome: await routing.carriedOut.queued.result };
}

describe('agents register their phones with the hub', () => {
  it('a phone that answers the digest challenge is registered at its Contact, and an inbound call rings it there', async () => {
    const annPhone = await phone('ann', 15);
    rig.roster.add('ann');
    rig.roster.login('ann');
    rig.roster.setReady('ann');
    expect(rig.roster.isOfferable('ann')).toBe(false);

    const run = await register('ann', 'ann-secret', annPhone, 120);
    expect(countOf(run, '401')).toBe(1);
    expect(countOf(run, '200')).toBe(1);
    expect(countOf(run, '403')).toBe(0);
    const view = rig.roster.view('ann');
    expect(view.registered).toBe(true);
    expect(view.registration?.contactUri).toBe(`sip:ann@${annPhone.hostport}`);
    const left = view.registration!.expiresAt.getTime() - Date.now();
    expect(left).toBeGreaterThan(110_000);
    expect(left).toBeLessThanOrEqual(120_000);

    const { caller, routing, outcome } = await queuedCall('registered', ['ann'], 10_000, '4200');
    expect(outcome).toMatchObject({ outcome: 'connected', agentId: 'ann' });
    await routing.call.hangup();
    const [callerRun, annRun] = await Promise.all([caller.finished(), annPhone.finished()]);
    expect(callerRun.successful).toBe(1);
    expect(countOf(annRun, 'INVITE')).toBe(1);
    expect(countOf(annRun, 'BYE')).toBe(1);
  });

  it('a wrong password gets 403 and leaves the agent unregistered', async () => {
    const bobPhone = await phone('bob', 3);
    rig.roster.add('bob');
    const run = await register('bob', 'not-bobs-password', bobPhone, 120);
    expect(countOf(run, '401')).toBe(1);
    expect(countOf(run, '403')).toBe(1);
    expect(countOf(run, '200')).toBe(0);
    expect(rig.roster.view('bob').registered).toBe(false);
    // Somebody else's credentials do not register bob either.
    const borrowed = await rig.peer({
      scenario: 'agent-register', address: nextLoopbackAddress(), target: rig.hubTarget, calls: 1, timeoutSeconds: 10,
      keys: { phone_user: 'bob', phone_contact: bobPhone.hostport, phone_expires: '120' }, authUsername: 'eve', authPassword: 'eve-secret',
    });
    expect(countOf(await borrowed.finished(), '403')).toBe(1);
    expect(rig.roster.view('bob').registered).toBe(false);
    expect(rig.roster.view('bob').registration).toBeUndefined();
  });

  it('a phone that unregisters (Expires: 0) and one whose registration ran out are never rung', async () => {
    const [cidPhone, danPhone] = await Promise.all([phone('cid', 5), phone('dan', 5)]);
    for (const agent of ['cid', 'dan']) {
      rig.roster.add(agent);
      rig.roster.login(agent);
      rig.roster.setReady(agent);
    }
    expect(countOf(await register('cid', 'cid-secret', cidPhone, 300), '200')).toBe(1);
    expect(rig.roster.isOfferable('cid')).toBe(true);
    const unregisterRun = await register('cid', 'cid-secret', cidPhone, 0);
    expect(countOf(unregisterRun, '200')).toBe(1);
    expect(rig.roster.view('cid').registered).toBe(false);
    expect(changes.some((change) => change.agentId === 'cid' && change.reason === 'unregistered by the phone')).toBe(true);

    // dan registers for 1 s and never refreshes.
    const registeredAt = Date.now();
    expect(countOf(await register('dan', 'dan-secret', danPhone, 1), '200')).toBe(1);
    expect(rig.roster.isOfferable('dan')).toBe(true);
    await eventually(() => changes.some((change) => change.agentId === 'dan' && change.reason === 'registration expired'), 3_000, "dan's registration to expire");
    expect(Date.now() - registeredAt).toBeGreaterThanOrEqual(900);
    expect(rig.roster.view('dan').registered).toBe(false);

    const { caller, routing, outcome } = await queuedCall('nobody-registered', ['cid', 'dan'], 1_500, '4201');
    expect(outcome.outcome).toBe('timed-out');
    expect(outcome.offers).toEqual([]);
    await routing.call.hangup();
    const [, cidRun, danRun] = await Promise.all([caller.finished(), cidPhone.finished(), danPhone.finished()]);
    for (const [agent, run] of [['cid', cidRun], ['dan', danRun]] as const) {
      expect(run.lines.length, `${agent}'s SIPp screen was read`).toBeGreaterThan(0);
      expect(countOf(run, 'INVITE'), `${agent} was rung`).toBe(0);
    }
  });

  it('a REGISTER flood and malformed REGISTERs get answers, not a crash, and a real phone still registers', async () => {
    const flood = await rig.peer({
      scenario: 'register-flood', address: nextLoopbackAddress(), target: rig.hubTarget, calls: 600, rate: 300, concurrency: 100,
      timeoutSeconds: 20, keys: { phone_user: 'scanner' },
    });
    const garbage = [
      ['bad Expires', 'Contact: <sip:eve@127.0.0.9:5060>\r\nExpires: soon'],
      ['Contact without a SIP URI', 'Contact: <mailto:eve@example.com>\r\nExpires: 60'],
      ['Contact * without Expires: 0', 'Contact: *\r\nExpires: 60'],
      ['Contact expires not a number', 'Contact: <sip:eve@127.0.0.9:5060>;expires=-1'],
    ] as const;
    const answers = await sendRaw(garbage.map(([, headers]) => headers));
    for (const [index, [what]] of garbage.entries()) {
      expect(answers[index], what).toMatch(/^SIP\/2\.0 400 /);
      expect(answers[index], what).toMatch(/\r\nX-Reason: .+/);
    }
    const floodRun = await flood.finished();
    expect(floodRun.successful).toBe(600);
    expect(countOf(floodRun, '401')).toBe(600);

    const evePhone = await phone('eve', 2);
    expect(countOf(await register('eve', 'eve-secret', evePhone, 60), '200')).toBe(1);
    expect(rig.roster.view('eve').registered).toBe(true);
  });
});

/** Sends hand-made REGISTERs from a raw UDP socket and returns the first answer line-set to each. */
async function sendRaw(extraHeaders: readonly string[]): Promise<string[]> {
  const address = nextLoopbackAddress();
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  const { port } = socket.address();
  const [hubHost, hubPort] = rig.hubTarget.split(':');
  const answers = new Map<string, string>();
  socket.on('message', (data) => {
    const text = data.toString();
    const callId = /\r\nCall-ID:\s*(\S+)/i.exec(text)?.[1];
    if (callId && !answers.has(callId)) answers.set(callId, text);
  });
  const callIds = extraHeaders.map((headers, index) => {
    const callId = `raw-${index}-${Date.now()}`;
    const message = [
      `REGISTER sip:${rig.hubTarget} SIP/2.0`,
      `Via: SIP/2.0/UDP ${address}:${port};branch=z9hG4bKraw${index}${Date.now()}`,
      `From: <sip:eve@${hubHost}>;tag=raw${index}`,
      `To: <sip:eve@${hubHost}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 REGISTER',
      headers,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    socket.send(message, Number(hubPort), hubHost);
    return callId;
  });
  try {
    await eventually(() => callIds.every((callId) => answers.has(callId)), 5_000, 'answers to the malformed REGISTERs');
    return callIds.map((callId) => answers.get(callId)!);
  } finally {
    socket.close();
  }
}
