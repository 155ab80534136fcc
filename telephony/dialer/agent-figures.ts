/**
 * The live agent figures the dialer paces by, read from the telephony side's roster: for one ACD
 * queue, who is logged in, who could be offered a call right now (logged in, registered, ready),
 * who is talking or wrapping up. Served as a Temporal activity by whichever process holds the
 * project's roster (the telephony process), on the shared telephony task queue; the campaign and
 * callback workflows call it each tick.
 */
import type { AgentRoster, AgentStatus } from '../acd/roster.js';

export interface AgentFiguresInput {
  projectId: string;
  queue: string;
}

export interface AgentFigure {
  id: string;
  status: AgentStatus;
  registered: boolean;
  /** Could be rung for a call right now. */
  offerable: boolean;
  /** Seconds since the agent became ready (ready agents only). */
  idleSeconds?: number;
  /** Seconds in the present status: how long a busy agent has talked, a wrapping-up one wrapped up. */
  statusSeconds?: number;
  /** The call the agent is being offered (ringing) or is talking to; a campaign call is `dial-<attempt id>`. */
  callId?: string;
}

export interface QueueAgentFigures {
  queue: string;
  /** Agents of the queue logged in (any state but logged-out). */
  loggedIn: number;
  /** Agents who could take a call right now. */
  ready: number;
  /** Agents ringing or talking. */
  busy: number;
  wrapUp: number;
  agents: AgentFigure[];
}

/** Where the figures come from: the telephony process's rosters and queue configurations. */
export interface AgentFigureSource {
  /** The project's roster, or undefined when this process runs no telephony for it. */
  roster(projectId: string): AgentRoster | undefined;
  /** The agents of a queue, or undefined when the project has no such queue. */
  queueAgents(projectId: string, queue: string): readonly string[] | undefined;
}

export class NoSuchQueueError extends Error {}

/** The figures of one queue at this instant. */
export function queueAgentFigures(source: AgentFigureSource, input: AgentFiguresInput, now: Date = new Date()): QueueAgentFigures {
  const roster = source.roster(input.projectId);
  const members = source.queueAgents(input.projectId, input.queue);
  if (roster === undefined || members === undefined) throw new NoSuchQueueError(`project ${input.projectId} runs no queue "${input.queue}" here`);
  const agents: AgentFigure[] = members.map((id) => {
    const view = roster.view(id);
    const offerable = roster.isOfferable(id);
    return {
      id,
      status: view.status,
      registered: view.registered,
      offerable,
      ...(offerable && view.idleSince ? { idleSeconds: Math.max(0, (now.getTime() - view.idleSince.getTime()) / 1000) } : {}),
      statusSeconds: Math.max(0, (now.getTime() - view.statusSince.getTime()) / 1000),
      ...(view.callId === undefined ? {} : { callId: view.callId }),
    };
  });
  return {
    queue: input.queue,
    loggedIn: agents.filter((agent) => agent.status !== 'logged-out').length,
    ready: agents.filter((agent) => agent.offerable).length,
    busy: agents.filter((agent) => agent.status === 'ringing' || agent.status === 'busy').length,
    wrapUp: agents.filter((agent) => agent.status === 'wrap-up').length,
    agents,
  };
}

/** The activity the dialer calls on the telephony task queue. */
export function createAgentFigureActivities(source: AgentFigureSource) {
  return {
    async queueAgentFigures(input: AgentFiguresInput): Promise<QueueAgentFigures> {
      return queueAgentFigures(source, input);
    },
  };
}

export type AgentFigureActivities = ReturnType<typeof createAgentFigureActivities>;

/** The figures of the telephony process: its rosters, and the queues of each project's running call center. */
export function runtimeAgentFigureSource(runtime: {
  hasProject(projectId: string): boolean;
  rosterFor(projectId: string): AgentRoster;
  centerFor(projectId: string): { queues: ReadonlyMap<string, { config: { agents: readonly string[] } }> };
}): AgentFigureSource {
  return {
    roster: (projectId) => (runtime.hasProject(projectId) ? runtime.rosterFor(projectId) : undefined),
    queueAgents: (projectId, queue) => (runtime.hasProject(projectId) ? runtime.centerFor(projectId).queues.get(queue)?.config.agents : undefined),
  };
}
