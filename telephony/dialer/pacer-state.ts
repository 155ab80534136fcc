/**
 * The predictive pacer's view of one campaign, read inside the claim's transaction: the queue's
 * agents (telephony's roster, with how long each has been talking or wrapping up),
 * the campaign's calls in flight from `dialer_attempts` (ringing: not answered yet; waiting:
 * answered, no agent yet, for how long), and its recent history joined to the attempts' CDRs
 * (`call_id = dial-<attempt id>`): answered or not and after how long, talk times, the window's
 * answered and abandoned counts, and answered calls in the last minute.
 *
 * An answered call is waiting until its outcome is written (connected: an agent took it). In a
 * predictive campaign a call that has waited `connectSeconds` is abandoned by rule (the contact is
 * hearing the abandon message), so it needs no agent and is no longer counted as waiting; a waiting
 * call an agent's phone is ringing for has its agent and is counted with that agent instead.
 */
import type { Db } from '../../core/db/client.js';
import type { AgentFigure } from './agent-figures.js';
import type { CampaignConfig } from './campaign-config.js';
import { defaultPacerSettings, type AgentNow, type PacerSettings, type PacerState } from './pacer.js';

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

/** Recent attempts the pacer learns from. */
const historySize = 300;
/** The abandon rate is taken over this window (the working day). */
const windowMs = 24 * 3600_000;

export interface PacerInputs {
  campaignId: string;
  config: CampaignConfig;
  agents: readonly AgentFigure[];
  now: Date;
  ringTimeoutMs: number;
  /** The queue's wrap-up after each call. */
  wrapUpSeconds: number;
}

/** The pacer's settings for a campaign: its abandon target, abandon rule, learning minimums, lines and write budget. */
export function pacerSettingsFor(config: CampaignConfig, ringTimeoutMs: number): PacerSettings {
  const { pacing } = config;
  return {
    ...defaultPacerSettings,
    abandonTarget: config.abandonTarget,
    connectSeconds: pacing.connectSeconds,
    noAnswerTimeoutSeconds: Math.max(1, Math.round(ringTimeoutMs / 1000)),
    maxLinesPerAgent: pacing.maxLinesPerAgent,
    writeBudgetPerMinute: config.crmWritesPerMinute,
    minResolvedCalls: pacing.minSamples,
    minHandledCalls: pacing.minSamples,
    minAnsweredCalls: Math.ceil(pacing.minSamples / 4),
  };
}

/** The attempt id of a campaign call id (`dial-<attempt id>`), else undefined. */
export function attemptOfCall(callId: string | undefined): string | undefined {
  return callId?.startsWith('dial-') ? callId.slice('dial-'.length) : undefined;
}

export async function loadPacerState(tx: Tx, inputs: PacerInputs): Promise<PacerState> {
  const { campaignId, now, config } = inputs;
  const settings = pacerSettingsFor(config, inputs.ringTimeoutMs);
  const inFlight = await tx.$queryRaw<{ id: string; ringing: number; waiting: number | null }[]>`
    SELECT id::text AS id,
           EXTRACT(EPOCH FROM (${now}::timestamptz - launched_at))::float8 AS ringing,
           EXTRACT(EPOCH FROM (${now}::timestamptz - answered_at))::float8 AS waiting
    FROM dialer_attempts WHERE campaign_id = ${campaignId}::uuid AND ended_at IS NULL`;
  const recent = await tx.$queryRaw<{ outcome: string; launched_at: Date; ended_at: Date; agent_id: string | null; answered_at: Date | null; call_ended_at: Date | null }[]>`
    SELECT a.outcome, a.launched_at, a.ended_at, a.agent_id, COALESCE(a.answered_at, c.answered_at) AS answered_at, c.ended_at AS call_ended_at
    FROM (SELECT * FROM dialer_attempts WHERE campaign_id = ${campaignId}::uuid AND ended_at IS NOT NULL AND outcome <> 'lost'
          ORDER BY ended_at DESC LIMIT ${historySize}) a
    LEFT JOIN LATERAL (SELECT answered_at, ended_at FROM call_detail_records
                       WHERE call_id = 'dial-' || a.id::text AND answered_at IS NOT NULL ORDER BY attempt DESC LIMIT 1) c ON true`;
  const [window] = await tx.$queryRaw<{ answered: number; abandoned: number; last_minute: number }[]>`
    SELECT count(*) FILTER (WHERE outcome IN ('connected', 'abandoned'))::int AS answered,
           count(*) FILTER (WHERE outcome = 'abandoned')::int AS abandoned,
           count(*) FILTER (WHERE outcome IN ('connected', 'abandoned') AND ended_at > ${new Date(now.getTime() - 60_000)})::int AS last_minute
    FROM dialer_attempts WHERE campaign_id = ${campaignId}::uuid AND ended_at > ${new Date(now.getTime() - windowMs)}`;

  const seconds = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000);
  // Figures from a telephony process without statusSeconds (an older build during a rolling
  // deploy): a busy agent has been talking since the campaign call they took was connected.
  const talkingSince = new Map<string, Date>();
  for (const row of recent) {
    if (row.outcome === 'connected' && row.agent_id !== null && row.call_ended_at === null && !talkingSince.has(row.agent_id)) talkingSince.set(row.agent_id, row.ended_at);
  }
  const loggedIn = inputs.agents.filter((agent) => agent.status !== 'logged-out');
  // Supply is who can take a call now or will after the call in hand: an agent on a break
  // (not-ready) or whose phone is not registered frees up at no time the pacer could expect.
  const working = loggedIn.filter((agent) => agent.offerable || agent.status === 'ringing' || agent.status === 'busy' || agent.status === 'wrap-up');
  const agents: AgentNow[] = working.map((agent) => {
    if (agent.offerable) return { activity: 'ready', elapsedSeconds: agent.idleSeconds ?? 0 };
    if (agent.status === 'wrap-up') return { activity: 'wrapup', elapsedSeconds: agent.statusSeconds ?? 0 };
    // An agent whose phone rings for a call has not started talking yet.
    if (agent.status === 'ringing') return { activity: 'talking', elapsedSeconds: 0 };
    if (agent.statusSeconds !== undefined) return { activity: 'talking', elapsedSeconds: agent.statusSeconds };
    const since = talkingSince.get(agent.id);
    return { activity: 'talking', elapsedSeconds: since ? seconds(since, now) : 0 };
  });
  // Waiting calls whose agent's phone is ringing already: matched, counted with that (busy) agent.
  const matched = new Set(loggedIn.filter((agent) => agent.status === 'ringing').map((agent) => attemptOfCall(agent.callId)));
  const predictive = config.mode === 'predictive';
  const waitingSeconds: number[] = [];
  const ringingSeconds: number[] = [];
  for (const call of inFlight) {
    if (call.waiting === null) ringingSeconds.push(Math.max(0, call.ringing));
    else if (matched.has(call.id)) continue;
    else if (!predictive || call.waiting < settings.connectSeconds) waitingSeconds.push(Math.max(0, call.waiting));
  }
  return {
    agents,
    ringingSeconds,
    waitingSeconds,
    recentCalls: recent.map((row) => {
      const answered = row.outcome === 'connected' || row.outcome === 'abandoned';
      return { answered, ringSeconds: seconds(row.launched_at, answered && row.answered_at ? row.answered_at : row.ended_at) };
    }),
    recentHandles: recent
      .filter((row) => row.outcome === 'connected' && row.answered_at !== null && row.call_ended_at !== null)
      .map((row) => ({ talkSeconds: seconds(row.ended_at, row.call_ended_at as Date), wrapSeconds: inputs.wrapUpSeconds })),
    window: { answered: window?.answered ?? 0, abandoned: window?.abandoned ?? 0 },
    answeredLastMinute: window?.last_minute ?? 0,
    settings,
  };
}
