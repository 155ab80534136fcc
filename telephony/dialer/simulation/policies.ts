// Dialing policies for the simulator: our pacer, progressive 1:1 and fixed dial levels.
import { decideLaunches, defaultPacerSettings, type PacerSettings } from '../pacer.js';
import type { DialingPolicy, LiveView } from './simulator.js';

/** Perl's sprintf("%.0f"): round half to even. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function readyAgents(view: LiveView): number {
  let ready = 0;
  for (const agent of view.agents) if (agent.activity === 'ready') ready += 1;
  return ready;
}

/** Ours: `decideLaunches` on every event and every second. */
export function predictivePolicy(settings: Partial<PacerSettings> = {}): DialingPolicy {
  return {
    name: 'predictive',
    tickSeconds: 1,
    decidesOnEvents: true,
    launches: (view) => decideLaunches({
      agents: view.agents,
      ringingSeconds: view.ringingSeconds,
      waitingSeconds: view.waitingSeconds,
      recentCalls: view.recentCalls,
      recentHandles: view.recentHandles,
      window: { answered: view.totals.answered, abandoned: view.totals.abandoned },
      answeredLastMinute: view.answeredLastMinute,
      settings: {
        ...defaultPacerSettings,
        connectSeconds: view.connectSeconds,
        noAnswerTimeoutSeconds: view.noAnswerTimeoutSeconds,
        ...settings,
      },
    }).launch,
  };
}

/** Progressive 1:1: one call in flight per ready agent. Never abandons. */
export function progressivePolicy(): DialingPolicy {
  return {
    name: 'progressive',
    tickSeconds: 1,
    decidesOnEvents: true,
    launches: (view) => Math.max(0, readyAgents(view) - view.ringingSeconds.length - view.waitingSeconds.length),
  };
}

/**
 * A fixed dial level, decided on every event and every second.
 * - 'ready': VICIdial's RATIO with the ratio counted on ready agents only: calls in flight
 *   (ringing or answered waiting) = round(level x ready agents).
 * - 'staffed': the ratio counted on all agents not in wrap-up (ready or talking): calls in flight
 *   plus calls connected = round(level x (ready + talking)).
 */
export function fixedLevelPolicy(level: number, countedOn: 'ready' | 'staffed'): DialingPolicy {
  return {
    name: `fixed ${level.toFixed(2)} (${countedOn})`,
    tickSeconds: 1,
    decidesOnEvents: true,
    launches: (view) => {
      const ready = readyAgents(view);
      const inFlight = view.ringingSeconds.length + view.waitingSeconds.length;
      const goal = countedOn === 'ready'
        ? roundHalfEven(level * ready)
        : roundHalfEven(level * (ready + view.connected)) - view.connected;
      return Math.max(0, goal - inFlight);
    },
  };
}
