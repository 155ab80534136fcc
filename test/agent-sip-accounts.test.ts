// Agents' SIP accounts through the API (password sealed, write-only, 422/409 naming the field),
// and the account as stored is what a real phone registers with: a SIPp phone REGISTERs through
// the drachtio-server stand-in to a registrar that reads the accounts from PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../core/secrets/secret-box.js';
import { AgentRoster } from '../telephony/acd/roster.js';
import { AgentAccountStore } from '../telephony/registration/agent-accounts.js';
import { AgentRegistrar } from '../telephony/registration/agent-registrar.js';
import type { RunningCallControl } from '../telephony/sip/start.js';
import { startTestCallControl } from '../telephony/testing/hub.js';
import { countOf, nextLoopbackAddress, startSipp, type SippPeer } from '../telephony/testing/sipp.js';
import { startTestHub, type TestHub } from './support/hub.js';

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
});
afterAll(async () => {
  await hub?.close();
});

function call(method: string, path: string, json?: unknown) {
  return hub.call(method, path, json);
}

describe('/v1/telephony/agents', () => {
  it('stores the password sealed and never returns it; an update without password keeps it', async () => {
    const created = await call('PUT', '/v1/telephony/agents/ann', { password: 'ann-desk-phone-1' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ agent: 'ann', username: 'ann', password: 'set' });
    const row = await hub.db.agentSipAccount.findFirstOrThrow({ where: { projectId: hub.projectId, agentId: 'ann' } });
    expect(JSON.stringify(row)).not.toContain('ann-desk-phone-1');

    const renamed = await call('PUT', '/v1/telephony/agents/ann', { username: 'ann.lee' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toEqual({ agent: 'ann', username: 'ann.lee', password: 'set' });
    const accounts = new AgentAccountStore(hub.db, new SecretBox(hub.secretKey)).forProject(hub.projectId);
    expect(await accounts.byUsername('ann.lee')).toEqual({ agentId: 'ann', username: 'ann.lee', password: 'ann-desk-phone-1' });
    expect(await accounts.byUsername('ann')).toBeUndefined();
    expect((await call('GET', '/v1/telephony/agents')).body).toEqual({ agents: [{ agent: 'ann', username: 'ann.lee', password: 'set' }] });
  });

  it('refuses bad accounts with 4xx problem+json naming the field', async () => {
    const short = await call('PUT', '/v1/telephony/agents/bob', { password: 'short' });
    expect(short.status).toBe(422);
    expect(short.type).toBe('application/problem+json');
    expect(short.body.errors).toEqual([{ field: 'password', message: 'at least 8 characters' }]);
    const missing = await call('PUT', '/v1/telephony/agents/bob', { username: 'bob' });
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual([{ field: 'password', message: 'required' }]);
    const badUser = await call('PUT', '/v1/telephony/agents/bob', { username: 'bob smith', password: 'long-enough' });
    expect(badUser.status).toBe(422);
    expect(badUser.body.errors[0].field).toBe('username');
    const taken = await call('PUT', '/v1/telephony/agents/bob', { username: 'ann.lee', password: 'long-enough' });
    expect(taken.status).toBe(409);
    expect(taken.body.errors).toEqual([{ field: 'username', message: 'already in use' }]);
    expect((await call('GET', '/v1/telephony/agents/bob')).status).toBe(404);
    expect((await call('DELETE', '/v1/telephony/agents/bob')).status).toBe(404);
  });

  it('a phone registers with the stored account: the right password binds it, a wrong one gets 403', async () => {
    expect((await call('PUT', '/v1/telephony/agents/cid', { username: 'cid-desk', password: 'cid-desk-secret' })).status).toBe(201);
    const roster = new AgentRoster();
    const store = new AgentAccountStore(hub.db, new SecretBox(hub.secretKey));
    let sip: RunningCallControl | undefined;
    const peers: SippPeer[] = [];
    try {
      sip = await startTestCallControl();
      new AgentRegistrar(roster, store.forProject(hub.projectId), { realm: 'hub.test' }).attach(sip.callControl);
      const { address, port } = sip.callControl.sipAddress;
      const register = async (password: string) => {
        const peer = await startSipp({
          scenario: 'agent-register', address: nextLoopbackAddress(), target: `${address}:${port}`, calls: 1, timeoutSeconds: 10,
          keys: { phone_user: 'cid-desk', phone_contact: '127.0.0.9:5062', phone_expires: '300' }, authUsername: 'cid-desk', authPassword: password,
        });
        peers.push(peer);
        return peer.finished();
      };
      expect(countOf(await register('not-the-password'), '403')).toBe(1);
      roster.add('cid');
      expect(roster.view('cid').registered).toBe(false);
      expect(countOf(await register('cid-desk-secret'), '200')).toBe(1);
      expect(roster.view('cid')).toMatchObject({ registered: true, registration: { contactUri: 'sip:cid-desk@127.0.0.9:5062' } });
    } finally {
      for (const peer of peers) peer.stop();
      await sip?.stop();
    }
  });
});
