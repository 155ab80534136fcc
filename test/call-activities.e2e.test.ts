// Telephony activities end to end: a callContact workflow (real Temporal dev server from the global
// setup) places a call through the telephony worker's activities, over the drachtio-srf adapter and
// the drachtio stand-in, to SIPp carriers on real UDP; the call's events and CDRs reach the
// contact's journey, whose state then lists the call. Nothing faked.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTelephonyActivities, type TelephonyActivities } from '../telephony/activities.js';
import { formatMicros } from '../telephony/cdr/billing.js';
import type { TrunkConfigInput } from '../telephony/trunks/config.js';
import { E2eRig } from '../telephony/e2e/harness.js';
import { HOLD_SDP } from '../telephony/testing/hub.js';
import { countOf, nextLoopbackAddress, type SippPeer } from '../telephony/testing/sipp.js';
import { installWorkerRuntime } from '../worker/worker.js';
import { callContact } from '../workflows/calls/workflows.js';
import { deliverCallEventToJourney } from '../workflows/journey/client.js';
import { journeyStateQuery, journeyWorkflowId, type JourneyCallView } from '../workflows/journey/shared.js';

const workflowQueue = `calls-${randomUUID()}`;
const telephonyQueue = `telephony-${randomUUID()}`;
const projectId = `p-${randomUUID()}`;
let rig: E2eRig;
let client: Client;
let connection: Connection;
const workerConnections: NativeConnection[] = [];
const workers: { worker: Worker; running: Promise<void> }[] = [];

beforeAll(async () => {
  installWorkerRuntime('WARN');
  rig = await E2eRig.start();
  const address = inject('temporalAddress');
  connection = await Connection.connect({ address });
  client = new Client({ connection });
  // Journeys and callContact run here; no journey activity runs (call events only change state).
  const workflowConnection = await NativeConnection.connect({ address });
  workerConnections.push(workflowConnection);
  const workflowWorker = await Worker.create({ connection: workflowConnection, taskQueue: workflowQueue, workflowBundle: { codePath: inject('workflowBundlePath') }, activities: {} });
  workers.push({ worker: workflowWorker, running: workflowWorker.run() });
});

afterAll(async () => {
  for (const { worker } of workers) worker.shutdown();
  await Promise.all(workers.map(({ running }) => running));
  for (const workerConnection of workerConnections) await workerConnection.close();
  await connection?.close();
  await rig?.stop();
});

/** The telephony worker of this test: its own task queue, the CallCenter over the real adapter. */
async function startTelephonyWorker(trunks: TrunkConfigInput[], taskQueue: string): Promise<TelephonyActivities> {
  const center = rig.callCenter({ queues: [], trunks });
  const telephonyConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
  workerConnections.push(telephonyConnection);
  const activities = createTelephonyActivities({
    callCenter: center, taskQueue, offerSdp: HOLD_SDP,
    signalJourney: (project, phone, event) => deliverCallEventToJourney(client, { projectId: project, phone, event }, { taskQueue: workflowQueue, idleTimeoutMs: 60_000 }),
    logger: { error: (details, message) => console.error(message, details) },
  });
  const worker = await Worker.create({ connection: telephonyConnection, taskQueue, activities });
  workers.push({ worker, running: worker.run() });
  return activities;
}

const carrier = (name: string, peer: SippPeer, priority: number, price: string): TrunkConfigInput => ({
  name, kind: 'carrier', host: peer.hostport, auth: { mode: 'ip' }, priority, currency: 'EUR',
  routes: [{ prefix: '49', pricePerMinute: price, billingIncrement: '1/1' }],
});

async function journeyCall(phone: string, callId: string, until: (call: JourneyCallView) => boolean): Promise<JourneyCallView> {
  const journey = client.workflow.getHandle(journeyWorkflowId(projectId, phone));
  const deadline = Date.now() + 15_000;
  let last: JourneyCallView | undefined;
  while (Date.now() < deadline) {
    const state = await journey.query(journeyStateQuery).catch(() => undefined);
    last = state?.calls?.find((call) => call.callId === callId);
    if (last !== undefined && until(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for call ${callId} in the journey of ${phone}; last seen ${JSON.stringify(last)}`);
}

describe('call activities reach the contact journey', () => {
  it('a carrier answers, the workflow hangs up: the journey lists the call answered, ended and its CDR with trunk, billable seconds and cost', async () => {
    const peer = await rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 20 });
    const queue = `${telephonyQueue}-a`;
    // 0.06 per minute, billed per second: 0.001 a second.
    const activities = await startTelephonyWorker([carrier('main', peer, 1, '0.060')], queue);
    const phone = '+4930555001';
    const callId = `call-${randomUUID()}`;

    const result = await client.workflow.execute(callContact, {
      taskQueue: workflowQueue, workflowId: `call/${callId}`, workflowExecutionTimeout: '40 seconds',
      args: [{ projectId, callId, to: phone, callerId: '+4940111111', ringTimeoutMs: 5_000, telephonyTaskQueue: queue, then: { hangupAfterMs: 1_200 } }],
    });
    expect(result).toMatchObject({ callId, outcome: 'answered', trunk: 'main', taskQueue: queue, attempts: [{ trunk: 'main', outcome: 'answered', sipStatus: 200 }], then: { hungUp: true } });

    const call = await journeyCall(phone, callId, (view) => view.cdr?.outcome === 'answered');
    expect(call).toMatchObject({ callId, trunk: 'main', cause: 'normal', cdr: { trunk: 'main', currency: 'EUR', outcome: 'answered' } });
    expect(call.answeredAt).toBeDefined();
    expect(call.endedAt).toBeDefined();
    expect(call.events.slice(-3)).toEqual(['answered', 'ended', 'cdr']);
    // About 1.2 s talked after answer: two started seconds, 0.001 EUR each.
    const seconds = call.cdr!.billableSeconds!;
    expect(seconds).toBeGreaterThanOrEqual(2);
    expect(seconds).toBeLessThanOrEqual(3);
    expect(call.cdr!.cost).toBe(formatMicros(seconds * 1_000));

    // The ended call left this worker's registry: a retried hang-up is a no-op, acting on it is refused for good.
    expect(await activities.hangupCall(callId)).toEqual({ hungUp: false });
    await expect(activities.bridgeToAgent(callId, 'sales')).rejects.toMatchObject({ type: 'CallNotLive', nonRetryable: true });

    const run = await peer.finished();
    expect(run.successful).toBe(1);
    expect(countOf(run, 'BYE')).toBe(1);
  });

  it('an answered call meant for a queue that does not run here is hung up at once, not left on a silent line', async () => {
    const peer = await rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 20 });
    const queue = `${telephonyQueue}-q`;
    await startTelephonyWorker([carrier('main', peer, 1, '0.060')], queue);
    const callId = `call-${randomUUID()}`;
    const run = client.workflow.execute(callContact, {
      taskQueue: workflowQueue, workflowId: `call/${callId}`, workflowExecutionTimeout: '40 seconds',
      args: [{ projectId, callId, to: '+4930555003', callerId: '+4940111111', ringTimeoutMs: 5_000, telephonyTaskQueue: queue, then: { queue: 'nowhere' } }],
    });
    await expect(run).rejects.toMatchObject({ cause: { cause: { type: 'NoSuchQueue', message: expect.stringContaining('queue "nowhere" is not running') } } });
    const carried = await peer.finished();
    expect(carried.successful).toBe(1);
    expect(countOf(carried, 'BYE')).toBe(1);
  });

  it('primary trunk answers 503: the backup carries the call and the journey shows the backup in the CDR', async () => {
    const primary = await rig.peer({ scenario: 'carrier-unavailable', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 20 });
    const backup = await rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 20 });
    const queue = `${telephonyQueue}-b`;
    await startTelephonyWorker([carrier('primary', primary, 1, '0.010'), carrier('backup', backup, 2, '0.120')], queue);
    const phone = '+4930555002';
    const callId = `call-${randomUUID()}`;

    const result = await client.workflow.execute(callContact, {
      taskQueue: workflowQueue, workflowId: `call/${callId}`, workflowExecutionTimeout: '40 seconds',
      args: [{ projectId, callId, to: phone, callerId: '+4940111111', ringTimeoutMs: 5_000, telephonyTaskQueue: queue, then: { hangupAfterMs: 500 } }],
    });
    expect(result).toMatchObject({ outcome: 'answered', trunk: 'backup', attempts: [
      { trunk: 'primary', outcome: 'failed', sipStatus: 503 },
      { trunk: 'backup', outcome: 'answered', sipStatus: 200 },
    ] });

    const call = await journeyCall(phone, callId, (view) => view.cdr?.outcome === 'answered');
    // The backup rang; the primary's free CDR is sent once the placement settles, before the answer;
    // the billed CDR, from the backup, is the one the journey keeps.
    expect(call.events).toEqual(['ringing', 'cdr', 'answered', 'ended', 'cdr']);
    expect(call).toMatchObject({ trunk: 'backup', cause: 'normal', cdr: { trunk: 'backup', outcome: 'answered', currency: 'EUR' } });
    // 0.12 per minute billed per second = 0.002 a second, at the backup's price (the primary's would
    // be 0.000167). Half a second of sleep plus the workflow's own scheduling: one or two started seconds.
    const seconds = call.cdr!.billableSeconds!;
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(2);
    expect(call.cdr!.cost).toBe(formatMicros(seconds * 2_000));
    const [primaryRun] = await Promise.all([primary.finished(), backup.finished()]);
    expect(countOf(primaryRun, '503')).toBe(1);
  });
});
