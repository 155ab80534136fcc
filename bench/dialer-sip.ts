// bench:dialer-sip - the running dialer over real SIP: the API, the worker and the telephony
// process as `npm start` runs them (embedded PostgreSQL and Temporal unless DATABASE_URL /
// TEMPORAL_ADDRESS name servers; drachtio-server stand-in; embedded rtpengine for the abandon
// message), a SIPp carrier whose contacts answer at random after a random ring, are busy or ring
// out (telephony/testing/scenarios/carrier-random-outcome.xml: 40% / 25% / 35%, ring U(0.5, 3.5) s),
// and SIPp agent phones that answer at once and talk U(1, 3) s. The same tasks count is dialled
// twice on the same carrier and agents: a progressive campaign (the baseline, one call per ready
// agent) and a predictive one (the pacer; abandoned = answered, no agent within 2 s).
// The dialer's own defaults apply (tick 2 s, ring timeout 25 s); the predictive campaign learns
// from `pacing.minSamples` = 10 calls, since the run is short.
// Final line: {"predictive":{...},"progressive":{...}} with calls placed, answered, abandoned,
// abandon rate, agent occupancy (talk time / agents x run time), dial level max, seconds.
// BENCH_DIALER_SIP_TASKS (default 40), BENCH_DIALER_SIP_AGENTS (default 4).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../embedded/ports.js';
import { findFreeUdpPort } from '../embedded/rtpengine.js';
import { nextLoopbackAddress, startSipp, type SippPeer } from '../telephony/testing/sipp.js';
import { log, startBenchStack, waitForUrl, type BenchStack } from './support/stack.js';

const TASKS = Math.min(2_000, Number(process.env.BENCH_DIALER_SIP_TASKS ?? 40));
const AGENTS = Number(process.env.BENCH_DIALER_SIP_AGENTS ?? 4);
const MODE_TIMEOUT_MS = 15 * 60_000;

interface ModeResult {
  placed: number;
  answered: number;
  connected: number;
  abandoned: number;
  abandon_rate: number;
  busy: number;
  no_answer: number;
  failed: number;
  occupancy: number;
  dial_level_max: number;
  seconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const stack = await startBenchStack('dialersip');
  const peers: SippPeer[] = [];
  const dataDir = await mkdtemp(join(tmpdir(), 'hub-bench-dialer-sip-'));
  try {
    const apiPort = await findFreePort();
    const controlPort = await findFreePort();
    const sipPort = await findFreeUdpPort('127.0.0.1');
    stack.spawnService('worker/main.ts');
    stack.spawnService('api/main.ts', { API_PORT: String(apiPort), API_HOST: '127.0.0.1' });
    stack.spawnService('telephony/main.ts', {
      SIP_ADDRESS: '127.0.0.1', SIP_PORT: String(sipPort), TELEPHONY_CONTROL_PORT: String(controlPort), DATA_DIR: dataDir,
    });
    const api = `http://127.0.0.1:${apiPort}`;
    const control = `http://127.0.0.1:${controlPort}`;
    await waitForUrl(`${api}/healthz`);
    await waitForUrl(`${control}/healthz`, 120_000);
    const call = async (method: string, path: string, json?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
      const response = await fetch(`${api}${path}`, {
        method, headers: { authorization: `Bearer ${stack.apiKey}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };
    const must = async (method: string, path: string, json?: unknown) => {
      const answer = await call(method, path, json);
      if (answer.status >= 300) throw new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      return answer.body;
    };

    const carrier = await startSipp({ scenario: 'carrier-random-outcome', address: nextLoopbackAddress(), calls: 100_000, timeoutSeconds: 3_600 });
    peers.push(carrier);
    const agents: { id: string; phone: SippPeer }[] = [];
    for (let index = 0; index < AGENTS; index += 1) {
      const id = `agent-${index + 1}`;
      const phone = await startSipp({ scenario: 'agent-answers-talks', address: nextLoopbackAddress(), service: id, calls: 100_000, timeoutSeconds: 3_600 });
      peers.push(phone);
      agents.push({ id, phone });
    }
    await must('PUT', '/v1/telephony/trunks/out', { kind: 'carrier', host: carrier.hostport, auth: { mode: 'ip' }, currency: 'EUR', routes: [{ prefix: '1', pricePerMinute: '0.010', billingIncrement: '1/1' }] });
    await must('PUT', '/v1/telephony/queues/sales', { agents: agents.map((agent) => agent.id), ringTimeoutMs: 5_000, maxWaitMs: 60_000, wrapUpMs: 500, preferredAgentWindowMs: 0 });
    for (const deadline = Date.now() + 30_000; ;) {
      const health = (await (await fetch(`${control}/healthz`)).json()) as { trunks: number; queues: number; media: string };
      if (health.trunks === 1 && health.queues === 1) {
        log(`bench: telephony ready, media: ${health.media}`);
        break;
      }
      if (Date.now() > deadline) throw new Error('the trunk and queue did not reach the telephony process');
      await sleep(250);
    }
    for (const agent of agents) {
      const ready = await fetch(`${control}/projects/${stack.projectId}/agents/${agent.id}`, {
        method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'ready', contact: agent.phone.uri }),
      });
      if (!ready.ok) throw new Error(`agent ${agent.id} could not be set ready: ${ready.status}`);
    }

    const progressive = await runCampaign(stack, call, must, 'progressive', 2_000);
    log(`bench: progressive ${JSON.stringify(progressive)}`);
    const predictive = await runCampaign(stack, call, must, 'predictive', 5_000);
    log(`bench: predictive ${JSON.stringify(predictive)}`);
    console.log(JSON.stringify({
      tasks: TASKS, agents: AGENTS, carrier: { answer: 0.4, busy: 0.25, ring_out: 0.35, ring_s: [0.5, 3.5] }, talk_s: [1, 3],
      predictive, progressive,
      occupancy_gain_points: Number(((predictive.occupancy - progressive.occupancy) * 100).toFixed(1)),
    }));
  } finally {
    for (const peer of peers) peer.stop();
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

type Call = (method: string, path: string, json?: unknown) => Promise<{ status: number; body: Record<string, unknown> }>;
type Must = (method: string, path: string, json?: unknown) => Promise<Record<string, unknown>>;

/** Dials TASKS numbers in one campaign of this mode until every task has had its attempt, and measures it. */
async function runCampaign(stack: BenchStack, call: Call, must: Must, mode: 'predictive' | 'progressive', firstNumber: number): Promise<ModeResult> {
  const name = `bench-${mode}`;
  const always = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }];
  await must('PUT', `/v1/campaigns/${name}`, {
    mode, trunks: ['out'], callerId: '+14155550100', queue: 'sales', dialingWindows: always,
    pacing: { minSamples: 10 }, retry: { maxAttempts: 2, rules: [{ outcome: 'any', retryAfterMinutes: 60 }] },
  });
  const tasks = Array.from({ length: TASKS }, (_, index) => ({ externalId: `${mode}-${index}`, phones: [`+1415555${String(firstNumber + index).padStart(4, '0')}`], timeZone: 'UTC' }));
  await must('POST', `/v1/campaigns/${name}/tasks`, { tasks });
  const { id: campaignId } = (await must('POST', `/v1/campaigns/${name}/resume`)) as { id: string };
  const started = Date.now();
  let dialLevelMax = 0;
  for (;;) {
    const figures = (await call('GET', `/v1/campaigns/${name}/figures`)).body as { figures: { dialLevel: number } | null };
    if (figures.figures) dialLevelMax = Math.max(dialLevelMax, figures.figures.dialLevel);
    const [open] = await stack.db.$queryRaw<{ open: number }[]>`
      SELECT count(*)::int AS open FROM dialer_tasks WHERE campaign_id = ${campaignId}::uuid AND (attempts = 0 OR state = 'dialing')`;
    if ((open?.open ?? 1) === 0) break;
    if (Date.now() - started > MODE_TIMEOUT_MS) throw new Error(`${mode}: tasks still open after ${MODE_TIMEOUT_MS / 1000} s`);
    await sleep(250);
  }
  await must('POST', `/v1/campaigns/${name}/stop`);
  const [row] = await stack.db.$queryRaw<{ placed: number; connected: number; abandoned: number; busy: number; no_answer: number; failed: number; first: Date; last: Date }[]>`
    SELECT count(*)::int AS placed,
           count(*) FILTER (WHERE outcome = 'connected')::int AS connected,
           count(*) FILTER (WHERE outcome = 'abandoned')::int AS abandoned,
           count(*) FILTER (WHERE outcome = 'busy')::int AS busy,
           count(*) FILTER (WHERE outcome = 'no-answer')::int AS no_answer,
           count(*) FILTER (WHERE outcome NOT IN ('connected', 'abandoned', 'busy', 'no-answer'))::int AS failed,
           min(launched_at) AS first, max(ended_at) AS last
    FROM dialer_attempts WHERE campaign_id = ${campaignId}::uuid`;
  if (row === undefined) throw new Error(`${mode}: no attempts`);
  // Talk time: from the hand-over to an agent (the connected attempt's end) to the call's end (its CDR).
  const talk = await waitForTalks(stack, campaignId, row.connected);
  const runSeconds = (row.last.getTime() - row.first.getTime()) / 1000;
  const answered = row.connected + row.abandoned;
  return {
    placed: row.placed, answered, connected: row.connected, abandoned: row.abandoned,
    abandon_rate: answered > 0 ? Number((row.abandoned / answered).toFixed(4)) : 0,
    busy: row.busy, no_answer: row.no_answer, failed: row.failed,
    occupancy: Number((talk / (AGENTS * runSeconds)).toFixed(4)),
    dial_level_max: Number(dialLevelMax.toFixed(2)),
    seconds: Number(runSeconds.toFixed(1)),
  };
}

/** Total talk seconds of the connected calls, once every one of them has its CDR. */
async function waitForTalks(stack: BenchStack, campaignId: string, connected: number): Promise<number> {
  for (const deadline = Date.now() + 30_000; ;) {
    const [row] = await stack.db.$queryRaw<{ calls: number; seconds: number }[]>`
      SELECT count(c.call_id)::int AS calls, COALESCE(sum(EXTRACT(EPOCH FROM (c.ended_at - a.ended_at))), 0)::float8 AS seconds
      FROM dialer_attempts a JOIN call_detail_records c ON c.call_id = 'dial-' || a.id::text AND c.answered_at IS NOT NULL
      WHERE a.campaign_id = ${campaignId}::uuid AND a.outcome = 'connected'`;
    if ((row?.calls ?? 0) >= connected) return row?.seconds ?? 0;
    if (Date.now() > deadline) throw new Error(`only ${row?.calls ?? 0} of ${connected} connected calls have a CDR`);
    await sleep(250);
  }
}

await main();
