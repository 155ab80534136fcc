// bench:dialer - the predictive dialer's pacer against three baselines on a simulated day, same run,
// same outcome stream (common random numbers: the k-th call any pacer dials gets the same answer,
// ring and talk draws). Pure simulation: no PostgreSQL, Temporal or SIP is involved, the pacer is a
// pure function and the simulator is its only caller here.
//   1. ours: telephony/dialer/pacer.ts (decideLaunches), target 3% abandoned;
//   2. progressive 1:1;
//   3. VICIdial ADAPT_TAPERED (telephony/dialer/simulation/vicidial-adapt.ts);
//   4. the best fixed dial level: a sweep (coarse 0.1 steps, then 0.02 around the best) over
//      fixed levels counted on ready agents and on staffed agents; per seed, the level with the
//      highest occupancy whose abandon rate over the day stays <= 3% (a hindsight optimum).
// Day: BENCH_DIALER_HOURS (8) h, BENCH_DIALER_AGENTS (20) agents, answer probability
// BENCH_DIALER_ANSWER (0.25), ring U(5,25) s for answers, no-answer timeout 25 s, talk lognormal
// mean 180 s cv 0.6, wrap-up 10 s, abandoned = answered with no agent within 2 s, abandon rate =
// abandoned / answered, occupancy = agent time talking or in wrap-up / agent time logged in.
// Seeds: BENCH_DIALER_SEEDS (1,2,3). Options may also be given as --agents=50 --answer=0.3
// --hours=8 --seeds=1,2,3.
// Final line: {"occupancy","abandon_rate","progressive_occupancy","vicidial_occupancy",
// "vicidial_abandon_rate","best_fixed_occupancy",...} (means over the seeds, per-seed figures too).
import { defaultOutcomeSettings } from '../telephony/dialer/simulation/outcomes.js';
import { fixedLevelPolicy, predictivePolicy, progressivePolicy } from '../telephony/dialer/simulation/policies.js';
import { simulateDay, type DialingPolicy, type SimulationResult, type SimulationSettings } from '../telephony/dialer/simulation/simulator.js';
import { vicidialAdaptPolicy } from '../telephony/dialer/simulation/vicidial-adapt.js';

function option(name: string, fallback: string): string {
  const flag = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  if (flag) return flag.slice(name.length + 3);
  return process.env[`BENCH_DIALER_${name.toUpperCase()}`] ?? fallback;
}

function numberOption(name: string, fallback: number, valid: (value: number) => boolean): number {
  const value = Number(option(name, String(fallback)));
  if (!Number.isFinite(value) || !valid(value)) throw new Error(`--${name} / BENCH_DIALER_${name.toUpperCase()}: invalid value ${option(name, '')}`);
  return value;
}

const AGENTS = numberOption('agents', 20, (value) => Number.isInteger(value) && value >= 1);
const ANSWER = numberOption('answer', 0.25, (value) => value > 0 && value <= 1);
const HOURS = numberOption('hours', 8, (value) => value > 0 && value <= 24);
const SEEDS = option('seeds', '1,2,3').split(',').map((seed) => Number(seed.trim()));
if (SEEDS.some((seed) => !Number.isInteger(seed))) throw new Error('--seeds: comma-separated integers');
const TARGET = 0.03;
const SHIFT_START = 9 * 3600;

function settingsFor(seed: number): SimulationSettings {
  return {
    agents: AGENTS,
    daySeconds: HOURS * 3600,
    dayStartSecondsOfDay: SHIFT_START,
    connectSeconds: 2,
    outcomes: { ...defaultOutcomeSettings, answerProbability: ANSWER },
    seed,
    recentCallsKept: 400,
    recentHandlesKept: 200,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const pct = (value: number) => `${(100 * value).toFixed(2)}%`;
const round4 = (value: number) => Math.round(value * 10_000) / 10_000;
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

function run(policy: DialingPolicy, seed: number): SimulationResult {
  return simulateDay(policy, settingsFor(seed));
}

function describe(result: SimulationResult, seconds?: number): string {
  return `${result.policy.padEnd(26)} occupancy ${pct(result.occupancy)}  abandoned ${pct(result.abandonRate)} (${result.abandoned}/${result.answered})  dialed ${result.dialed}${seconds === undefined ? '' : `  ${seconds.toFixed(1)} s`}`;
}

/** Best fixed level for one seed: highest occupancy with abandon rate <= target. */
function bestFixed(seed: number): SimulationResult & { level: number; countedOn: string } {
  let best: (SimulationResult & { level: number; countedOn: string }) | undefined;
  const consider = (level: number, countedOn: 'ready' | 'staffed') => {
    const result = run(fixedLevelPolicy(level, countedOn), seed);
    if (result.abandonRate <= TARGET && (!best || result.occupancy > best.occupancy)) best = { ...result, level, countedOn };
    return result;
  };
  for (const countedOn of ['ready', 'staffed'] as const) {
    let bestCoarse: number | undefined;
    let bestCoarseOccupancy = -1;
    for (let level = 1; level <= 3.0001; level += 0.1) {
      const result = consider(level, countedOn);
      if (result.abandonRate <= TARGET && result.occupancy > bestCoarseOccupancy) {
        bestCoarse = level;
        bestCoarseOccupancy = result.occupancy;
      }
      if (result.abandonRate > 3 * TARGET) break;
    }
    if (bestCoarse !== undefined) {
      for (let level = bestCoarse - 0.08; level <= bestCoarse + 0.0801; level += 0.02) if (level >= 1) consider(level, countedOn);
    }
  }
  return best!;
}

const started = performance.now();
const perSeed = SEEDS.map((seed) => {
  log(`seed ${seed}: ${AGENTS} agents, answer ${ANSWER}, ${HOURS} h`);
  let t = performance.now();
  const ours = run(predictivePolicy({ abandonTarget: TARGET }), seed);
  log(`  ${describe(ours, (performance.now() - t) / 1000)}`);
  t = performance.now();
  const progressive = run(progressivePolicy(), seed);
  log(`  ${describe(progressive, (performance.now() - t) / 1000)}`);
  t = performance.now();
  const vicidial = run(vicidialAdaptPolicy({ shiftEndSecondsOfDay: SHIFT_START + HOURS * 3600 }), seed);
  log(`  ${describe(vicidial, (performance.now() - t) / 1000)}`);
  t = performance.now();
  const fixed = bestFixed(seed);
  log(`  ${describe(fixed, (performance.now() - t) / 1000)}  (best fixed level of the sweep)`);
  return { seed, ours, progressive, vicidial, fixed };
});

const summary = {
  occupancy: round4(mean(perSeed.map((s) => s.ours.occupancy))),
  abandon_rate: round4(mean(perSeed.map((s) => s.ours.abandonRate))),
  progressive_occupancy: round4(mean(perSeed.map((s) => s.progressive.occupancy))),
  vicidial_occupancy: round4(mean(perSeed.map((s) => s.vicidial.occupancy))),
  vicidial_abandon_rate: round4(mean(perSeed.map((s) => s.vicidial.abandonRate))),
  best_fixed_occupancy: round4(mean(perSeed.map((s) => s.fixed.occupancy))),
  best_fixed_abandon_rate: round4(mean(perSeed.map((s) => s.fixed.abandonRate))),
  abandon_rate_per_seed: perSeed.map((s) => round4(s.ours.abandonRate)),
  occupancy_per_seed: perSeed.map((s) => round4(s.ours.occupancy)),
  vicidial_abandon_rate_per_seed: perSeed.map((s) => round4(s.vicidial.abandonRate)),
  best_fixed_levels: perSeed.map((s) => `${s.fixed.level.toFixed(2)} ${s.fixed.countedOn}`),
  answered_per_agent_hour: round4(mean(perSeed.map((s) => s.ours.answered - s.ours.abandoned)) / (AGENTS * HOURS)),
  progressive_answered_per_agent_hour: round4(mean(perSeed.map((s) => s.progressive.answered)) / (AGENTS * HOURS)),
  agents: AGENTS,
  answer_probability: ANSWER,
  hours: HOURS,
  seeds: SEEDS,
  target: TARGET,
  seconds: Math.round((performance.now() - started) / 100) / 10,
};
console.log(JSON.stringify(summary));
