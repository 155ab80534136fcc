// Registration trunks REGISTER with their carrier over real SIP: a SIPp registrar challenges every
// REGISTER with digest and grants a short time, so the refreshes (same Call-ID, answered challenges)
// are seen on the wire; a registrar that stops answering, or answers 403, takes the trunk down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrunkConfigInput } from '../trunks/config.js';
import { countOf, nextLoopbackAddress } from '../testing/sipp.js';
import { E2eRig, eventually } from './harness.js';

let rig: E2eRig;

beforeAll(async () => {
  rig = await E2eRig.start();
});

afterAll(async () => {
  await rig?.stop();
});

const registrationTrunk = (name: string, host: string, password: string): TrunkConfigInput => ({
  name, kind: 'carrier', host,
  auth: { mode: 'registration', username: 'trunk-user', password, expiresSeconds: 60, retryMinMs: 300, retryMaxMs: 1_000 },
  routes: [{ prefix: '', pricePerMinute: '0.01' }],
});

describe('registration trunks register with their carrier', () => {
  it('answers the digest challenge, refreshes before the granted time runs out, and goes down when the registrar falls silent', async () => {
    const registrar = await rig.peer({
      scenario: 'registrar-digest', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15, keys: { granted_expires: '2' },
    });
    const started = Date.now();
    const center = rig.callCenter({ queues: [], trunks: [registrationTrunk('reg-carrier', registrar.hostport, 'trunk-pass')], registrations: rig.hub.callControl, registrationTimeoutMs: 2_000 });
    await eventually(() => center.health.state('reg-carrier').registration?.status === 'registered', 5_000, 'the first registration');
    const first = center.health.state('reg-carrier').registration!;
    // The registrar granted 2 s of the 60 asked for: that is what counts.
    expect(first.expiresAt!.getTime() - Date.now()).toBeLessThanOrEqual(2_000);
    expect(first.nextAttemptAt!.getTime() - Date.now()).toBeLessThanOrEqual(1_000);

    // The registrar expects the registration and two refreshes, each challenged, then exits.
    const run = await registrar.finished();
    expect(run.successful).toBe(1);
    expect(countOf(run, 'REGISTER')).toBe(6);
    expect(countOf(run, '401')).toBe(3);
    expect(countOf(run, '200')).toBe(3);
    expect(countOf(run, '403')).toBe(0);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1_800);
    expect(elapsed).toBeLessThan(6_000);
    expect(center.health.state('reg-carrier')).toMatchObject({ status: 'up', registration: { status: 'registered', sipStatus: 200 } });

    // Nobody answers the next refresh: the trunk is down and unregistered, and retried with back-off.
    await eventually(() => center.health.state('reg-carrier').status === 'down', 6_000, 'the trunk to go down');
    const down = center.health.state('reg-carrier');
    expect(down.registration).toMatchObject({ status: 'failed', sipStatus: undefined });
    expect(down.registration?.lastError).toMatch(/no answer/);
    expect(down.registration?.nextAttemptAt).toBeInstanceOf(Date);
  });

  it('a registrar answering 403 marks the trunk down with the reason, and an OPTIONS answer does not bring it back', async () => {
    const registrar = await rig.peer({ scenario: 'registrar-forbidden', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 10 });
    const center = rig.callCenter({ queues: [], trunks: [registrationTrunk('suspended', registrar.hostport, 'trunk-pass')], registrations: rig.hub.callControl, registrationTimeoutMs: 2_000 });
    await eventually(() => center.health.state('suspended').status === 'down', 5_000, 'the trunk to go down');
    const state = center.health.state('suspended');
    expect(state.registration).toMatchObject({ status: 'failed', sipStatus: 403, consecutiveFailures: 1 });
    expect(state.lastFailure).toMatch(/403/);
    const run = await registrar.finished();
    expect(countOf(run, 'REGISTER')).toBe(1);
    expect(countOf(run, '403')).toBe(1);
    // The carrier is there (it answers), but it will not take our calls: the trunk stays down.
    center.health.recordProbe('suspended', { reachable: true, sipStatus: 200, rttMs: 1 });
    expect(center.health.isUp('suspended')).toBe(false);
    // Retried with back-off (the registrar has gone: no answer counts as another failure).
    await eventually(() => (center.health.state('suspended').registration?.consecutiveFailures ?? 0) >= 2, 6_000, 'a retry');
  });
});
