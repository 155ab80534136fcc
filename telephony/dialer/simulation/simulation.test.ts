// The dialer simulator: its outcome stream, its bookkeeping and the baselines it runs.
import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.js';
import { defaultOutcomeSettings, outcomeStream } from './outcomes.js';
import { fixedLevelPolicy, predictivePolicy, progressivePolicy, roundHalfEven } from './policies.js';
import { simulateDay, type SimulationResult, type SimulationSettings } from './simulator.js';
import { vicidialAdaptPolicy } from './vicidial-adapt.js';

const settings = (overrides: Partial<SimulationSettings> = {}): SimulationSettings => ({
  agents: 20,
  daySeconds: 2 * 3600,
  dayStartSecondsOfDay: 9 * 3600,
  connectSeconds: 2,
  outcomes: defaultOutcomeSettings,
  seed: 7,
  recentCallsKept: 400,
  recentHandlesKept: 200,
  ...overrides,
});

function expectConserved(result: SimulationResult) {
  expect(result.answered + result.noAnswer + result.ringingAtEnd).toBe(result.dialed);
  expect(result.connected + result.abandoned + result.waitingAtEnd).toBe(result.answered);
}

describe('outcome stream', () => {
  it('gives the k-th call the same outcome whatever came before, and matches the configured distributions', () => {
    const stream = outcomeStream(3, defaultOutcomeSettings);
    const again = outcomeStream(3, defaultOutcomeSettings);
    expect(stream(12_345)).toEqual(again(12_345));
    expect(stream(1)).not.toEqual(outcomeStream(4, defaultOutcomeSettings)(1));
    const outcomes = Array.from({ length: 40_000 }, (_, k) => stream(k));
    const answered = outcomes.filter((outcome) => outcome.answered);
    expect(answered.length / outcomes.length).toBeCloseTo(0.25, 2);
    expect(Math.min(...answered.map((o) => o.ringSeconds))).toBeGreaterThanOrEqual(5);
    expect(Math.max(...answered.map((o) => o.ringSeconds))).toBeLessThanOrEqual(25);
    expect(outcomes.filter((o) => !o.answered).every((o) => o.ringSeconds === 25)).toBe(true);
    const talks = outcomes.map((o) => o.talkSeconds);
    const mean = talks.reduce((sum, t) => sum + t, 0) / talks.length;
    const sd = Math.sqrt(talks.reduce((sum, t) => sum + (t - mean) ** 2, 0) / talks.length);
    expect(mean).toBeGreaterThan(175);
    expect(mean).toBeLessThan(185);
    expect(sd / mean).toBeCloseTo(0.6, 1);
  });
});

describe('event queue', () => {
  it('pops in time order, same-time events in insertion order', () => {
    const queue = new EventQueue<string>();
    [[5, 'e'], [1, 'a'], [3, 'c'], [1, 'b'], [4, 'd']].forEach(([at, name]) => queue.push(at as number, name as string));
    const order: string[] = [];
    while (queue.size > 0) order.push(queue.pop()!.event);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});

describe('simulateDay', () => {
  it('progressive never abandons, and every call is accounted for', () => {
    const result = simulateDay(progressivePolicy(), settings());
    expect(result.abandoned).toBe(0);
    expect(result.answered).toBeGreaterThan(300);
    expectConserved(result);
  });

  it('is deterministic per seed, and seeds differ', () => {
    const a = simulateDay(predictivePolicy(), settings());
    expect(simulateDay(predictivePolicy(), settings())).toEqual(a);
    expect(simulateDay(predictivePolicy(), settings({ seed: 8 }))).not.toEqual(a);
  });

  it('an aggressive fixed level abandons, a higher one more', () => {
    const low = simulateDay(fixedLevelPolicy(2, 'ready'), settings());
    const high = simulateDay(fixedLevelPolicy(3, 'ready'), settings());
    expectConserved(low);
    expectConserved(high);
    expect(high.abandonRate).toBeGreaterThan(low.abandonRate);
    expect(high.occupancy).toBeGreaterThan(low.occupancy);
  });

  it('the predictive pacer keeps abandonment under 3% with more occupancy than progressive, on small and large teams', () => {
    for (const agents of [5, 20, 50]) {
      const ours = simulateDay(predictivePolicy(), settings({ agents, daySeconds: 4 * 3600 }));
      const progressive = simulateDay(progressivePolicy(), settings({ agents, daySeconds: 4 * 3600 }));
      expectConserved(ours);
      expect(ours.abandonRate).toBeLessThanOrEqual(0.03);
      expect(ours.occupancy).toBeGreaterThan(progressive.occupancy + 0.05);
    }
  });

  it('the write budget caps answered calls per minute', () => {
    const free = simulateDay(predictivePolicy(), settings());
    const capped = simulateDay(predictivePolicy({ writeBudgetPerMinute: 4 }), settings());
    expect(free.maxAnsweredPerMinute).toBeGreaterThan(4);
    expect(capped.maxAnsweredPerMinute).toBeLessThanOrEqual(4);
    expect(capped.answered).toBeGreaterThan(100);
  });

  it('the VICIdial port raises its level above 1:1 and dials more than progressive', () => {
    const vicidial = simulateDay(vicidialAdaptPolicy({ shiftEndSecondsOfDay: 11 * 3600 }), settings());
    const progressive = simulateDay(progressivePolicy(), settings());
    expectConserved(vicidial);
    expect(vicidial.dialed).toBeGreaterThan(progressive.dialed);
    expect(vicidial.occupancy).toBeGreaterThan(progressive.occupancy);
  });

  it('rounds like Perl sprintf("%.0f")', () => {
    expect([0.5, 1.5, 2.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 2, 3]);
  });
});
