// decideLaunches in states whose right answer is obvious, its fallbacks and its caps. The
// recent history below is a warmed-up campaign: 25% answered after 5..25 s, talks of 60..300 s.
import { describe, expect, it } from 'vitest';
import {
  atLeastZero, decideLaunches, defaultPacerSettings, learnModel, marginalThreshold, normalCdf,
  type AgentNow, type PacerSettings, type PacerState, type RecentCall, type RecentHandle,
} from './pacer.js';

const recentCalls: RecentCall[] = Array.from({ length: 400 }, (_, i) =>
  i % 4 === 0 ? { answered: true, ringSeconds: 5 + ((i * 7) % 20) } : { answered: false, ringSeconds: 25 });
const recentHandles: RecentHandle[] = Array.from({ length: 200 }, (_, i) => ({ talkSeconds: 60 + ((i * 37) % 240), wrapSeconds: 10 }));

const agents = (count: number, activity: AgentNow['activity'], elapsedSeconds = 0): AgentNow[] =>
  Array.from({ length: count }, () => ({ activity, elapsedSeconds }));

function state(overrides: Partial<Omit<PacerState, 'settings'>> & { settings?: Partial<PacerSettings> } = {}): PacerState {
  const { settings, ...rest } = overrides;
  return {
    agents: agents(10, 'talking', 60),
    ringingSeconds: [],
    waitingSeconds: [],
    recentCalls,
    recentHandles,
    window: { answered: 1000, abandoned: 10 },
    answeredLastMinute: 0,
    ...rest,
    settings: { ...defaultPacerSettings, ...settings },
  };
}

describe('decideLaunches', () => {
  it('launches nothing without agents', () => {
    const decision = decideLaunches(state({ agents: [], ringingSeconds: [3] }));
    expect(decision).toMatchObject({ launch: 0, mode: 'idle' });
  });

  it('launches nothing when every agent has just started a call and calls already ring', () => {
    const decision = decideLaunches(state({ agents: agents(10, 'talking', 2), ringingSeconds: [1, 2, 3, 4, 5, 6, 7, 8] }));
    expect(decision.mode).toBe('predictive');
    expect(decision.launch).toBe(0);
  });

  it('never launches a call that would be answered while an answered call already waits with no agent coming', () => {
    const decision = decideLaunches(state({ agents: agents(5, 'talking', 1), waitingSeconds: [0.5, 1] }));
    expect(decision.launch).toBe(0);
  });

  it('dials ahead for agents about to finish their wrap-up, within the line cap', () => {
    const decision = decideLaunches(state({ agents: agents(10, 'wrapup', 9.5) }));
    expect(decision.mode).toBe('predictive');
    expect(decision.launch).toBeGreaterThan(10);
    expect(decision.launch).toBeLessThanOrEqual(30);
    expect(decision.figures.occupancy).toBe(1);
  });

  it('dials more than one call per ready agent when the model is warm, fewer as more calls already ring', () => {
    const idle = decideLaunches(state({ agents: [...agents(5, 'ready'), ...agents(5, 'talking', 100)] }));
    const busy = decideLaunches(state({ agents: [...agents(5, 'ready'), ...agents(5, 'talking', 100)], ringingSeconds: [1, 1, 2, 2, 3, 3, 4, 4] }));
    expect(idle.launch).toBeGreaterThan(5);
    expect(busy.launch).toBeLessThan(idle.launch);
    expect(idle.figures.dialLevel).toBeCloseTo(idle.launch / 5);
  });

  it('calls that have rung long count less: they are less likely to be answered at all', () => {
    const base = { agents: [...agents(3, 'ready'), ...agents(7, 'talking', 100)] };
    const fresh = decideLaunches(state({ ...base, ringingSeconds: [4, 4, 4, 4, 4, 4] }));
    const stale = decideLaunches(state({ ...base, ringingSeconds: [24, 24, 24, 24, 24, 24] }));
    expect(stale.launch).toBeGreaterThan(fresh.launch);
  });

  it('falls back to progressive while it has too few outcomes to trust', () => {
    const decision = decideLaunches(state({
      agents: [...agents(4, 'ready'), ...agents(6, 'talking', 30)],
      ringingSeconds: [3],
      recentCalls: recentCalls.slice(0, 20),
    }));
    expect(decision).toMatchObject({ mode: 'progressive', reason: 'few samples', launch: 3 });
  });

  it('predicts once ten calls have finished, the talks still running filling in the talk-time fit', () => {
    const warming = {
      agents: [...agents(6, 'ready'), ...agents(14, 'talking', 40)],
      recentCalls: recentCalls.slice(0, 60),
    };
    const tenFinished = decideLaunches(state({ ...warming, recentHandles: recentHandles.slice(0, 10) }));
    expect(tenFinished.mode).toBe('predictive');
    expect(tenFinished.launch).toBeGreaterThan(6);
    const fewer = decideLaunches(state({ ...warming, recentHandles: recentHandles.slice(0, 9) }));
    expect(fewer).toMatchObject({ mode: 'progressive', reason: 'few samples', launch: 6 });
  });

  it('falls back to progressive when the abandon rate is at or above the target', () => {
    const decision = decideLaunches(state({
      agents: [...agents(4, 'ready'), ...agents(6, 'wrapup', 9)],
      window: { answered: 1000, abandoned: 31 },
    }));
    expect(decision).toMatchObject({ mode: 'progressive', reason: 'above target', launch: 4 });
    expect(decision.figures.abandonRate).toBeCloseTo(0.031);
  });

  it('dials less as the window abandon rate climbs towards the target', () => {
    const base = { agents: [...agents(4, 'ready'), ...agents(16, 'talking', 120)] };
    const low = decideLaunches(state({ ...base, window: { answered: 2000, abandoned: 20 } }));
    const high = decideLaunches(state({ ...base, window: { answered: 2000, abandoned: 58 } }));
    expect(high.threshold).toBeLessThan(low.threshold);
    expect(high.launch).toBeLessThan(low.launch);
    expect(high.launch).toBeGreaterThanOrEqual(4);
  });

  it('keeps answered calls within the CRM write budget, counting every call that may still answer', () => {
    const base = { agents: agents(10, 'wrapup', 9.5), ringingSeconds: [2, 3] };
    expect(decideLaunches(state(base)).launch).toBeGreaterThan(5);
    const capped = decideLaunches(state({ ...base, answeredLastMinute: 6, settings: { writeBudgetPerMinute: 10 } }));
    expect(capped.launch).toBe(2);
    expect(capped.reason).toContain('write budget');
    const spent = decideLaunches(state({ ...base, answeredLastMinute: 9, settings: { writeBudgetPerMinute: 10 } }));
    expect(spent.launch).toBe(0);
  });

  it('is a pure function: the same state gives the same decision', () => {
    const input = state({ agents: [...agents(2, 'ready'), ...agents(8, 'talking', 90)], ringingSeconds: [1, 7, 12] });
    expect(decideLaunches(input)).toEqual(decideLaunches(structuredClone(input)));
  });
});

describe('the model', () => {
  it('learns answer probability and talk time from recent outcomes', () => {
    const model = learnModel(recentCalls, recentHandles, 25);
    expect(model.answerProbability).toBeCloseTo(0.25, 1);
    expect(model.ringCdf.at(-1)).toBe(1);
    expect(model.ringCdf[4]).toBeLessThan(0.1);
    const median = Math.exp(model.talkLogMean);
    expect(median).toBeGreaterThan(120);
    expect(median).toBeLessThan(200);
  });

  it('counts talks still running as censored: long running talks lengthen the estimate', () => {
    const short = recentHandles.slice(0, 40).map((handle) => ({ ...handle, talkSeconds: 30 }));
    const without = learnModel(recentCalls, short, 25);
    const withRunning = learnModel(recentCalls, short, 25, Array.from({ length: 20 }, () => 200));
    expect(withRunning.talkLogMean).toBeGreaterThan(without.talkLogMean + 0.3);
  });

  it('normal tail helpers', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 3);
    expect(atLeastZero(-3, 1e-15, 0)).toBe(0);
    expect(atLeastZero(0, 1e-15, 0)).toBe(1);
    expect(atLeastZero(-2, 1, 0)).toBeCloseTo(1 - normalCdf(1.5), 6);
  });

  it('the threshold shrinks as the rate rises and is zero well before the target', () => {
    const settings = defaultPacerSettings;
    const at = (abandoned: number) => marginalThreshold({ answered: 3000, abandoned }, settings);
    expect(at(0)).toBe(settings.maxMarginalAbandon);
    expect(at(65)).toBeLessThan(at(0));
    expect(at(75)).toBeLessThan(at(65));
    expect(at(90)).toBe(0);
  });
});
