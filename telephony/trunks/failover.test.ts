// Outbound calls through carrier trunks against the FakeCallControl test double: route choice,
// failover only on the trunk's own failures, health, and what the CDRs say.
import { describe, expect, it } from 'vitest';
import { FakeCallControl, type FakeLeg } from '../fakes/call-control.js';
import { formatMicros } from '../cdr/billing.js';
import { trunkConfigSchema } from './config.js';
import { callDetailRecords, classifyFailure, placeCallWithFailover } from './failover.js';
import { TrunkHealth } from './health.js';
import { selectRoutes } from './routing.js';
import { trunk } from './test-trunks.js';

const request = { callId: 'call-1', to: '+4930123456', callerId: '+4940111111', sdp: 'v=0', ringTimeoutMs: 200 };

describe('route selection', () => {
  it('takes the longest prefix first, then priority, then price', () => {
    const trunks = [
      trunk({ name: 'cheap-generic', priority: 1, routes: [{ prefix: '49', pricePerMinute: '0.001' }] }),
      trunk({ name: 'berlin', priority: 50, routes: [{ prefix: '4930', pricePerMinute: '0.05' }] }),
      trunk({ name: 'berlin-pricey', priority: 10, routes: [{ prefix: '4930', pricePerMinute: '0.09' }] }),
      trunk({ name: 'berlin-cheaper', priority: 10, routes: [{ prefix: '4930', pricePerMinute: '0.03' }] }),
      trunk({ name: 'france', routes: [{ prefix: '33', pricePerMinute: '0.001' }] }),
    ];
    const order = selectRoutes(trunks, '+49 30 123456').candidates.map((c) => c.trunk.name);
    expect(order).toEqual(['berlin-cheaper', 'berlin-pricey', 'berlin', 'cheap-generic']);
  });

  it('uses each trunk\'s longest matching route and rewrites the number for it', () => {
    const t = trunk({ name: 'a', routes: [{ prefix: '', pricePerMinute: '1' }, { prefix: '49', pricePerMinute: '0.1', strip: 2, prepend: '0' }] });
    const [candidate] = selectRoutes([t], '+4930123').candidates;
    expect(candidate?.route.prefix).toBe('49');
    expect(candidate?.dialString).toBe('030123');
  });

  it('leaves pbx trunks out of number routing', () => {
    const pbx = trunk({ name: 'office', kind: 'pbx', routes: [] });
    expect(selectRoutes([pbx], '+4930123').candidates).toEqual([]);
  });

  it('rejects configs with a clear path', () => {
    const result = trunkConfigSchema.safeParse({
      name: 'x', kind: 'carrier', host: 'h', auth: { mode: 'registration', username: 'u' },
      routes: [{ prefix: '+49', pricePerMinute: '0.1', billingIncrement: '60' }],
    });
    const paths = result.error?.issues.map((issue) => issue.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['auth.password', 'routes.0.prefix', 'routes.0.billingIncrement']));
  });
});

describe('placeCallWithFailover', () => {
  it('503 on the primary: the backup carries the call and its CDR bills at the backup\'s price', async () => {
    let clock = Date.parse('2026-01-01T10:00:00Z');
    const now = () => new Date(clock);
    const primary = trunk({ name: 'primary', priority: 1, routes: [{ prefix: '49', pricePerMinute: '0.010', billingIncrement: '60/60' }] });
    const backup = trunk({
      name: 'backup', priority: 2, currency: 'USD',
      auth: { mode: 'registration', username: 'hub', password: 's3cret' },
      routes: [{ prefix: '49', pricePerMinute: '0.030', billingIncrement: '30/6' }],
    });
    const sip = new FakeCallControl(now)
      .script('primary.example', { kind: 'reject', sipStatus: 503, reason: 'Service Unavailable' })
      .script('backup.example', { kind: 'answer' });
    const health = new TrunkHealth([primary, backup], now);

    const result = await placeCallWithFailover(sip, { trunks: [primary, backup], health, now }, request);
    expect(result.outcome).toBe('answered');
    if (result.outcome !== 'answered') return;
    expect(result.trunk).toBe('backup');
    expect(result.attempts.map((a) => [a.trunk, a.outcome, a.sipStatus])).toEqual([
      ['primary', 'failed', 503],
      ['backup', 'answered', 200],
    ]);
    expect(sip.originations[1]?.request.auth).toEqual({ username: 'hub', password: 's3cret' });
    expect(sip.originations[0]?.request.auth).toBeUndefined();

    clock += 40_500; // 40.5 s of talk: 41 s -> 30 + 2x6 = 42 billable seconds
    (result.leg as FakeLeg).remoteHangup();
    const cdrs = await callDetailRecords(result);
    expect(cdrs).toHaveLength(2);
    expect(cdrs[0]).toMatchObject({ callId: 'call-1', attempt: 1, trunk: 'primary', outcome: 'failed', sipStatus: 503, billableSeconds: 0, costMicros: 0 });
    expect(cdrs[1]).toMatchObject({
      callId: 'call-1', attempt: 2, trunk: 'backup', outcome: 'answered', hangupCause: 'normal',
      durationMs: 40_500, billableSeconds: 42, billingIncrement: '30/6', pricePerMinuteMicros: 30_000, currency: 'USD',
    });
    expect(formatMicros(cdrs[1]!.costMicros)).toBe('0.021000');
  });

  it.each([
    [486, 'busy'],
    [603, 'rejected'],
    [404, 'rejected'],
  ])('%i is the callee\'s answer: no failover, the trunk stays healthy', async (status, outcome) => {
    const a = trunk({ name: 'a', priority: 1, health: { failuresBeforeDown: 1 } });
    const b = trunk({ name: 'b', priority: 2 });
    const sip = new FakeCallControl().script('a.example', { kind: 'reject', sipStatus: status }).script('b.example', { kind: 'answer' });
    const health = new TrunkHealth([a, b]);
    const result = await placeCallWithFailover(sip, { trunks: [a, b], health }, request);
    expect(result.outcome).toBe(outcome);
    expect(sip.originations).toHaveLength(1);
    expect(health.isUp('a')).toBe(true);
  });

  it.each([
    ['408', { kind: 'reject', sipStatus: 408 } as const],
    ['500', { kind: 'reject', sipStatus: 500 } as const],
    ['no response', { kind: 'silent' } as const],
  ])('fails over on %s', async (_label, farEnd) => {
    const a = trunk({ name: 'a', priority: 1 });
    const b = trunk({ name: 'b', priority: 2 });
    const sip = new FakeCallControl().script('a.example', farEnd).script('b.example', { kind: 'answer' });
    const result = await placeCallWithFailover(sip, { trunks: [a, b], health: new TrunkHealth([a, b]) }, { ...request, ringTimeoutMs: 50 });
    expect(result.outcome).toBe('answered');
    expect(sip.originations.map((o) => o.request.uri)).toEqual(['sip:4930123456@a.example:5060', 'sip:4930123456@b.example:5060']);
  });

  it('a ring timeout after ringing is the callee not answering, not a trunk failure', async () => {
    const a = trunk({ name: 'a', priority: 1 });
    const b = trunk({ name: 'b', priority: 2 });
    const sip = new FakeCallControl().script('a.example', { kind: 'ring' }).script('b.example', { kind: 'answer' });
    const result = await placeCallWithFailover(sip, { trunks: [a, b], health: new TrunkHealth([a, b]) }, { ...request, ringTimeoutMs: 30 });
    expect(result.outcome).toBe('no-answer');
    expect(sip.originations).toHaveLength(1);
  });

  it('a trunk goes down after N consecutive failures and is skipped until OPTIONS brings it back', async () => {
    const a = trunk({ name: 'a', priority: 1, health: { failuresBeforeDown: 2 } });
    const b = trunk({ name: 'b', priority: 2 });
    const sip = new FakeCallControl().script('a.example', { kind: 'reject', sipStatus: 503 }).script('b.example', { kind: 'answer' });
    const health = new TrunkHealth([a, b]);
    const deps = { trunks: [a, b], health };

    await placeCallWithFailover(sip, deps, request);
    expect(health.isUp('a')).toBe(true);
    await placeCallWithFailover(sip, deps, request);
    expect(health.state('a')).toMatchObject({ status: 'down', consecutiveFailures: 2 });

    const third = await placeCallWithFailover(sip, deps, request);
    expect(third.attempts.map((x) => x.trunk)).toEqual(['b']);
    expect(third.skipped).toEqual([expect.objectContaining({ trunk: 'a', reason: expect.stringMatching(/503/) })]);

    health.recordProbe('a', { reachable: true, sipStatus: 200, rttMs: 3 });
    sip.script('a.example', { kind: 'answer' });
    const fourth = await placeCallWithFailover(sip, deps, request);
    expect(fourth.outcome === 'answered' && fourth.trunk).toBe('a');
  });

  it('reports when every trunk with a route is down, without dialing', async () => {
    const a = trunk({ name: 'a', health: { failuresBeforeDown: 1 } });
    const health = new TrunkHealth([a]);
    health.recordFailure('a', '503 Service Unavailable');
    const sip = new FakeCallControl();
    const result = await placeCallWithFailover(sip, { trunks: [a], health }, request);
    expect(result).toMatchObject({ outcome: 'no-route', reason: expect.stringMatching(/down \(a\)/) });
    expect(sip.originations).toHaveLength(0);
  });

  it('stops trying trunks once the caller gives up', async () => {
    const a = trunk({ name: 'a', priority: 1 });
    const b = trunk({ name: 'b', priority: 2 });
    const sip = new FakeCallControl().script(/./, { kind: 'ring' });
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 20);
    const result = await placeCallWithFailover(sip, { trunks: [a, b], health: new TrunkHealth([a, b]) }, { ...request, ringTimeoutMs: 5_000, signal: abort.signal });
    expect(result.outcome).toBe('cancelled');
    expect(sip.originations).toHaveLength(1);
  });

  it('classifies refused credentials and unpaid balance as the trunk\'s fault', () => {
    for (const status of [401, 402, 407]) {
      expect(classifyFailure({ outcome: 'rejected', sipStatus: status, reason: '', setupMs: 1 })).toEqual({ failover: true, blamesTrunk: true });
    }
  });
});
