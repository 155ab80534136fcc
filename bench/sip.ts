// bench:sip - how many call setups per second the hub's SIP path carries, and how much post-dial
// delay it adds. SIPp callers place calls into the hub (drachtio-srf adapter + drachtio-server
// stand-in, or the drachtio-server in DRACHTIO_HOST); for each call the hub dials a SIPp agent,
// passes the agent's ringing back to the caller (180), answers the caller with the agent's SDP when
// the agent answers and bridges the two; the caller hangs up at once and the hub BYEs the agent.
// Baseline, same run: the same SIPp caller calling the same kind of SIPp agent directly.
//   throughput phase: closed loop, BENCH_SIP_CONCURRENCY calls in flight, BENCH_SIP_CALLS calls
//   latency phase:    open loop at BENCH_SIP_RATE calls/s, post-dial delay = INVITE -> 180 at the caller
// Final line: {"calls_per_s","pdd_added_p95_ms","direct_calls_per_s",...}
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { startCallControl } from '../telephony/sip/start.js';
import { nextLoopbackAddress, startSipp, type SippResult } from '../telephony/testing/sipp.js';
import { log } from './support/stack.js';

const CALLS = Number(process.env.BENCH_SIP_CALLS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_SIP_CONCURRENCY ?? 60);
const LATENCY_CALLS = Number(process.env.BENCH_SIP_LATENCY_CALLS ?? 1000);
const LATENCY_RATE = Number(process.env.BENCH_SIP_RATE ?? 50);

interface PhaseResult {
  callsPerSecond: number;
  successful: number;
  failed: number;
  pddP50: number;
  pddP95: number;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Per-call response times (rtd 1 = INVITE -> 180) SIPp wrote with -trace_rtt. */
async function readPdd(directory: string): Promise<number[]> {
  const file = (await readdir(directory)).find((name) => name.endsWith('_rtt.csv'));
  if (!file) return [];
  const lines = (await readFile(join(directory, file), 'utf8')).trim().split('\n').slice(1);
  return lines.map((line) => line.split(';')).filter((fields) => fields[2] === '1').map((fields) => Number(fields[1]));
}

async function runCallers(target: string, options: { calls: number; concurrency?: number; rate?: number }): Promise<{ sipp: SippResult; seconds: number; pdd: number[] }> {
  const directory = await mkdtemp(join(tmpdir(), 'bench-sip-'));
  try {
    const started = performance.now();
    const caller = await startSipp({
      scenario: 'caller',
      address: nextLoopbackAddress(),
      target,
      service: '7000',
      calls: options.calls,
      rate: options.rate ?? 10_000,
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      pauseMs: 0,
      timeoutSeconds: 300,
      rttDirectory: directory,
    });
    const sipp = await caller.finished();
    const seconds = (performance.now() - started) / 1000;
    return { sipp, seconds, pdd: await readPdd(directory) };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

async function runPhases(label: string, target: () => Promise<string>): Promise<PhaseResult> {
  const destination = await target();
  const throughput = await runCallers(destination, { calls: CALLS, concurrency: CONCURRENCY });
  log(`bench: ${label} throughput: ${throughput.sipp.successful} ok, ${throughput.sipp.failed} failed in ${throughput.seconds.toFixed(1)} s`);
  const latency = await runCallers(destination, { calls: LATENCY_CALLS, rate: LATENCY_RATE });
  log(`bench: ${label} latency: ${latency.pdd.length} samples, ${latency.sipp.failed} failed`);
  return {
    callsPerSecond: throughput.sipp.successful / throughput.seconds,
    successful: throughput.sipp.successful + latency.sipp.successful,
    failed: throughput.sipp.failed + latency.sipp.failed,
    pddP50: percentile(latency.pdd, 50),
    pddP95: percentile(latency.pdd, 95),
  };
}

/** A SIPp agent that auto-answers every call of one phase (it exits after `calls`). */
async function startAgent(calls: number): Promise<{ uri: string; hostport: string; stop: () => void }> {
  const agent = await startSipp({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: 'agent', calls, timeoutSeconds: 600 });
  return { uri: agent.uri, hostport: agent.hostport, stop: () => agent.stop() };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('bench-sip', 'warn');
  const running = await startCallControl({ ...config, SIP_PORT: config.DRACHTIO_HOST ? config.SIP_PORT : 0, SIP_MAX_CONCURRENT_CALLS: 10_000 }, logger);
  const { callControl } = running;
  const hubTarget = `${callControl.sipAddress.address}:${callControl.sipAddress.port}`;
  log(`bench: hub SIP at ${hubTarget} (${running.standin ? 'drachtio-server stand-in' : `drachtio-server ${config.DRACHTIO_HOST}`})`);

  let agentUri = '';
  let agentFailures = 0;
  let agentAnswered = 0;
  callControl.onInboundCall(async (call) => {
    const agent = await callControl.originate({
      uri: agentUri,
      callerId: call.from || 'caller',
      sdp: call.remoteSdp ?? '',
      ringTimeoutMs: 10_000,
      partOf: call,
      onProgress: () => void call.ring(),
    });
    if (agent.outcome !== 'answered') {
      agentFailures++;
      await call.reject(agent.sipStatus ?? 480, `agent ${agent.outcome}`);
      return;
    }
    agentAnswered++;
    await call.answer(agent.leg.remoteSdp ?? '');
    // Each side already has the other's SDP, so the bridge links the legs without a re-INVITE.
    await callControl.bridge(call, agent.leg);
  });

  const agents: { stop: () => void }[] = [];
  try {
    const viaHub = await runPhases('via hub', async () => {
      const agent = await startAgent(CALLS + LATENCY_CALLS);
      agents.push(agent);
      agentUri = agent.uri;
      return hubTarget;
    });
    const direct = await runPhases('direct', async () => {
      const agent = await startAgent(CALLS + LATENCY_CALLS);
      agents.push(agent);
      return agent.hostport;
    });
    const result = {
      calls_per_s: Math.round(viaHub.callsPerSecond * 10) / 10,
      pdd_added_p95_ms: viaHub.pddP95 - direct.pddP95,
      direct_calls_per_s: Math.round(direct.callsPerSecond * 10) / 10,
      pdd_p50_ms: viaHub.pddP50,
      pdd_p95_ms: viaHub.pddP95,
      direct_pdd_p95_ms: direct.pddP95,
      failed_calls: viaHub.failed,
      agent_answered: agentAnswered,
      agent_failures: agentFailures,
      direct_failed_calls: direct.failed,
      calls: CALLS,
      concurrency: CONCURRENCY,
      latency_rate: LATENCY_RATE,
      server: running.standin ? 'stand-in in process' : `DRACHTIO_HOST ${config.DRACHTIO_HOST}:${config.DRACHTIO_PORT}`,
    };
    console.log(JSON.stringify(result));
  } finally {
    for (const agent of agents) agent.stop();
    await running.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
