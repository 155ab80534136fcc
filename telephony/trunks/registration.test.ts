import { describe, expect, it } from 'vitest';
import { trunkAor, trunkConfigSchema } from './config.js';
import { TrunkHealth } from './health.js';
import { refreshDelayMs, retryDelayMs } from './registration.js';

const input = {
  name: 'reg', kind: 'carrier', host: 'sbc.carrier.test:5080',
  auth: { mode: 'registration', username: 'hub-01', password: 'pw' }, routes: [{ prefix: '', pricePerMinute: '0.01' }],
} as const;
const trunk = trunkConfigSchema.parse(input);

describe('trunk registration timing and health', () => {
  it('refreshes a minute early for long registrations and half-way for short ones', () => {
    expect(refreshDelayMs(3600)).toBe(3_540_000);
    expect(refreshDelayMs(300)).toBe(240_000);
    expect(refreshDelayMs(60)).toBe(30_000);
    expect(refreshDelayMs(2)).toBe(1_000);
  });

  it('backs off by doubling from the minimum up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 40].map((n) => retryDelayMs(n, 5_000, 60_000))).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000, 60_000]);
  });

  it('defaults and validates the registration settings; the address of record is user@host without port', () => {
    expect(trunk.auth).toMatchObject({ expiresSeconds: 300, retryMinMs: 5_000, retryMaxMs: 300_000 });
    if (trunk.auth.mode !== 'registration') throw new Error('registration trunk expected');
    expect(trunkAor({ ...trunk, auth: trunk.auth })).toBe('sip:hub-01@sbc.carrier.test');
    const bad = trunkConfigSchema.safeParse({ ...input, auth: { ...input.auth, expiresSeconds: 0 } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['auth.expiresSeconds']);
    const inverted = trunkConfigSchema.safeParse({ ...input, auth: { ...input.auth, retryMinMs: 10_000, retryMaxMs: 1_000 } });
    expect(inverted.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['auth.retryMaxMs']);
  });

  it('a failed registration takes the trunk down and only an accepted one brings it back, whatever OPTIONS says', () => {
    const health = new TrunkHealth([trunk]);
    const changes: string[] = [];
    health.onChange((change) => changes.push(`${change.status}: ${change.reason}`));
    expect(health.state('reg').registration?.status).toBe('registering');
    health.recordRegistration('reg', { ok: false, sipStatus: 403, reason: 'REGISTER answered 403 Forbidden', nextAttemptAt: new Date() });
    expect(health.isUp('reg')).toBe(false);
    health.recordProbe('reg', { reachable: true, sipStatus: 200, rttMs: 3 });
    expect(health.isUp('reg')).toBe(false);
    health.recordRegistration('reg', { ok: false, sipStatus: undefined, reason: 'no answer', nextAttemptAt: new Date() });
    expect(health.state('reg').registration?.consecutiveFailures).toBe(2);
    health.recordRegistration('reg', { ok: true, sipStatus: 200, expiresAt: new Date(Date.now() + 60_000), nextAttemptAt: new Date() });
    expect(health.isUp('reg')).toBe(true);
    expect(health.state('reg').registration).toMatchObject({ status: 'registered', consecutiveFailures: 0 });
    expect(changes).toEqual(['down: registration failed: REGISTER answered 403 Forbidden', 'up: REGISTER accepted (200)']);
  });
});
