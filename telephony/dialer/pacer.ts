/**
 * The predictive dialer's pacer: how many new calls to launch now.
 *
 * `decideLaunches(state)` is a pure function of the live state of one campaign. It reads no clock,
 * no randomness and no Node built-ins, so the same code runs inside the campaign's Temporal
 * workflow (time comes in as `state` fields), in `bench/dialer.ts` and in any other simulator.
 *
 * ## The model
 * Abandoned call: a person answered and no agent was connected within `connectSeconds` (2 s).
 * Abandon rate: abandoned / answered over the campaign's window (the US telemarketing rule).
 *
 * 1. Learning from recent outcomes (with priors, so early figures stay sane):
 *    - answer probability p: answered / resolved over the recent calls (Beta prior);
 *    - time to answer of answered calls: an empirical distribution on 1 s bins (uniform prior);
 *    - talk time: a lognormal fitted on the logs of recent talk times (lognormal prior);
 *    - wrap-up time: the mean of recent wrap-ups.
 *    Too few samples -> progressive (one call per ready agent), the estimate is unsure.
 *
 * 2. Looking ahead. A call launched now is answered (if at all) within the no-answer timeout, so
 *    the pacer looks at instants t in [0, timeout] and, for each, counts
 *      D(t) = answered calls needing an agent by t: those waiting now, each ringing call's chance
 *             of being answered by t given how long it has rung already (a call that rang 20 s is
 *             less likely to be answered at all: p S(e) / (p S(e) + 1 - p)), and the new calls'
 *             p F(t);
 *      A(t) = agents free by t + connectSeconds: ready agents, plus each busy agent's chance of
 *             finishing by then given how long it has talked (lognormal residual life) or wrapped up.
 *    D and A are sums of independent Bernoulli trials; their difference X = D - A is treated as
 *    normal, and E[max(0, X)] is the expected number of answered calls that find no agent. The
 *    predicted abandons of a plan with n new calls is f(n) = max over t of E[max(0, X_n(t))]
 *    (agents, once free, stay ready; an answered call keeps its place for connectSeconds only).
 *
 * 3. Deciding. The n-th new call is launched only if its marginal predicted abandons
 *    f(n) - f(n-1), divided by its chance p of being answered, stays below a threshold theta: the
 *    marginal call's abandon probability given that it is answered. Since f is convex in n, the
 *    average abandon probability of the calls launched is below the marginal one. theta comes from
 *    the campaign's abandon budget: with the rate far under the target theta is `maxMarginalAbandon`;
 *    as the rate over the window (with a prior of `priorAnswered` calls at the aim rate) approaches
 *    the target, theta shrinks linearly to zero at `aimFraction` of ... the target itself. At or
 *    above the target the pacer falls back to progressive, which never abandons.
 *
 * 4. Caps. Never more than `maxLinesPerAgent` calls in flight per logged-in agent. With a CRM write
 *    budget B (answered calls per minute the connectors may write), every call that may still be
 *    answered counts as answered: answered in the last 60 s + waiting + ringing + new <= B. Every
 *    launch keeps that inequality, so any 60 s window holds at most B answered calls.
 *
 * Live figures returned with each decision: dial level (calls in flight per ready agent, the way
 * ratio dialers count it), estimated answer rate, abandon rate over the window, occupancy now.
 */

export type AgentActivity = 'ready' | 'talking' | 'wrapup';

export interface AgentNow {
  activity: AgentActivity;
  /** Seconds since the agent entered this activity. */
  elapsedSeconds: number;
}

export interface RecentCall {
  answered: boolean;
  /** Answered: seconds from launch to answer. Not answered: seconds until it was given up. */
  ringSeconds: number;
}

export interface RecentHandle {
  talkSeconds: number;
  wrapSeconds: number;
}

export interface PacerSettings {
  /** Highest allowed abandon rate over the campaign window (abandoned / answered). */
  abandonTarget: number;
  /** An answered call that finds no agent within this many seconds is abandoned. */
  connectSeconds: number;
  /** The dialer gives up on a call that is not answered after this many seconds. */
  noAnswerTimeoutSeconds: number;
  /** Calls in flight per logged-in agent, at most. */
  maxLinesPerAgent: number;
  /** CRM write budget: answered calls per minute the connectors may write; undefined = no cap. */
  writeBudgetPerMinute?: number | undefined;
  /** Marginal abandon probability allowed for a launch while the rate is well under the target. */
  maxMarginalAbandon: number;
  /** Fraction of the target where the threshold starts to shrink (it is 0 at the target). */
  aimFraction: number;
  /** Prior weight: answered calls at aimFraction*target added to the window's figures. */
  priorAnswered: number;
  /** Resolved calls / answered calls / handled calls needed before predicting; fewer = progressive. */
  minResolvedCalls: number;
  minAnsweredCalls: number;
  minHandledCalls: number;
}

export const defaultPacerSettings: PacerSettings = {
  abandonTarget: 0.03,
  connectSeconds: 2,
  noAnswerTimeoutSeconds: 25,
  maxLinesPerAgent: 3,
  writeBudgetPerMinute: undefined,
  maxMarginalAbandon: 0.12,
  aimFraction: 0.6,
  priorAnswered: 100,
  minResolvedCalls: 40,
  minAnsweredCalls: 10,
  minHandledCalls: 20,
};

export interface PacerState {
  /** Logged-in, non-paused agents. */
  agents: readonly AgentNow[];
  /** Seconds each call still ringing has been ringing. */
  ringingSeconds: readonly number[];
  /** Seconds each answered call waiting for an agent has waited. */
  waitingSeconds: readonly number[];
  /** Most recent resolved calls (answered or given up), any order; a few hundred is plenty. */
  recentCalls: readonly RecentCall[];
  /** Most recent finished calls' talk and wrap-up times. */
  recentHandles: readonly RecentHandle[];
  /** The campaign window's totals (the abandon rule's 30 days, or the day). */
  window: { answered: number; abandoned: number };
  /** Answered calls in the last 60 s (for the write budget). */
  answeredLastMinute: number;
  settings: PacerSettings;
}

export type PacerMode = 'predictive' | 'progressive' | 'idle';

export interface PacerFigures {
  /** Calls in flight after this decision per ready agent. */
  dialLevel: number;
  /** Estimated answer probability. */
  answerRate: number;
  /** Abandoned / answered over the window. */
  abandonRate: number;
  /** Busy (talking or wrap-up) agents / logged-in agents now. */
  occupancy: number;
}

export interface PacerDecision {
  launch: number;
  mode: PacerMode;
  /** Why this mode: 'no agents', 'few samples', 'above target', 'model', 'write budget', ... */
  reason: string;
  /** Allowed marginal abandon probability used (0 outside predictive mode). */
  threshold: number;
  figures: PacerFigures;
}

// ---------------------------------------------------------------------------------------------
// Numerics (deterministic, no dependencies)

/** Standard normal CDF (erfc-based rational approximation, |error| < 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
    + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
    + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

const INV_SQRT_2PI = 0.3989422804014327;

/** E[max(0, Y)] for Y ~ Normal(mean, variance). */
export function expectedPositivePart(mean: number, variance: number): number {
  if (variance <= 1e-12) return Math.max(0, mean);
  const sd = Math.sqrt(variance);
  const z = mean / sd;
  return sd * INV_SQRT_2PI * Math.exp(-0.5 * z * z) + mean * normalCdf(z);
}

// ---------------------------------------------------------------------------------------------
// The learned model

export interface PacerModel {
  answerProbability: number;
  /** ringCdf[s] = P(answered within s seconds | answered), s = 0..length-1 (last entry 1). */
  ringCdf: number[];
  talkLogMean: number;
  talkLogSd: number;
  wrapMean: number;
  resolved: number;
  answered: number;
  handled: number;
}

const PRIOR_CALLS = 10;
const PRIOR_ANSWER_PROBABILITY = 0.3;
const PRIOR_HANDLES = 5;
const PRIOR_TALK_LOG_MEAN = Math.log(120) - 0.5 * Math.log(2);
const PRIOR_TALK_LOG_VAR = Math.log(2);
const PRIOR_WRAP = 10;

export function learnModel(recentCalls: readonly RecentCall[], recentHandles: readonly RecentHandle[], timeoutSeconds: number): PacerModel {
  const bins = Math.max(1, Math.ceil(timeoutSeconds)) + 1;
  const counts = new Array<number>(bins).fill(0);
  let answered = 0;
  for (const call of recentCalls) {
    if (!call.answered) continue;
    answered += 1;
    const bin = Math.min(bins - 1, Math.max(0, Math.ceil(call.ringSeconds)));
    counts[bin] = (counts[bin] ?? 0) + 1;
  }
  // Uniform prior over the timeout, weight 2 calls, so an empty history still gives a CDF.
  const priorPerBin = 2 / bins;
  const total = answered + 2;
  const ringCdf: number[] = [];
  let running = 0;
  for (let s = 0; s < bins; s += 1) {
    running += (counts[s] ?? 0) + priorPerBin;
    ringCdf.push(Math.min(1, running / total));
  }
  ringCdf[bins - 1] = 1;

  let logSum = PRIOR_TALK_LOG_MEAN * PRIOR_HANDLES;
  let logSquares = (PRIOR_TALK_LOG_VAR + PRIOR_TALK_LOG_MEAN * PRIOR_TALK_LOG_MEAN) * PRIOR_HANDLES;
  let wrapSum = PRIOR_WRAP * PRIOR_HANDLES;
  for (const handle of recentHandles) {
    const log = Math.log(Math.max(1, handle.talkSeconds));
    logSum += log;
    logSquares += log * log;
    wrapSum += Math.max(0, handle.wrapSeconds);
  }
  const weight = recentHandles.length + PRIOR_HANDLES;
  const talkLogMean = logSum / weight;
  const talkLogVar = Math.max(0.01, logSquares / weight - talkLogMean * talkLogMean);

  return {
    answerProbability: (answered + PRIOR_CALLS * PRIOR_ANSWER_PROBABILITY) / (recentCalls.length + PRIOR_CALLS),
    ringCdf,
    talkLogMean,
    talkLogSd: Math.sqrt(talkLogVar),
    wrapMean: wrapSum / weight,
    resolved: recentCalls.length,
    answered,
    handled: recentHandles.length,
  };
}

function ringCdfAt(model: PacerModel, seconds: number): number {
  if (seconds <= 0) return model.ringCdf[0] ?? 0;
  const last = model.ringCdf.length - 1;
  if (seconds >= last) return 1;
  const low = Math.floor(seconds);
  const a = model.ringCdf[low] ?? 0;
  const b = model.ringCdf[low + 1] ?? 1;
  return a + (b - a) * (seconds - low);
}

function talkCdf(model: PacerModel, seconds: number): number {
  if (seconds <= 0) return 0;
  return normalCdf((Math.log(seconds) - model.talkLogMean) / model.talkLogSd);
}

/** P(a busy agent is free within `within` seconds from now). */
function agentFreeProbability(model: PacerModel, agent: AgentNow, within: number): number {
  if (agent.activity === 'ready') return 1;
  if (agent.activity === 'wrapup') {
    const remaining = Math.max(0, model.wrapMean - agent.elapsedSeconds);
    return within >= remaining ? 1 : 0;
  }
  const survived = 1 - talkCdf(model, agent.elapsedSeconds);
  if (survived <= 1e-9) return within >= model.wrapMean ? 1 : 0;
  const talkDone = talkCdf(model, agent.elapsedSeconds + within - model.wrapMean);
  return Math.max(0, (talkDone - (1 - survived)) / survived);
}

/** P(a call that has rung `elapsed` seconds is answered within `within` more seconds). */
function ringingAnswerProbability(model: PacerModel, elapsed: number, within: number, timeout: number): number {
  if (elapsed >= timeout) return 0;
  const p = model.answerProbability;
  const notYet = 1 - ringCdfAt(model, elapsed);
  const denominator = p * notYet + (1 - p);
  if (denominator <= 1e-12) return 0;
  const by = ringCdfAt(model, Math.min(timeout, elapsed + within));
  return Math.max(0, (p * (by - (1 - notYet))) / denominator);
}

// ---------------------------------------------------------------------------------------------
// The decision

/** Instants (seconds from now) at which supply and demand are compared. */
function lookaheadInstants(timeout: number): number[] {
  const instants: number[] = [];
  for (let t = 0; t < timeout; t += 2.5) instants.push(t);
  instants.push(timeout);
  return instants;
}

function progressiveLaunches(state: PacerState): number {
  const ready = state.agents.filter((agent) => agent.activity === 'ready').length;
  return Math.max(0, ready - state.ringingSeconds.length - state.waitingSeconds.length);
}

/** Largest launch count allowed by the line cap and the CRM write budget. */
function capLaunches(state: PacerState): { cap: number; budgetBound: boolean } {
  const { settings } = state;
  const lines = Math.floor(settings.maxLinesPerAgent * state.agents.length) - state.ringingSeconds.length - state.waitingSeconds.length;
  let cap = Math.max(0, lines);
  let budgetBound = false;
  if (settings.writeBudgetPerMinute !== undefined) {
    const room = Math.floor(settings.writeBudgetPerMinute) - state.answeredLastMinute - state.waitingSeconds.length - state.ringingSeconds.length;
    if (room < cap) {
      cap = Math.max(0, room);
      budgetBound = true;
    }
  }
  return { cap, budgetBound };
}

/** Allowed marginal abandon probability from how much of the abandon budget is left. */
export function marginalThreshold(window: { answered: number; abandoned: number }, settings: PacerSettings): number {
  const aim = settings.aimFraction * settings.abandonTarget;
  const rate = (window.abandoned + settings.priorAnswered * aim) / (window.answered + settings.priorAnswered);
  if (rate >= settings.abandonTarget) return 0;
  if (rate <= aim) return settings.maxMarginalAbandon;
  return settings.maxMarginalAbandon * (settings.abandonTarget - rate) / (settings.abandonTarget - aim);
}

export function decideLaunches(state: PacerState): PacerDecision {
  const { settings } = state;
  const agentCount = state.agents.length;
  const ready = state.agents.filter((agent) => agent.activity === 'ready').length;
  const busy = agentCount - ready;
  const abandonRate = state.window.answered > 0 ? state.window.abandoned / state.window.answered : 0;
  const model = learnModel(state.recentCalls, state.recentHandles, settings.noAnswerTimeoutSeconds);
  const figures = (launch: number): PacerFigures => ({
    dialLevel: (state.ringingSeconds.length + launch) / Math.max(1, ready),
    answerRate: model.answerProbability,
    abandonRate,
    occupancy: agentCount > 0 ? busy / agentCount : 0,
  });
  const decision = (launch: number, mode: PacerMode, reason: string, threshold = 0): PacerDecision =>
    ({ launch, mode, reason, threshold, figures: figures(launch) });

  if (agentCount === 0) return decision(0, 'idle', 'no agents');
  const { cap, budgetBound } = capLaunches(state);
  const progressive = Math.min(cap, progressiveLaunches(state));
  const progressiveReason = (reason: string) => (budgetBound && progressive === cap ? `${reason}; write budget` : reason);

  if (state.window.answered > 0 && abandonRate >= settings.abandonTarget) {
    return decision(progressive, 'progressive', progressiveReason('above target'));
  }
  if (model.resolved < settings.minResolvedCalls || model.answered < settings.minAnsweredCalls || model.handled < settings.minHandledCalls) {
    return decision(progressive, 'progressive', progressiveReason('few samples'));
  }
  const threshold = marginalThreshold(state.window, settings);
  if (threshold <= 0) return decision(progressive, 'progressive', progressiveReason('abandon budget spent'));

  const timeout = settings.noAnswerTimeoutSeconds;
  const p = model.answerProbability;
  // Per instant: mean and variance of X = D - A without new calls, and a new call's chance to be answered by then.
  const instants = lookaheadInstants(timeout);
  const baseMean: number[] = [];
  const baseVariance: number[] = [];
  const newAnswer: number[] = [];
  const busyAgents = state.agents.filter((agent) => agent.activity !== 'ready');
  for (const t of instants) {
    let mean = state.waitingSeconds.length - ready;
    let variance = 0;
    for (const elapsed of state.ringingSeconds) {
      const q = ringingAnswerProbability(model, elapsed, t, timeout);
      mean += q;
      variance += q * (1 - q);
    }
    for (const agent of busyAgents) {
      const a = agentFreeProbability(model, agent, t + settings.connectSeconds);
      mean -= a;
      variance += a * (1 - a);
    }
    baseMean.push(mean);
    baseVariance.push(variance);
    newAnswer.push(p * ringCdfAt(model, t));
  }
  const predictedAbandons = (n: number): number => {
    let worst = 0;
    for (let i = 0; i < instants.length; i += 1) {
      const q = newAnswer[i] ?? 0;
      const value = expectedPositivePart((baseMean[i] ?? 0) + n * q, (baseVariance[i] ?? 0) + n * q * (1 - q));
      if (value > worst) worst = value;
    }
    return worst;
  };

  let launch = 0;
  let previous = predictedAbandons(0);
  while (launch < cap) {
    const next = predictedAbandons(launch + 1);
    if ((next - previous) / p > threshold) break;
    launch += 1;
    previous = next;
  }
  // Never fewer than progressive: a ready agent with no call in flight for it is idle for nothing.
  if (launch < progressive) return decision(progressive, 'predictive', 'model; at least progressive', threshold);
  return decision(launch, 'predictive', budgetBound && launch === cap ? 'model; write budget' : 'model', threshold);
}
