// A STAND-IN for the telephony process in tests of the campaign and callback workflows: it serves
// the same activities on the same task queues (agent figures from a real AgentRoster, placeCall and
// bridgeToAgent with the telephony activities' signatures), but places no SIP call: each number's
// answer is scripted (answered, busy, no-answer, failed), and an answered call is handed to the
// longest-idle offerable agent of the roster (the preferred one first), who becomes busy. The real
// path over SIP is the telephony process's (telephony/activities.ts); this lets the workflows'
// own logic be tested against real Temporal and PostgreSQL without a SIP stack in the same file.
import { NativeConnection, Worker } from '@temporalio/worker';
import { AgentRoster } from '../../telephony/acd/roster.js';
import type { PlaceCallInput, PlaceCallOutput } from '../../telephony/activities.js';
import { createAgentFigureActivities } from '../../telephony/dialer/agent-figures.js';

export type ScriptedAnswer = 'answered' | 'busy' | 'no-answer' | 'failed';

export interface TelephonyStandIn {
  roster: AgentRoster;
  /** Queue name -> its agents. */
  queues: Map<string, string[]>;
  /** E.164 -> how the number answers (default answered). */
  script: Map<string, ScriptedAnswer>;
  /** Every placement, in order, with when it was placed. */
  placed: (PlaceCallInput & { placedAt: Date })[];
  /** Every hand-over to an agent: callId -> agent. */
  bridged: Map<string, string>;
  /** An agent present and ready (logged in, registered, ready). */
  ready(agentId: string): void;
  stop(): Promise<void>;
}

export async function startTelephonyStandIn(options: { temporalAddress: string; taskQueue: string; projectId: string; queues: Record<string, string[]> }): Promise<TelephonyStandIn> {
  const roster = new AgentRoster();
  const queues = new Map(Object.entries(options.queues));
  for (const agents of queues.values()) for (const agent of agents) roster.add(agent);
  const script = new Map<string, ScriptedAnswer>();
  const placed: (PlaceCallInput & { placedAt: Date })[] = [];
  const bridged = new Map<string, string>();
  const answeredCalls = new Set<string>();
  const figures = createAgentFigureActivities({
    roster: (projectId) => (projectId === options.projectId ? roster : undefined),
    queueAgents: (projectId, queue) => (projectId === options.projectId ? queues.get(queue) : undefined),
  });
  const activities = {
    ...figures,
    async placeCall(input: PlaceCallInput): Promise<PlaceCallOutput> {
      placed.push({ ...input, placedAt: new Date() });
      const answer = script.get(input.to) ?? 'answered';
      if (answer === 'answered') answeredCalls.add(input.callId);
      return {
        callId: input.callId,
        outcome: answer,
        attempts: [{ trunk: 'stand-in', outcome: answer }],
        taskQueue: options.taskQueue,
        ...(answer === 'busy' ? { sipStatus: 486 } : answer === 'failed' ? { sipStatus: 503, reason: 'scripted failure' } : {}),
      };
    },
    async bridgeToAgent(callId: string, queue: string, preferredAgent?: string): Promise<{ outcome: string; agentId?: string; waitedMs: number }> {
      if (!answeredCalls.has(callId)) throw new Error(`call ${callId} is not live`);
      const members = queues.get(queue) ?? [];
      const offerable = members.filter((agent) => roster.isOfferable(agent));
      offerable.sort((a, b) => (roster.view(a).idleSince?.getTime() ?? 0) - (roster.view(b).idleSince?.getTime() ?? 0));
      const agent = preferredAgent !== undefined && offerable.includes(preferredAgent) ? preferredAgent : offerable[0];
      if (agent === undefined) return { outcome: 'abandoned', waitedMs: 0 };
      const offer = roster.claimForOffer(agent, callId);
      if (offer === undefined || !roster.offerAnswered(offer)) return { outcome: 'abandoned', waitedMs: 0 };
      bridged.set(callId, agent);
      return { outcome: 'connected', agentId: agent, waitedMs: 0 };
    },
    async hangupCall(callId: string): Promise<{ hungUp: boolean }> {
      return { hungUp: answeredCalls.delete(callId) };
    },
  };
  const connection = await NativeConnection.connect({ address: options.temporalAddress });
  const worker = await Worker.create({ connection, taskQueue: options.taskQueue, activities });
  const running = worker.run();
  return {
    roster,
    queues,
    script,
    placed,
    bridged,
    ready(agentId) {
      roster.login(agentId);
      roster.register(agentId, `sip:${agentId}@127.0.0.1:5999`, 3_600_000);
      roster.setReady(agentId);
    },
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
