// Outbound failover over real SIP: the primary carrier (SIPp) answers 503, the backup carrier
// (another SIPp) answers; placeCallWithFailover runs over the drachtio-srf adapter and the CDRs
// bill the backup's route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callDetailRecords } from '../trunks/failover.js';
import { HOLD_SDP } from '../testing/hub.js';
import { countOf, nextLoopbackAddress } from '../testing/sipp.js';
import { E2eRig } from './harness.js';

let rig: E2eRig;

beforeAll(async () => {
  rig = await E2eRig.start();
});

afterAll(async () => {
  await rig?.stop();
});

describe('trunk failover over SIP', () => {
  it('primary answers 503: the backup trunk carries the call and its CDR shows the backup with its price and billable seconds', async () => {
    const primary = await rig.peer({ scenario: 'carrier-unavailable', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15 });
    const backup = await rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15 });
    const center = rig.callCenter({
      queues: [],
      trunks: [
        { name: 'primary', kind: 'carrier', host: primary.hostport, auth: { mode: 'ip' }, priority: 1, currency: 'EUR',
          routes: [{ prefix: '49', pricePerMinute: '0.010', billingIncrement: '60/60' }] },
        // 0.06 per minute, per second: 1000 micro-units a billed second.
        { name: 'backup', kind: 'carrier', host: backup.hostport, auth: { mode: 'ip' }, priority: 2, currency: 'EUR',
          routes: [{ prefix: '49', pricePerMinute: '0.060', billingIncrement: '1/1', strip: 2, prepend: '0' }] },
      ],
    });

    const result = await center.placeCall({ callId: 'e2e-failover-1', to: '+4930123456', callerId: '+4940111111', sdp: HOLD_SDP, ringTimeoutMs: 5_000 });
    expect(result.outcome).toBe('answered');
    if (result.outcome !== 'answered') return;
    expect(result.trunk).toBe('backup');
    expect(result.attempts.map((attempt) => [attempt.trunk, attempt.outcome, attempt.sipStatus])).toEqual([
      ['primary', 'failed', 503],
      ['backup', 'answered', 200],
    ]);
    // The backup's route rewrote the number for that carrier.
    expect(result.attempts[1]?.uri).toBe(`sip:030123456@${backup.hostport}`);

    const talkMs = 1_200;
    await new Promise((resolve) => setTimeout(resolve, talkMs));
    await result.leg.hangup();
    const [failed, carried] = await callDetailRecords(result);

    expect(failed).toMatchObject({ callId: 'e2e-failover-1', attempt: 1, trunk: 'primary', outcome: 'failed', sipStatus: 503, billableSeconds: 0, costMicros: 0 });
    expect(carried).toMatchObject({
      callId: 'e2e-failover-1', attempt: 2, trunk: 'backup', routePrefix: '49', outcome: 'answered', hangupCause: 'normal',
      billingIncrement: '1/1', pricePerMinuteMicros: 60_000, currency: 'EUR', sipCallId: result.leg.sipCallId,
    });
    // Talked a little over 1.2 s: two started seconds, billed per second at the backup's price.
    expect(carried!.durationMs).toBeGreaterThanOrEqual(talkMs);
    expect(carried!.durationMs).toBeLessThan(talkMs + 800);
    expect(carried!.billableSeconds).toBe(Math.ceil(carried!.durationMs / 1000));
    expect(carried!.costMicros).toBe(carried!.billableSeconds * 1_000);

    // What the carriers saw on the wire.
    const [primaryRun, backupRun] = await Promise.all([primary.finished(), backup.finished()]);
    expect(countOf(primaryRun, '503')).toBe(1);
    expect(countOf(primaryRun, 'ACK')).toBe(1);
    expect(backupRun.successful).toBe(1);
    expect(countOf(backupRun, 'BYE')).toBe(1);
    expect(center.health.state('primary')).toMatchObject({ status: 'up', consecutiveFailures: 1 });
  });
});
