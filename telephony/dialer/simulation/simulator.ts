// Discrete-event simulation of one predictive-dialing campaign day, to compare pacers on the same
// outcome stream. Everything a pacer sees is what a live dialer sees (agents' activities and how
// long they have been in them, calls ringing and for how long, answered calls waiting, outcomes of
// finished calls, the day's totals); the outcome of a call is revealed only when it happens.
//
// Rules: all agents are logged in for the whole day. An answered call goes to the agent who has
// been ready longest; if none is ready it waits, and if no agent is free `connectSeconds` after the
// answer it is abandoned (hung up). Abandon rate = abandoned / answered.
// Occupancy = agent seconds talking or in wrap-up / agent seconds logged in (agents x day), with
// calls still in progress at the end counted up to the end of the day. Same for every pacer.
import type { AgentActivity, AgentNow, RecentCall, RecentHandle } from '../pacer.js';
import { EventQueue } from './event-queue.js';
import { outcomeStream, type CallOutcome, type OutcomeSettings } from './outcomes.js';

/** What a pacer sees at a decision instant. */
export interface LiveView {
  /** Seconds since the start of the day. */
  now: number;
  dayStartSecondsOfDay: number;
  daySeconds: number;
  agents: readonly AgentNow[];
  ringingSeconds: readonly number[];
  waitingSeconds: readonly number[];
  /** Agents talking with a customer. */
  connected: number;
  recentCalls: readonly RecentCall[];
  recentHandles: readonly RecentHandle[];
  totals: { dialed: number; answered: number; abandoned: number };
  answeredLastMinute: number;
  connectSeconds: number;
  noAnswerTimeoutSeconds: number;
}

export interface DialingPolicy {
  readonly name: string;
  /** Seconds between periodic decisions. */
  readonly tickSeconds: number;
  /** Also decide right after every event (answer, no answer, agent free, abandon). */
  readonly decidesOnEvents: boolean;
  /** Calls to launch now. */
  launches(view: LiveView): number;
}

export interface SimulationSettings {
  agents: number;
  daySeconds: number;
  /** Clock time at which the day starts, seconds after midnight (VICIdial's tapering reads it). */
  dayStartSecondsOfDay: number;
  connectSeconds: number;
  outcomes: OutcomeSettings;
  seed: number;
  recentCallsKept: number;
  recentHandlesKept: number;
}

export interface SimulationResult {
  policy: string;
  dialed: number;
  answered: number;
  abandoned: number;
  noAnswer: number;
  connected: number;
  abandonRate: number;
  occupancy: number;
  /** Calls still ringing, and answered calls still waiting for an agent, at the end of the day. */
  ringingAtEnd: number;
  waitingAtEnd: number;
  /** Highest number of calls answered within any 60 s window. */
  maxAnsweredPerMinute: number;
}

type Event =
  | { kind: 'answer'; call: number }
  | { kind: 'no-answer'; call: number }
  | { kind: 'deadline'; call: number }
  | { kind: 'talk-end'; agent: number }
  | { kind: 'wrap-end'; agent: number }
  | { kind: 'tick' };

interface Agent {
  activity: AgentActivity;
  since: number;
  busySince: number;
  talkSeconds: number;
  wrapSeconds: number;
}

export function simulateDay(policy: DialingPolicy, settings: SimulationSettings): SimulationResult {
  const outcomeOf = outcomeStream(settings.seed, settings.outcomes);
  const end = settings.daySeconds;
  const queue = new EventQueue<Event>();
  const agents: Agent[] = Array.from({ length: settings.agents }, () => ({ activity: 'ready', since: 0, busySince: 0, talkSeconds: 0, wrapSeconds: 0 }));
  const readyOrder: number[] = agents.map((_, index) => index);
  const ringing = new Map<number, { launchedAt: number; outcome: CallOutcome }>();
  const waiting = new Map<number, { answeredAt: number; outcome: CallOutcome }>();
  const recentCalls: RecentCall[] = [];
  const recentHandles: RecentHandle[] = [];
  const answerTimes: number[] = [];
  let answerTimesStart = 0;
  let maxAnsweredPerMinute = 0;
  let dialed = 0;
  let answered = 0;
  let abandoned = 0;
  let noAnswer = 0;
  let connected = 0;
  let busySeconds = 0;
  let now = 0;

  const keep = <T>(list: T[], item: T, limit: number) => {
    list.push(item);
    if (list.length > limit * 2) list.splice(0, list.length - limit);
  };
  const lastItems = <T>(list: T[], limit: number): T[] => (list.length > limit ? list.slice(list.length - limit) : list);

  const connect = (agentIndex: number, outcome: CallOutcome) => {
    const agent = agents[agentIndex]!;
    agent.activity = 'talking';
    agent.since = now;
    agent.busySince = now;
    agent.talkSeconds = outcome.talkSeconds;
    agent.wrapSeconds = outcome.wrapSeconds;
    connected += 1;
    queue.push(now + outcome.talkSeconds, { kind: 'talk-end', agent: agentIndex });
  };

  const launch = (count: number) => {
    for (let i = 0; i < count; i += 1) {
      const call = dialed;
      dialed += 1;
      const outcome = outcomeOf(call);
      ringing.set(call, { launchedAt: now, outcome });
      queue.push(now + outcome.ringSeconds, outcome.answered ? { kind: 'answer', call } : { kind: 'no-answer', call });
    }
  };

  const view = (): LiveView => {
    while (answerTimesStart < answerTimes.length && answerTimes[answerTimesStart]! <= now - 60) answerTimesStart += 1;
    let talking = 0;
    const agentViews = agents.map((agent) => {
      if (agent.activity === 'talking') talking += 1;
      return { activity: agent.activity, elapsedSeconds: now - agent.since };
    });
    return {
      now,
      dayStartSecondsOfDay: settings.dayStartSecondsOfDay,
      daySeconds: end,
      agents: agentViews,
      ringingSeconds: [...ringing.values()].map((call) => now - call.launchedAt),
      waitingSeconds: [...waiting.values()].map((call) => now - call.answeredAt),
      connected: talking,
      recentCalls: lastItems(recentCalls, settings.recentCallsKept),
      recentHandles: lastItems(recentHandles, settings.recentHandlesKept),
      totals: { dialed, answered, abandoned },
      answeredLastMinute: answerTimes.length - answerTimesStart,
      connectSeconds: settings.connectSeconds,
      noAnswerTimeoutSeconds: settings.outcomes.noAnswerTimeoutSeconds,
    };
  };

  const decide = () => {
    if (now >= end) return;
    const count = policy.launches(view());
    if (!Number.isInteger(count) || count < 0) throw new Error(`${policy.name} asked for ${count} launches`);
    launch(count);
  };

  queue.push(0, { kind: 'tick' });
  while (queue.size > 0 && (queue.peekTime() ?? Infinity) <= end) {
    const item = queue.pop()!;
    now = item.at;
    const event = item.event;
    switch (event.kind) {
      case 'tick':
        queue.push(now + policy.tickSeconds, { kind: 'tick' });
        decide();
        continue;
      case 'answer': {
        const call = ringing.get(event.call)!;
        ringing.delete(event.call);
        answered += 1;
        answerTimes.push(now);
        while (answerTimes[answerTimesStart]! <= now - 60) answerTimesStart += 1;
        maxAnsweredPerMinute = Math.max(maxAnsweredPerMinute, answerTimes.length - answerTimesStart);
        if (answerTimesStart > 10_000) {
          answerTimes.splice(0, answerTimesStart);
          answerTimesStart = 0;
        }
        keep(recentCalls, { answered: true, ringSeconds: call.outcome.ringSeconds }, settings.recentCallsKept);
        const agentIndex = readyOrder.shift();
        if (agentIndex !== undefined) connect(agentIndex, call.outcome);
        else {
          waiting.set(event.call, { answeredAt: now, outcome: call.outcome });
          queue.push(now + settings.connectSeconds, { kind: 'deadline', call: event.call });
        }
        break;
      }
      case 'no-answer': {
        const call = ringing.get(event.call)!;
        ringing.delete(event.call);
        noAnswer += 1;
        keep(recentCalls, { answered: false, ringSeconds: call.outcome.ringSeconds }, settings.recentCallsKept);
        break;
      }
      case 'deadline':
        if (waiting.delete(event.call)) abandoned += 1;
        break;
      case 'talk-end': {
        const agent = agents[event.agent]!;
        agent.activity = 'wrapup';
        agent.since = now;
        queue.push(now + agent.wrapSeconds, { kind: 'wrap-end', agent: event.agent });
        break;
      }
      case 'wrap-end': {
        const agent = agents[event.agent]!;
        busySeconds += now - agent.busySince;
        keep(recentHandles, { talkSeconds: agent.talkSeconds, wrapSeconds: agent.wrapSeconds }, settings.recentHandlesKept);
        const next = waiting.entries().next();
        if (!next.done) {
          const [call, waitingCall] = next.value;
          waiting.delete(call);
          connect(event.agent, waitingCall.outcome);
        } else {
          agent.activity = 'ready';
          agent.since = now;
          readyOrder.push(event.agent);
        }
        break;
      }
    }
    if (policy.decidesOnEvents) decide();
  }
  now = end;
  for (const agent of agents) if (agent.activity !== 'ready') busySeconds += end - agent.busySince;

  return {
    policy: policy.name,
    dialed,
    answered,
    abandoned,
    noAnswer,
    connected,
    abandonRate: answered > 0 ? abandoned / answered : 0,
    occupancy: settings.agents > 0 ? busySeconds / (settings.agents * end) : 0,
    ringingAtEnd: ringing.size,
    waitingAtEnd: waiting.size,
    maxAnsweredPerMinute,
  };
}
