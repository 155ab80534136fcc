// Telephony for workflow suites, nothing faked: the telephony process as `npm start` runs it
// (test/support/telephony-process.ts), one SIPp carrier per way a contact can answer, each behind a
// trunk of its own whose dial prefix routes numbers to it, and one SIPp phone per agent. A suite
// picks a contact's answer by the number it dials (`contact('busy', 1)`), makes agents ready with a
// phone that answers or rejects (or none: ready but not registered), and reads what each carrier
// received from SIPp's message trace.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { nextLoopbackAddress, startSipp, type PeerScenario, type ReceivedRequest, type SippPeer } from '../../telephony/testing/sipp.js';
import type { TestHub } from './hub.js';
import { startTelephonyProcess, type TelephonyProcess } from './telephony-process.js';

/** How a contact answers, by the carrier its number is routed to. */
export type ContactAnswer = 'answers' | 'answers-late' | 'busy' | 'rings-out' | 'fails';

const carriers: Record<ContactAnswer, { scenario: PeerScenario; prefix: string }> = {
  // Answers, takes the re-INVITE that bridges it to an agent, stays until the BYE.
  answers: { scenario: 'carrier-answer-accepts-reinvite', prefix: '1415' },
  // The same after 3 s of ringing: time for a suite to do something while the call rings.
  'answers-late': { scenario: 'carrier-answer-late-accepts-reinvite', prefix: '1419' },
  // 486 Busy Here.
  busy: { scenario: 'carrier-busy', prefix: '1416' },
  // 180 Ringing until the hub's ring timeout CANCELs it.
  'rings-out': { scenario: 'carrier-no-answer', prefix: '1417' },
  // 503 Service Unavailable (a trunk failure; no other trunk routes the prefix, so no failover).
  fails: { scenario: 'carrier-unavailable', prefix: '1418' },
};

/** How an agent's phone takes an offered call. */
export type AgentPhone = 'answers' | 'rejects';

const agentScenarios: Record<AgentPhone, PeerScenario> = { answers: 'carrier-answer', rejects: 'carrier-busy' };

/** A call a carrier received: the E.164 number dialled, the caller ID shown, when. */
export interface ReceivedCall extends ReceivedRequest {
  to: string;
  answer: ContactAnswer;
}

export interface SippTelephony {
  process: TelephonyProcess;
  /** The trunk names (one per carrier), for a campaign's `trunks`. */
  trunks: string[];
  /** The n-th number whose carrier answers the way asked, e.g. `contact('busy', 2)` = +14165550002. */
  contact(answer: ContactAnswer, n: number): string;
  /** Every call the carriers received so far (first INVITE of each dialog), oldest first. */
  calls(): Promise<ReceivedCall[]>;
  /** The requests of one method the carrier behind `answer` received, oldest first. */
  requests(answer: ContactAnswer, method: string): Promise<ReceivedRequest[]>;
  /** From now on `number` reaches the carrier that answers the way given (a longer prefix on its trunk, through the API). */
  route(number: string, answer: ContactAnswer): Promise<void>;
  /** Puts a queue (API) and waits for the telephony process to load it. */
  queue(name: string, agents: string[], settings?: { ringTimeoutMs?: number; maxWaitMs?: number }): Promise<void>;
  /** An agent logged in and ready with a SIPp phone that answers or rejects, or with no phone (not registered). */
  ready(agentId: string, phone: AgentPhone | 'none'): Promise<void>;
  stop(): Promise<void>;
}

export async function startSippTelephony(hub: TestHub, options: { timeoutSeconds?: number } = {}): Promise<SippTelephony> {
  const timeoutSeconds = options.timeoutSeconds ?? 600;
  const dataDir = await mkdtemp(join(tmpdir(), 'hub-sipp-telephony-'));
  const peers: SippPeer[] = [];
  const carrierPeers = new Map<ContactAnswer, SippPeer>();
  const agentPhones = new Map<string, SippPeer>();
  const extraPrefixes = new Map<ContactAnswer, string[]>();
  const putTrunk = async (answer: ContactAnswer, peer: SippPeer) => {
    const prefixes = [carriers[answer].prefix, ...(extraPrefixes.get(answer) ?? [])];
    const trunk = { kind: 'carrier', host: peer.hostport, auth: { mode: 'ip' }, routes: prefixes.map((prefix) => ({ prefix, pricePerMinute: '0.01' })), health: { failuresBeforeDown: 100 } };
    const put = await hub.call('PUT', `/v1/telephony/trunks/${answer}`, trunk);
    expect([200, 201]).toContain(put.status);
  };
  let queues = 0;
  let telephony: TelephonyProcess | undefined;
  const stop = async () => {
    await telephony?.process.kill('SIGKILL');
    for (const peer of peers) peer.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    telephony = await startTelephonyProcess(hub, { dataDir, telephonyTaskQueue: hub.telephonyTaskQueue });
    await telephony.healthy();
    for (const [answer, carrier] of Object.entries(carriers) as [ContactAnswer, (typeof carriers)[ContactAnswer]][]) {
      const peer = await startSipp({ scenario: carrier.scenario, address: nextLoopbackAddress(), calls: 1_000, timeoutSeconds, traceDirectory: dataDir });
      peers.push(peer);
      carrierPeers.set(answer, peer);
      await putTrunk(answer, peer);
    }
    await telephony.healthy<{ trunks: number }>((health) => health.trunks === carrierPeers.size, 15_000, 'the trunks to reach the telephony process');
  } catch (error) {
    await stop();
    throw error;
  }
  const running = telephony;
  return {
    process: running,
    trunks: [...carrierPeers.keys()],
    contact: (answer, n) => `+${carriers[answer].prefix}555${String(n).padStart(4, '0')}`,
    async calls() {
      const received: ReceivedCall[] = [];
      for (const [answer, peer] of carrierPeers) {
        for (const invite of await peer.receivedRequests('INVITE')) {
          // The first INVITE of a dialog is the call; a later one (same Call-ID) bridges it to an agent.
          if (received.some((call) => call.callId === invite.callId)) continue;
          received.push({ ...invite, to: `+${invite.user}`, answer });
        }
      }
      return received.sort((a, b) => a.at.getTime() - b.at.getTime());
    },
    async requests(answer, method) {
      return (carrierPeers.get(answer) as SippPeer).receivedRequests(method);
    },
    async route(number, answer) {
      extraPrefixes.set(answer, [...(extraPrefixes.get(answer) ?? []), number.replace(/\D/g, '')]);
      await putTrunk(answer, carrierPeers.get(answer) as SippPeer);
    },
    async queue(name, agents, settings = {}) {
      const put = await hub.call('PUT', `/v1/telephony/queues/${name}`, { agents, ringTimeoutMs: settings.ringTimeoutMs ?? 5_000, maxWaitMs: settings.maxWaitMs ?? 10_000, wrapUpMs: 0 });
      expect([200, 201]).toContain(put.status);
      if (put.status === 201) queues += 1;
      const wanted = queues;
      await running.healthy<{ queues: number }>((health) => health.queues === wanted, 15_000, `queue ${name} to reach the telephony process`);
    },
    async ready(agentId, phone) {
      let contact: string | undefined;
      if (phone !== 'none') {
        const peer = await startSipp({ scenario: agentScenarios[phone], address: nextLoopbackAddress(), service: agentId, calls: 1_000, timeoutSeconds, traceDirectory: dataDir });
        peers.push(peer);
        agentPhones.set(agentId, peer);
        contact = peer.uri;
      }
      const presence = await running.control(`/projects/${hub.projectId}/agents/${agentId}`, { method: 'PUT', json: { status: 'ready', ...(contact === undefined ? {} : { contact }) } });
      expect(presence.status).toBe(200);
    },
    stop,
  };
}
