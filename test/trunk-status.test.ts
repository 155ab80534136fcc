// A registration trunk's health reaches the API: the telephony side (CallCenter over the drachtio
// stand-in) registers two trunks with SIPp registrars, one accepting, one refusing with 403, and
// publishes their health to PostgreSQL; GET /v1/telephony/trunks/{name}/status shows it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRoster } from '../telephony/acd/roster.js';
import { CallCenter } from '../telephony/call-center.js';
import type { RunningCallControl } from '../telephony/sip/start.js';
import { HOLD_SDP, startTestCallControl } from '../telephony/testing/hub.js';
import { nextLoopbackAddress, startSipp, type SippPeer } from '../telephony/testing/sipp.js';
import { trunkConfigSchema } from '../telephony/trunks/config.js';
import { TrunkStatusStore } from '../telephony/trunks/status-store.js';
import { eventually } from '../telephony/e2e/harness.js';
import { startTestHub, type TestHub } from './support/hub.js';

let hub: TestHub;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
});
afterAll(async () => {
  await hub?.close();
});

async function status(trunk: string) {
  const response = await hub.request(`/v1/telephony/trunks/${trunk}/status`, { method: 'GET' });
  return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as Json };
}

describe('GET /v1/telephony/trunks/{name}/status', () => {
  it('shows a registered trunk with its expiry, and a trunk whose carrier refuses the REGISTER as down with the reason', async () => {
    const missing = await status('nobody');
    expect(missing.status).toBe(404);
    expect(missing.type).toBe('application/problem+json');

    let sip: RunningCallControl | undefined;
    let center: CallCenter | undefined;
    let stopPublishing: (() => void) | undefined;
    const peers: SippPeer[] = [];
    try {
      sip = await startTestCallControl();
      peers.push(await startSipp({ scenario: 'registrar-digest', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15, keys: { granted_expires: '600' } }));
      peers.push(await startSipp({ scenario: 'registrar-forbidden', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15 }));
      const trunk = (name: string, host: string) => trunkConfigSchema.parse({
        name, kind: 'carrier', host, routes: [{ prefix: '', pricePerMinute: '0.01' }],
        auth: { mode: 'registration', username: 'trunk-user', password: 'trunk-pass', expiresSeconds: 600, retryMinMs: 60_000 },
      });
      center = new CallCenter({
        callControl: sip.callControl, registrations: sip.callControl, roster: new AgentRoster(), queues: [], holdSdp: HOLD_SDP, notifyAgent: () => undefined,
        trunks: [trunk('accepting', peers[0]!.hostport), trunk('refusing', peers[1]!.hostport)],
      });
      stopPublishing = new TrunkStatusStore(hub.db).publish(hub.projectId, center.health);

      await eventually(() => center!.health.state('accepting').registration?.status === 'registered' && center!.health.state('refusing').status === 'down', 5_000, 'both registrations to be answered');
      let accepting: Json = {};
      let refusing: Json = {};
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        [accepting, refusing] = [(await status('accepting')).body, (await status('refusing')).body];
        if (accepting.registration?.status === 'registered' && refusing.status === 'down') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(accepting).toMatchObject({ trunk: 'accepting', status: 'up', registration: { status: 'registered', sipStatus: 200, consecutiveFailures: 0 } });
      const expiresIn = Date.parse(accepting.registration.expiresAt) - Date.now();
      expect(expiresIn).toBeGreaterThan(590_000);
      expect(expiresIn).toBeLessThanOrEqual(600_000);
      expect(refusing).toMatchObject({ trunk: 'refusing', status: 'down', registration: { status: 'failed', sipStatus: 403, consecutiveFailures: 1 } });
      expect(refusing.lastFailure).toMatch(/403/);
      expect(Date.parse(refusing.registration.nextAttemptAt) - Date.now()).toBeGreaterThan(50_000);
    } finally {
      stopPublishing?.();
      await center?.closeAndUnregister();
      for (const peer of peers) peer.stop();
      await sip?.stop();
    }
  });
});
