// The OPTIONS probe scheduler against the FakeCallControl test double.
import { describe, expect, it } from 'vitest';
import { FakeCallControl } from '../fakes/call-control.js';
import { TrunkHealth, TrunkProbeScheduler, type HealthChange } from './health.js';
import { trunk } from './test-trunks.js';

describe('TrunkProbeScheduler', () => {
  it('probes a down carrier until it answers, and leaves an up carrier alone', async () => {
    let clock = 0;
    const carrier = trunk({ name: 'carrier', health: { failuresBeforeDown: 1, probeIntervalMs: 1_000 } });
    const other = trunk({ name: 'other' });
    const health = new TrunkHealth([carrier, other]);
    const changes: HealthChange[] = [];
    health.onChange((change) => changes.push(change));
    const sip = new FakeCallControl().scriptProbe('carrier.example', { reachable: false, sipStatus: undefined, rttMs: 2_000 });
    const scheduler = new TrunkProbeScheduler(sip, [carrier, other], health, () => clock);

    await scheduler.probeDue();
    expect(sip.probes).toHaveLength(0);

    health.recordFailure('carrier', '503 Service Unavailable');
    await scheduler.probeDue();
    expect(sip.probes.map((p) => p.uri)).toEqual(['sip:carrier.example:5060']);
    expect(health.isUp('carrier')).toBe(false);

    clock += 500;
    await scheduler.probeDue();
    expect(sip.probes).toHaveLength(1); // not due yet

    sip.scriptProbe('carrier.example', { reachable: true, sipStatus: 200, rttMs: 4 });
    clock += 500;
    await scheduler.probeDue();
    expect(health.state('carrier')).toMatchObject({ status: 'up', consecutiveFailures: 0 });
    expect(changes.map((c) => [c.trunk, c.status])).toEqual([['carrier', 'down'], ['carrier', 'up']]);
  });

  it('watches a PBX gateway while up, so a gateway without power is down before anyone transfers', async () => {
    let clock = 0;
    const gateway = trunk({ name: 'office', kind: 'pbx', routes: [], health: { failuresBeforeDown: 2, probeIntervalMs: 100 } });
    const health = new TrunkHealth([gateway]);
    const sip = new FakeCallControl().scriptProbe('office.example', { reachable: false, sipStatus: undefined, rttMs: 2_000 });
    const scheduler = new TrunkProbeScheduler(sip, [gateway], health, () => clock);
    await scheduler.probeDue();
    clock += 100;
    await scheduler.probeDue();
    expect(health.state('office')).toMatchObject({ status: 'down', lastFailure: 'no answer to OPTIONS' });
  });

  it('runs on its own once started, over the trunk\'s transport', async () => {
    const carrier = trunk({ name: 'carrier', transport: 'tls', health: { failuresBeforeDown: 1, probeIntervalMs: 100 } });
    const health = new TrunkHealth([carrier]);
    health.recordFailure('carrier', '503 Service Unavailable');
    const sip = new FakeCallControl();
    const scheduler = new TrunkProbeScheduler(sip, [carrier], health);
    scheduler.start(10);
    try {
      const deadline = Date.now() + 2_000;
      while (!health.isUp('carrier') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    } finally {
      scheduler.stop();
    }
    expect(health.isUp('carrier')).toBe(true);
    expect(sip.probes[0]?.uri).toBe('sip:carrier.example:5060;transport=tls');
  });
});
