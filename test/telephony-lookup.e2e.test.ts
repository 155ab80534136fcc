// The telephony process asking the project's CRM about its callers, as `npm start` runs it (a child
// process on the suite's PostgreSQL and Temporal, the drachtio-server stand-in and rtpengine inside
// it, SIPp phones over UDP), with the hub's demo SQL CRM (PostgreSQL) as the project's CRM:
// - a caller whose CRM record names bob as responsible agent rings bob first, although alice has
//   been ready (idle) longer and longest-idle would pick her;
// - an IVR's `crm` node routes callers by the status their CRM record keeps (vip -> the vip queue);
// - a second CRM (a Bitrix24 sandbox, a real HTTP server) that answers only after 4 s holds a caller
//   no longer than INBOUND_LOOKUP_DEADLINE_MS: queued without a preference, to the longest-idle agent.
// Nothing faked.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startBitrixSandbox, type BitrixSandbox } from '../connectors/bitrix24/sandbox/index.js';
import { countOf, nextLoopbackAddress, startSipp, type SippPeer } from '../telephony/testing/sipp.js';
import { journeyStateQuery, journeyWorkflowId, type JourneyCallView } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub } from './support/hub.js';
import { startTelephonyProcess, type TelephonyProcess } from './support/telephony-process.js';

const queueNumber = '4930200100';
const ivrNumber = '4930200199';

let hub: TestHub;
let telephony: TelephonyProcess | undefined;
let connection: Connection;
let client: Client;
let dataDir: string;
let sipPort: number;
const peers: SippPeer[] = [];
let sandbox: BitrixSandbox | undefined;
/** INBOUND_LOOKUP_DEADLINE_MS of the process: generous for a loaded test machine, far below the slow CRM's 4 s. */
const lookupDeadlineMs = 1_500;

beforeAll(async () => {
  hub = await startTestHub({ idleTimeoutMs: 120_000, defaultRegion: 'DE' });
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection });
  dataDir = await mkdtemp(join(tmpdir(), 'hub-telephony-lookup-'));

  await seedCrm('+493012345670', 'Ada Lovelace', { responsibleAgent: 'bob' });
  await seedCrm('+493012345671', 'Grace Hopper', { status: 'vip' });
  expect((await api('PUT', '/v1/telephony/queues/sales', { agents: ['alice', 'bob'], ringTimeoutMs: 5_000, maxWaitMs: 20_000, wrapUpMs: 0, preferredAgentWindowMs: 10_000 })).status).toBe(201);
  expect((await api('PUT', '/v1/telephony/queues/vip', { agents: ['vera'], ringTimeoutMs: 5_000, maxWaitMs: 20_000, wrapUpMs: 0 })).status).toBe(201);
  const menu = {
    start: 'who', fallbackQueue: 'sales',
    nodes: {
      who: { kind: 'crm', branches: { vip: 'vip' }, otherwise: 'sales', notFound: 'sales', onError: 'sales', timeoutMs: 3_000 },
      vip: { kind: 'queue', queue: 'vip' },
      sales: { kind: 'queue', queue: 'sales' },
    },
  };
  expect((await api('PUT', '/v1/telephony/ivr-menus/main', menu)).status).toBe(201);
  expect((await api('PUT', `/v1/telephony/numbers/${queueNumber}`, { queue: 'sales' })).status).toBe(201);
  expect((await api('PUT', `/v1/telephony/numbers/${ivrNumber}`, { ivr: 'main' })).status).toBe(201);

  telephony = await startTelephonyProcess(hub, {
    dataDir,
    telephonyTaskQueue: `telephony-lookup-${hub.projectId}`,
    env: { INBOUND_LOOKUP_DEADLINE_MS: String(lookupDeadlineMs) },
  });
  sipPort = telephony.sipPort;
  await telephony.healthy<{ numbers: string[] }>((health) => health.numbers.includes(ivrNumber), 40_000, 'the telephony process to answer /healthz with both numbers');
}, 60_000);

afterAll(async () => {
  await telephony?.process.kill('SIGTERM');
  for (const peer of peers) peer.stop();
  await sandbox?.close();
  await connection?.close();
  await hub?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function seedCrm(phone: string, name: string, extra: Record<string, unknown>): Promise<void> {
  const crm = new pg.Client({ connectionString: hub.crmUrl });
  await crm.connect();
  try {
    await crm.query('INSERT INTO clients (phone, full_name, email, extra) VALUES ($1, $2, $3, $4)', [phone, name, null, extra]);
  } finally {
    await crm.end();
  }
}

async function control(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  if (!telephony) throw new Error('the telephony process has not been started');
  return telephony.control(path, init);
}

async function api(method: string, path: string, json: unknown): Promise<Response> {
  return hub.request(path, { method, json });
}

/** An agent's phone (SIPp answering one call) made ready through the control endpoint. */
async function readyAgent(agentId: string): Promise<SippPeer> {
  const phone = await startSipp({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: agentId, calls: 1, timeoutSeconds: 30 });
  peers.push(phone);
  const ready = await control(`/projects/${hub.projectId}/agents/${agentId}`, { method: 'PUT', json: { status: 'ready', contact: phone.uri } });
  expect(ready.status).toBe(200);
  return phone;
}

async function inboundCall(phone: string, dialled: string): Promise<JourneyCallView> {
  const journey = client.workflow.getHandle(journeyWorkflowId(hub.projectId, phone));
  return eventually(async () => {
    const state = await journey.query(journeyStateQuery).catch(() => undefined);
    const found = state?.calls?.find((candidate: JourneyCallView) => candidate.dialled === dialled);
    return found?.cdr !== undefined && found.agentId !== undefined ? found : undefined;
  }, 20_000, `the inbound call in the journey of ${phone}`);
}

describe('the telephony process asks the CRM', () => {
  it('rings the responsible agent the CRM names first, although another agent has been idle longer', async () => {
    const alice = await readyAgent('alice');
    // Alice has been ready longer: longest-idle alone would offer her the call.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const bob = await readyAgent('bob');

    const caller = await startSipp({
      scenario: 'caller-number-accepts-reinvite', address: nextLoopbackAddress(), target: `127.0.0.1:${sipPort}`, service: queueNumber,
      calls: 1, timeoutSeconds: 30, pauseMs: 1_000, keys: { caller_number: '03012345670' },
    });
    peers.push(caller);
    const [callerRun, bobRun] = await Promise.all([caller.finished(), bob.finished()]);
    expect(callerRun.successful, callerRun.output).toBe(1);
    expect(bobRun.successful, bobRun.output).toBe(1);
    expect(countOf(bobRun, 'INVITE')).toBe(1);

    const call = await inboundCall('+493012345670', queueNumber);
    expect(call).toMatchObject({ direction: 'inbound', queue: 'sales', preferredAgentId: 'bob', agentId: 'bob', cause: 'normal' });
    // Alice's phone never rang: she is still ready, not ringing or not-ready after a missed offer.
    const { agents } = (await (await control(`/projects/${hub.projectId}/agents`)).json()) as { agents: { id: string; status: string }[] };
    expect(agents.find((agent) => agent.id === 'alice')).toMatchObject({ status: 'ready' });
    alice.stop();
  }, 60_000);

  it('routes an IVR caller by the status the CRM keeps for them', async () => {
    const vera = await readyAgent('vera');
    const caller = await startSipp({
      scenario: 'caller-number-accepts-reinvite', address: nextLoopbackAddress(), target: `127.0.0.1:${sipPort}`, service: ivrNumber,
      calls: 1, timeoutSeconds: 30, pauseMs: 1_000, keys: { caller_number: '03012345671' },
    });
    peers.push(caller);
    const [callerRun, veraRun] = await Promise.all([caller.finished(), vera.finished()]);
    expect(callerRun.successful, callerRun.output).toBe(1);
    expect(veraRun.successful, veraRun.output).toBe(1);

    const call = await inboundCall('+493012345671', ivrNumber);
    expect(call).toMatchObject({ direction: 'inbound', ivr: 'queue vip', queue: 'vip', agentId: 'vera', cause: 'normal' });
    // Her record names no responsible agent: queued without a preference.
    expect(call.preferredAgentId).toBeUndefined();
  }, 60_000);

  it('a CRM slower than the deadline costs the caller the deadline, no more: queued without a preference to the longest-idle agent', async () => {
    sandbox = await startBitrixSandbox();
    const created = await hub.request('/v1/connectors', {
      method: 'POST',
      json: { kind: 'bitrix24', name: 'bitrix', config: { webhookUrl: sandbox.webhookBase, phoneRegion: 'DE', responsibleAgents: { 12: 'bob' } } },
    });
    expect(created.status, await created.clone().text()).toBe(201);
    // Bitrix names its user 12, bob, but answers after 4 s: waiting for it would hand the caller to bob.
    sandbox.seed('contact', { NAME: 'Mary', LAST_NAME: 'Jackson', PHONE: [{ VALUE: '030 12345672', VALUE_TYPE: 'WORK' }], ASSIGNED_BY_ID: '12' });
    sandbox.setLatency(4_000);

    // Alice has been idle longest (bob took the first call); both get fresh phones.
    const alice = await readyAgent('alice');
    const bob = await readyAgent('bob');
    const caller = await startSipp({
      scenario: 'caller-number-accepts-reinvite', address: nextLoopbackAddress(), target: `127.0.0.1:${sipPort}`, service: queueNumber,
      calls: 1, timeoutSeconds: 30, pauseMs: 1_000, keys: { caller_number: '03012345672' },
    });
    peers.push(caller);
    const [callerRun, aliceRun] = await Promise.all([caller.finished(), alice.finished()]);
    expect(callerRun.successful, callerRun.output).toBe(1);
    expect(aliceRun.successful, aliceRun.output).toBe(1);
    bob.stop();

    const call = await inboundCall('+493012345672', queueNumber);
    expect(call).toMatchObject({ queue: 'sales', agentId: 'alice', cause: 'normal' });
    expect(call.preferredAgentId).toBeUndefined();
    // Answered at once, queued once the lookup gave up at the deadline, bridged to alice at once.
    const heldMs = Date.parse(call.connectedAt!) - Date.parse(call.answeredAt!);
    console.log(`slow CRM (4000 ms), deadline ${lookupDeadlineMs} ms: answered -> connected in ${heldMs} ms`);
    expect(heldMs).toBeGreaterThanOrEqual(lookupDeadlineMs - 100);
    expect(heldMs).toBeLessThan(lookupDeadlineMs + 1_500);
  }, 60_000);
});
