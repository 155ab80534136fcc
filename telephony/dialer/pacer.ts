/**
 * The predictive dialer's pacer: how many new calls to launch now.
 *
 * `decideLaunches(state)` is a pure function of the live state of one campaign. It reads no clock,
 * no randomness and no Node built-ins, so the same code runs inside the campaign's Temporal
 * workflow (time comes in as `state` fields: elapsed seconds), in `bench/dialer.ts` and in any
 * other simulator.
 *
 * ## The model
 * Abandoned call: a person answered and no agent was connected within `connectSeconds` (2 s).
 * Abandon rate: abandoned / answered over the campaign's window (the US telemarketing rule).
 *
 * 1. Learning from recent outcomes (with priors, so early figures stay sane):
 *    - answer probability p: answered / resolved over the recent calls (Beta prior);
 *    - time to answer of answered calls: an empirical distribution on 1 s bins (uniform prior);
 *    - talk time: a lognormal on the log scale, fitted by EM on finished talks with the talks
 *      still running as right-censored observations (early in a day only short calls have ended);
 *    - wrap-up time: the mean of recent wrap-ups.
 *    Too few samples -> progressive (one call per ready agent): the estimate is unsure. Ten
 *    finished calls are enough for talk time, because the talks still running enter the fit as
 *    censored observations and the prior holds it until then; waiting for 40 kept a fresh team
 *    progressive (about 60% occupancy) for the first minutes of every day.
 *
 * 2. Looking ahead. A call launched now is answered, if at all, within the no-answer timeout, so
 *    the pacer looks at each second t of [0, timeout] and compares
 *      D(t) = answered calls needing an agent by t: those waiting now, each ringing call's chance
 *             of being answered by t given how long it has rung already (a call that rang 20 s is
 *             less likely to be answered at all: p S(e) / (p S(e) + 1 - p)), and the new calls'
 *             p F(t);
 *      A(t) = agents free by t + connectSeconds: ready agents, plus each busy agent's chance of
 *             finishing by then given how long it has talked (lognormal residual life) or wrapped up.
 *    D and A are sums of independent Bernoulli trials. P(D(t) - A(t) >= 0) (no agent left for one
 *    more answered call at t) is taken from a normal approximation with a continuity correction and
 *    an Edgeworth skew term.
 *
 * 3. Deciding. The marginal risk of one more new call, given n others launched with it, is
 *      sum over t of P(it is answered at t | answered) x max over s >= t of P(D(s) - A(s) >= 0),
 *    the chance that it, or a call it takes an agent from, finds no agent. Calls are added while
 *    that risk stays at or below a threshold theta; the risk grows with n, so the average risk of
 *    the calls launched is below theta. theta = maxMarginalAbandon x (1 + gain x (aim - rate) /
 *    target), kept within [floor, ceiling] x maxMarginalAbandon, where rate is the window's abandon
 *    rate with a prior of `priorAnswered` calls at the aim rate (aimFraction x target): a steady
 *    threshold, which is what maximises occupancy for a given abandon rate, nudged down as the
 *    rate rises. Once the window counts `minAnsweredForRate` answered calls and its rate is at the
 *    target, the pacer falls back to progressive, which never abandons. Never fewer launches than
 *    progressive: a call per ready agent with no call in flight for it cannot be abandoned.
 *
 * 4. Caps. Never more than `maxLinesPerAgent` calls in flight per logged-in agent. With a CRM write
 *    budget B (answered calls per minute the connectors may write), every call that may still be
 *    answered counts as answered: answered in the last 60 s + waiting + ringing + new <= B. Every
 *    launch keeps that inequality, so no 60 s window ever holds more than B answered calls.
 *
 * Why this rule and not another (measured on bench/dialer.ts, 20 agents, answer 0.25, 8 h):
 *   - the rule is near the frontier of what the outcome randomness allows. The same rule fed the
 *     exact time every busy agent becomes free (not knowable live) reached no more occupancy at
 *     the same abandon rate (88.5% at 2.2%, against 89.1% at 2.3% with the lognormal estimate), nor
 *     did it fed the true answer probability (88.9% at 2.3%). What limits occupancy is that the
 *     answers are a random stream (25% of calls, after 5..25 s): to find an agent for 97% of them,
 *     about two agents must stand ready on average, 10% of a 20-agent team (5% of a 50-agent one);
 *   - a Lagrangian rule (one more call while the agent-seconds it saves exceed lambda times its
 *     marginal abandon risk) and an exact marginal risk (expected abandons over the look-ahead from
 *     a step-by-step distribution of free agents, Poisson counts per second) gave the same
 *     occupancy per abandon rate within noise; the exact one costs ten times the time;
 *   - spending more of the budget (aim 2.7%) gave +0.2 points on some seeds and -0.2 to -0.6 on
 *     others: the gain per abandon is small here and a rate that touches the target forces
 *     progressive, which costs far more than it gives.
 *
 * Live figures returned with each decision: dial level (calls in flight per ready agent, the way
 * ratio dialers count it), estimated answer rate, abandon rate over the window, occupancy now.
 * Settings were tuned on the simulator of `telephony/dialer/simulation` (see bench/dialer.ts).
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
  /** Marginal abandon probability allowed for one more call when the rate is at the aim. */
  maxMarginalAbandon: number;
  /** The abandon rate aimed at, as a fraction of the target: there the threshold is maxMarginalAbandon. */
  aimFraction: number;
  /** threshold = maxMarginalAbandon x (1 + gain x (aim - rate) / target), kept in [floor, ceiling] x maxMarginalAbandon. */
  thresholdGain: number;
  thresholdFloor: number;
  thresholdCeiling: number;
  /** Prior weight: answered calls at aimFraction*target added to the window's figures. */
  priorAnswered: number;
  /** Resolved calls / answered calls / handled calls needed before predicting; fewer = progressive. */
  minResolvedCalls: number;
  minAnsweredCalls: number;
  minHandledCalls: number;
  /** The window's own rate forces progressive once it counts this many answered calls. */
  minAnsweredForRate: number;
}

export const defaultPacerSettings: PacerSettings = {
  abandonTarget: 0.03,
  connectSeconds: 2,
  noAnswerTimeoutSeconds: 25,
  maxLinesPerAgent: 3,
  writeBudgetPerMinute: undefined,
  maxMarginalAbandon: 0.045,
  aimFraction: 0.7,
  thresholdGain: 5,
  thresholdFloor: 0,
  thresholdCeiling: 1,
  priorAnswered: 300,
  minResolvedCalls: 40,
  minAnsweredCalls: 10,
  minHandledCalls: 10,
  minAnsweredForRate: 300,
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

/**
 * P(Y >= 0) for an integer-valued Y with this mean, variance and third cumulant: normal with a
 * continuity correction and a one-term Edgeworth correction for skew (sums of Bernoulli trials
 * with small chances are right-skewed, which a plain normal under-weights in the tail).
 */
export function atLeastZero(mean: number, variance: number, thirdCumulant: number): number {
  if (variance <= 1e-12) return mean > -0.5 ? 1 : 0;
  const sd = Math.sqrt(variance);
  const z = (-0.5 - mean) / sd;
  const skew = thirdCumulant / (variance * sd);
  const tail = 1 - normalCdf(z) + INV_SQRT_2PI * Math.exp(-0.5 * z * z) * (skew / 6) * (z * z - 1);
  return Math.min(1, Math.max(0, tail));
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

export function learnModel(
  recentCalls: readonly RecentCall[],
  recentHandles: readonly RecentHandle[],
  timeoutSeconds: number,
  talkingElapsed: readonly number[] = [],
): PacerModel {
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

  // Talk time: lognormal on the log scale, fitted by EM with the calls still being talked as
  // right-censored observations (early in a day only short calls have finished; ignoring the long
  // ones still running would make agents look free sooner than they will be).
  let wrapSum = PRIOR_WRAP * PRIOR_HANDLES;
  let finishedSum = 0;
  let finishedSquares = 0;
  for (const handle of recentHandles) {
    const log = Math.log(Math.max(1, handle.talkSeconds));
    finishedSum += log;
    finishedSquares += log * log;
    wrapSum += Math.max(0, handle.wrapSeconds);
  }
  const censored = talkingElapsed.filter((elapsed) => elapsed > 1).map((elapsed) => Math.log(elapsed));
  const weight = recentHandles.length + censored.length + PRIOR_HANDLES;
  let talkLogMean = (finishedSum + PRIOR_TALK_LOG_MEAN * PRIOR_HANDLES) / (recentHandles.length + PRIOR_HANDLES);
  let talkLogVar = Math.max(0.01, (finishedSquares + (PRIOR_TALK_LOG_VAR + PRIOR_TALK_LOG_MEAN ** 2) * PRIOR_HANDLES) / (recentHandles.length + PRIOR_HANDLES) - talkLogMean ** 2);
  for (let iteration = 0; iteration < (censored.length > 0 ? 4 : 0); iteration += 1) {
    const sd = Math.sqrt(talkLogVar);
    let sum = finishedSum + PRIOR_TALK_LOG_MEAN * PRIOR_HANDLES;
    let squares = finishedSquares + (PRIOR_TALK_LOG_VAR + PRIOR_TALK_LOG_MEAN ** 2) * PRIOR_HANDLES;
    for (const c of censored) {
      const alpha = (c - talkLogMean) / sd;
      const tail = Math.max(1e-12, 1 - normalCdf(alpha));
      const lambda = (INV_SQRT_2PI * Math.exp(-0.5 * alpha * alpha)) / tail;
      const expected = talkLogMean + sd * lambda;
      sum += expected;
      squares += talkLogMean ** 2 + talkLogVar + sd * (c + talkLogMean) * lambda;
    }
    talkLogMean = sum / weight;
    talkLogVar = Math.max(0.01, squares / weight - talkLogMean ** 2);
  }
  const wrapWeight = recentHandles.length + PRIOR_HANDLES;

  return {
    answerProbability: (answered + PRIOR_CALLS * PRIOR_ANSWER_PROBABILITY) / (recentCalls.length + PRIOR_CALLS),
    ringCdf,
    talkLogMean,
    talkLogSd: Math.sqrt(talkLogVar),
    wrapMean: wrapSum / wrapWeight,
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
  for (let t = 0; t < timeout; t += 1) instants.push(t);
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
  const scale = 1 + settings.thresholdGain * (aim - rate) / settings.abandonTarget;
  return settings.maxMarginalAbandon * Math.min(settings.thresholdCeiling, Math.max(settings.thresholdFloor, scale));
}

export function decideLaunches(state: PacerState): PacerDecision {
  const { settings } = state;
  const agentCount = state.agents.length;
  const ready = state.agents.filter((agent) => agent.activity === 'ready').length;
  const busy = agentCount - ready;
  const abandonRate = state.window.answered > 0 ? state.window.abandoned / state.window.answered : 0;
  const talkingElapsed = state.agents.filter((agent) => agent.activity === 'talking').map((agent) => agent.elapsedSeconds);
  const model = learnModel(state.recentCalls, state.recentHandles, settings.noAnswerTimeoutSeconds, talkingElapsed);
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

  if (state.window.answered >= settings.minAnsweredForRate && abandonRate >= settings.abandonTarget) {
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
  const baseSkew: number[] = [];
  const newAnswer: number[] = [];
  const busyAgents = state.agents.filter((agent) => agent.activity !== 'ready');
  for (const t of instants) {
    let mean = state.waitingSeconds.length - ready;
    let variance = 0;
    let third = 0;
    for (const elapsed of state.ringingSeconds) {
      const q = ringingAnswerProbability(model, elapsed, t, timeout);
      mean += q;
      variance += q * (1 - q);
      third += q * (1 - q) * (1 - 2 * q);
    }
    for (const agent of busyAgents) {
      const a = agentFreeProbability(model, agent, t + settings.connectSeconds);
      mean -= a;
      variance += a * (1 - a);
      third -= a * (1 - a) * (1 - 2 * a);
    }
    baseMean.push(mean);
    baseVariance.push(variance);
    baseSkew.push(third);
    newAnswer.push(p * ringCdfAt(model, t));
  }
  // Marginal risk of the n-th new call: for each instant it may be answered at (weight: its answer
  // time distribution), the chance that the other calls answered by then or later leave no agent.
  const answerWeights = instants.map((t, i) => ringCdfAt(model, t) - (i === 0 ? 0 : ringCdfAt(model, instants[i - 1]!)));
  const marginalRisk = (others: number): number => {
    let risk = 0;
    let suffixMax = 0;
    for (let i = instants.length - 1; i >= 0; i -= 1) {
      const q = newAnswer[i] ?? 0;
      const mean = (baseMean[i] ?? 0) + others * q;
      const variance = (baseVariance[i] ?? 0) + others * q * (1 - q);
      const third = (baseSkew[i] ?? 0) + others * q * (1 - q) * (1 - 2 * q);
      const noAgent = atLeastZero(mean, variance, third);
      if (noAgent > suffixMax) suffixMax = noAgent;
      risk += (answerWeights[i] ?? 0) * suffixMax;
    }
    return risk;
  };
  let launch = 0;
  while (launch < cap && marginalRisk(launch) <= threshold) launch += 1;
  // Never fewer than progressive: a ready agent with no call in flight for it is idle for nothing.
  if (launch < progressive) return decision(progressive, 'predictive', 'model; at least progressive', threshold);
  return decision(launch, 'predictive', budgetBound && launch === cap ? 'model; write budget' : 'model', threshold);
}
