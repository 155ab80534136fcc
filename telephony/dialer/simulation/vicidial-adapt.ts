// VICIdial's adaptive predictive pacing, ported to the simulator as a baseline.
//
// Source of the algorithm: VICIdial's bin/AST_VDadapt.pl (version 2.4, "adjusts the
// auto_dial_level for vicidial adaptive-predictive campaigns", AGPLv2, Matt Florell), subroutines
// count_agents_lines, calculate_drops and calculate_dial_level and its 1 s master loop, and the
// dialing step of bin/AST_VDauto_dial.pl (goal calls = dial level x agents, minus calls already
// active). This is our own TypeScript reimplementation of that logic, not a copy of the Perl.
//
// What it does, as in the Perl:
// - every second (loop delay 1 s) it samples ready agents (READY or DONE), answered calls waiting
//   for an agent (auto_calls status LIVE) and logged-in agents, and averages the last 15 samples;
// - every 60 s it refreshes the drop figures: calls and drops in the last minute, calls, answers
//   and drops today;
// - every 15 s it moves the dial level by the differential: differential = avg ready - avg
//   waiting (+ adaptive_dl_diff_target, 0), level' = level x (1 + differential / avg agents), with
//   adaptive_intensity 0 (no scaling), rounded to 3 decimals, capped at adaptive_maximum_level
//   (3.0) and floored at 1.0; then the drop rules: more than 20 calls in the last minute with
//   drops over 50% of them halves the level; more than 50 calls today with drops over
//   adaptive_dropped_percentage (3%) of today's answers applies ADAPT_TAPERED: with HHMM hours left
//   until adaptive_latest_server_time (as the Perl subtracts HHMM numbers, 1700 - 1245 = 455) the
//   level is multiplied by min(1, hours left / 1000), or set to 1.0 once that time has passed;
//   finally never below 1.0. The result becomes the campaign's auto_dial_level;
// - every 2.5 s (AST_VDauto_dial's loop) it places goal - active calls, with
//   goal = round(level x agents counted) + calls connected to agents (XFER/CLOSER, counted when the
//   ratio uses ready agents only) and active = calls SENT, RINGING, LIVE, XFER or CLOSER.
//
// Configuration, as an operator who must stay under 3% sets it: ADAPT_TAPERED, drop target 3%,
// maximum level 3.0, available_only_ratio_tally = Y (ratio on ready agents), latest target time
// = end of the shift, starting level 1.0.
import { roundHalfEven } from './policies.js';
import type { DialingPolicy, LiveView } from './simulator.js';

export interface VicidialSettings {
  startLevel: number;
  maximumLevel: number;
  droppedPercentage: number;
  /** adaptive_latest_server_time, HHMM. */
  latestServerTime: number;
  availableOnlyRatioTally: boolean;
  dialLevelDifferenceTarget: number;
}

function sprintfFixed(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/** HHMM of a clock time in seconds after midnight, as VICIdial's $current_hourmin. */
function hourMinute(secondsOfDay: number): number {
  const minutes = Math.floor(secondsOfDay / 60);
  return Math.floor(minutes / 60) * 100 + (minutes % 60);
}

export function vicidialAdaptPolicy(overrides: Partial<VicidialSettings> & { shiftEndSecondsOfDay: number }): DialingPolicy {
  const settings: VicidialSettings = {
    startLevel: 1,
    maximumLevel: 3,
    droppedPercentage: 3,
    latestServerTime: hourMinute(overrides.shiftEndSecondsOfDay),
    availableOnlyRatioTally: true,
    dialLevelDifferenceTarget: 0,
    ...overrides,
  };
  let level = settings.startLevel;
  const readySamples: number[] = [];
  const waitingSamples: number[] = [];
  const totalSamples: number[] = [];
  let nextLoop = 0;
  let nextDial = 0;
  let diffRatioUpdater = 0;
  let dropCountUpdater = 61; // as the Perl: a baseline drop count on the first loop
  // Drop figures, refreshed by calculate_drops.
  let callsOne = 0;
  let dropsOnePct = 0;
  let callsToday = 0;
  let dropsAnswersTodayPct = 0;
  // Totals per second, to count the last minute.
  const history: { at: number; dialed: number; abandoned: number }[] = [];

  const average = (samples: number[]) => (samples.length === 0 ? 0 : samples.reduce((sum, value) => sum + value, 0) / samples.length);

  const calculateDrops = (view: LiveView) => {
    let minuteAgo = history[0];
    for (const entry of history) {
      if (entry.at > view.now - 60) break;
      minuteAgo = entry;
    }
    callsOne = view.totals.dialed - (minuteAgo?.dialed ?? 0);
    const dropsOne = view.totals.abandoned - (minuteAgo?.abandoned ?? 0);
    dropsOnePct = callsOne > 0 && dropsOne > 0 ? sprintfFixed((dropsOne / callsOne) * 100, 2) : 0;
    callsToday = view.totals.dialed;
    const answersToday = Math.max(1, view.totals.answered);
    dropsAnswersTodayPct = view.totals.abandoned > 0 ? sprintfFixed((view.totals.abandoned / answersToday) * 100, 2) : 0;
  };

  const calculateDialLevel = (view: LiveView) => {
    const differentialTarget = average(readySamples) - average(waitingSamples) + settings.dialLevelDifferenceTarget;
    const agentsAverage = average(totalSamples);
    const differentialMul = differentialTarget !== 0 && agentsAverage !== 0 ? differentialTarget / agentsAverage : 0;
    // adaptive_intensity 0: the intensity multiplier leaves the differential as it is.
    let next = sprintfFixed(level * (differentialMul + 1), 3);
    if (next > settings.maximumLevel) next = settings.maximumLevel;
    if (next < 1) next = 1;
    if (callsOne > 20 && dropsOnePct > 50) next /= 2;
    if (callsToday > 50 && dropsAnswersTodayPct > settings.droppedPercentage) {
      const hoursLeft = settings.latestServerTime - hourMinute(view.dayStartSecondsOfDay + view.now);
      const taperedRate = hoursLeft > 1000 ? 1 : hoursLeft / 1000;
      next = hoursLeft < 0 ? 1 : next * taperedRate;
    }
    if (next < 1) next = 1;
    level = next;
  };

  const adaptLoop = (view: LiveView) => {
    history.push({ at: view.now, dialed: view.totals.dialed, abandoned: view.totals.abandoned });
    while (history.length > 0 && history[0]!.at < view.now - 120) history.shift();
    let ready = 0;
    for (const agent of view.agents) if (agent.activity === 'ready') ready += 1;
    readySamples.push(ready);
    waitingSamples.push(view.waitingSeconds.length);
    totalSamples.push(view.agents.length);
    if (readySamples.length > 15) {
      readySamples.shift();
      waitingSamples.shift();
      totalSamples.shift();
    }
    let resetDrops = false;
    let resetDiff = false;
    if (average(totalSamples) > 0) {
      if (dropCountUpdater >= 60) {
        calculateDrops(view);
        resetDrops = true;
      }
      if (diffRatioUpdater >= 15) {
        calculateDialLevel(view);
        resetDiff = true;
      }
    }
    if (resetDiff) diffRatioUpdater = 0;
    if (resetDrops) dropCountUpdater = 0;
    diffRatioUpdater += 1;
    dropCountUpdater += 1;
  };

  const dial = (view: LiveView): number => {
    let ready = 0;
    for (const agent of view.agents) if (agent.activity === 'ready') ready += 1;
    const counted = settings.availableOnlyRatioTally ? ready : ready + view.connected;
    const agentsCounted = Math.max(0, counted + settings.dialLevelDifferenceTarget);
    let goal = level * agentsCounted;
    if (settings.availableOnlyRatioTally) goal += view.connected;
    const active = view.ringingSeconds.length + view.waitingSeconds.length + view.connected;
    return Math.max(0, roundHalfEven(goal) - active);
  };

  return {
    name: 'vicidial ADAPT_TAPERED',
    tickSeconds: 0.5,
    decidesOnEvents: false,
    launches: (view) => {
      while (view.now >= nextLoop) {
        adaptLoop(view);
        nextLoop += 1;
      }
      if (view.now >= nextDial) {
        nextDial += 2.5;
        return dial(view);
      }
      return 0;
    },
  };
}

