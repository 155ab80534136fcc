// The agent roster's state machine and its single door to an agent's phone.
import { describe, expect, it } from 'vitest';
import { AgentOffer, AgentRoster, AgentStateError } from './roster.js';

function roster() {
  let clock = Date.parse('2026-01-01T09:00:00Z');
  const r = new AgentRoster(() => new Date(clock));
  return { r, advance: (ms: number) => (clock += ms) };
}

describe('AgentRoster', () => {
  it('offers only a logged-in, registered, ready agent, once', () => {
    const { r } = roster();
    r.add('ann');
    expect(r.claimForOffer('ann', 'c1')).toBeUndefined(); // logged out
    r.login('ann');
    r.setReady('ann');
    expect(r.claimForOffer('ann', 'c1')).toBeUndefined(); // no registration
    r.register('ann', 'sip:ann@desk.test', 60_000);
    const offer = r.claimForOffer('ann', 'c1');
    expect(offer).toMatchObject({ agentId: 'ann', contactUri: 'sip:ann@desk.test' });
    expect(r.view('ann').status).toBe('ringing');
    expect(r.claimForOffer('ann', 'c2')).toBeUndefined(); // already ringing for c1
    expect(r.claimForOffer('nobody', 'c3')).toBeUndefined();
  });

  it('an expired registration is no registration', () => {
    const { r, advance } = roster();
    r.add('ann');
    r.login('ann');
    r.register('ann', 'sip:ann@desk.test', 1_000);
    r.setReady('ann');
    advance(1_000);
    expect(r.view('ann').registered).toBe(false);
    expect(r.claimForOffer('ann', 'c1')).toBeUndefined();
  });

  it('a registration nobody refreshes lapses by itself: listeners hear of it and a ringing offer is withdrawn; a refresh keeps it', async () => {
    const r = new AgentRoster();
    const reasons: (string | undefined)[] = [];
    r.onChange((change) => reasons.push(change.reason));
    for (const agent of ['ann', 'bob']) {
      r.add(agent);
      r.login(agent);
      r.register(agent, `sip:${agent}@desk.test`, 60);
      r.setReady(agent);
    }
    const offer = r.claimForOffer('ann', 'c1');
    // bob's phone refreshes before the end; ann's does not.
    await new Promise((resolve) => setTimeout(resolve, 30));
    r.register('bob', 'sip:bob@desk.test', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(r.view('ann').registered).toBe(false);
    expect(offer?.signal.aborted).toBe(true);
    expect(reasons).toContain('registration expired');
    expect(r.view('bob').registered).toBe(true);
    expect(r.isOfferable('bob')).toBe(true);
  });

  it('a phone registering elsewhere withdraws the offer ringing the old one', () => {
    const { r } = roster();
    r.add('ann');
    r.login('ann');
    r.register('ann', 'sip:ann@desk.test', 60_000);
    r.setReady('ann');
    const offer = r.claimForOffer('ann', 'c1');
    r.register('ann', 'sip:ann@desk.test', 60_000);
    expect(offer?.signal.aborted).toBe(false);
    r.register('ann', 'sip:ann@laptop.test', 60_000);
    expect(offer?.signal.aborted).toBe(true);
    expect(r.view('ann').registration?.contactUri).toBe('sip:ann@laptop.test');
  });

  it('offers cannot be forged', () => {
    const forge = AgentOffer as unknown as new (token: symbol, agentId: string, callId: string, uri: string) => AgentOffer;
    expect(() => new forge(Symbol('agent-offer'), 'ann', 'c1', 'sip:ann@desk.test')).toThrow(/claimForOffer/);
  });

  it('logging out or unregistering while ringing aborts the offer', () => {
    const { r } = roster();
    for (const agent of ['ann', 'bob']) {
      r.add(agent);
      r.login(agent);
      r.register(agent, `sip:${agent}@desk.test`, 60_000);
      r.setReady(agent);
    }
    const annOffer = r.claimForOffer('ann', 'c1');
    const bobOffer = r.claimForOffer('bob', 'c2');
    r.logout('ann');
    r.unregister('bob');
    expect(annOffer?.signal.aborted).toBe(true);
    expect(bobOffer?.signal.aborted).toBe(true);
    expect(r.view('ann').status).toBe('logged-out');
  });

  it('busy agents can neither log out nor be set not-ready; a call ends in wrap-up, then ready at the back', async () => {
    const { r, advance } = roster();
    r.add('ann');
    r.login('ann');
    r.register('ann', 'sip:ann@desk.test', 60_000);
    r.setReady('ann');
    const firstIdle = r.view('ann').idleSince;
    const offer = r.claimForOffer('ann', 'c1') as AgentOffer;
    r.offerAnswered(offer);
    expect(() => r.logout('ann')).toThrow(AgentStateError);
    expect(() => r.setNotReady('ann', 'lunch')).toThrow(AgentStateError);
    advance(60_000);
    r.callEnded('ann', 5);
    expect(r.view('ann').status).toBe('wrap-up');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(r.view('ann').status).toBe('ready');
    expect(r.view('ann').idleSince?.getTime()).toBeGreaterThan(firstIdle?.getTime() ?? Infinity);
  });

  it('knows since when each agent is in their status: talking since the answer, wrapping up since the call ended', () => {
    const { r, advance } = roster();
    r.add('ann');
    const loggedOutAt = r.view('ann').statusSince.getTime();
    advance(1_000);
    r.login('ann');
    r.register('ann', 'sip:ann@desk.test', 600_000);
    advance(1_000);
    r.setReady('ann');
    const readyAt = r.view('ann').statusSince.getTime();
    expect(readyAt - loggedOutAt).toBe(2_000);
    advance(30_000);
    const offer = r.claimForOffer('ann', 'c1') as AgentOffer;
    advance(4_000);
    r.offerAnswered(offer);
    const talkingSince = r.view('ann').statusSince.getTime();
    expect(talkingSince - readyAt).toBe(34_000);
    advance(90_000);
    // Registering again (a refresh) changes nothing about the status.
    r.register('ann', 'sip:ann@desk.test', 600_000);
    expect(r.view('ann').statusSince.getTime()).toBe(talkingSince);
    r.callEnded('ann', 60_000);
    expect(r.view('ann')).toMatchObject({ status: 'wrap-up' });
    expect(r.view('ann').statusSince.getTime() - talkingSince).toBe(90_000);
    r.setReady('ann');
  });
});
