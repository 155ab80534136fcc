// Play-and-collect on calls the hub places, end to end: a callAndAsk workflow (real Temporal dev
// server from the global setup) places a call with media through the telephony activities, over the
// drachtio-srf adapter and the drachtio stand-in, to a SIPp callee on real UDP; the hub's INVITE
// offers a private rtpengine's SDP (offer-first), rtpengine plays a generated prompt to the callee
// and reports the callee's RFC 2833 key presses. Nothing faked.
import { mkdtemp, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTelephonyActivities, type TelephonyActivities, type TelephonyActivityDeps } from '../telephony/activities.js';
import { E2eRig } from '../telephony/e2e/harness.js';
import { startEmbeddedMedia, type EmbeddedMedia } from '../telephony/media/embedded-media.js';
import { buildPrompts, loadPromptCatalog, promptFile, type PromptCatalog } from '../telephony/media/prompts.js';
import { readWavInfo } from '../telephony/media/wav.js';
import { HOLD_SDP } from '../telephony/testing/hub.js';
import { countOf, nextLoopbackAddress, type SippPeer } from '../telephony/testing/sipp.js';
import type { TrunkConfigInput } from '../telephony/trunks/config.js';
import { installWorkerRuntime } from '../worker/worker.js';
import { callAndAsk } from '../workflows/calls/workflows.js';

const workflowQueue = `ask-${randomUUID()}`;
const projectId = `p-${randomUUID()}`;
const PROMPT = 'enter-account-number';
let rig: E2eRig;
let stack: EmbeddedMedia;
let catalog: PromptCatalog;
let promptMs: number;
let workDir: string;
let client: Client;
let connection: Connection;
const workerConnections: NativeConnection[] = [];
const workers: { worker: Worker; running: Promise<void> }[] = [];

beforeAll(async () => {
  installWorkerRuntime('WARN');
  workDir = await mkdtemp(path.join(tmpdir(), 'play-collect-'));
  catalog = await loadPromptCatalog();
  await buildPrompts(catalog, { names: [PROMPT] });
  promptMs = (await readWavInfo(promptFile(catalog, PROMPT))).durationMs;
  stack = await startEmbeddedMedia({ logFile: path.join(workDir, 'rtpengine.log') });
  rig = await E2eRig.start();
  const address = inject('temporalAddress');
  connection = await Connection.connect({ address });
  client = new Client({ connection });
  const workflowConnection = await NativeConnection.connect({ address });
  workerConnections.push(workflowConnection);
  const workflowWorker = await Worker.create({ connection: workflowConnection, taskQueue: workflowQueue, workflowBundle: { codePath: inject('workflowBundlePath') }, activities: {} });
  workers.push({ worker: workflowWorker, running: workflowWorker.run() });
}, 60_000);

afterAll(async () => {
  for (const { worker } of workers) worker.shutdown();
  await Promise.all(workers.map(({ running }) => running));
  for (const workerConnection of workerConnections) await workerConnection.close();
  await connection?.close();
  await rig?.stop();
  await stack?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A telephony worker on its own task queue, with this suite's rtpengine and prompts unless told otherwise. */
async function startTelephonyWorker(peer: SippPeer | undefined, taskQueue: string, media: Pick<TelephonyActivityDeps, 'media' | 'mediaUnavailable'> = {
  media: { control: stack.media, promptPath: (name) => promptFile(catalog, name) },
}): Promise<TelephonyActivities> {
  const trunks: TrunkConfigInput[] = peer === undefined ? [] : [{
    name: 'main', kind: 'carrier', host: peer.hostport, auth: { mode: 'ip' }, priority: 1, currency: 'EUR',
    routes: [{ prefix: '49', pricePerMinute: '0.010', billingIncrement: '1/1' }],
  }];
  const center = rig.callCenter({ queues: [], trunks });
  const telephonyConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
  workerConnections.push(telephonyConnection);
  const activities = createTelephonyActivities({
    callCenter: center, taskQueue, offerSdp: HOLD_SDP, ...media,
    // Call events are not what this suite is about; the journey path has its own e2e test.
    signalJourney: async () => undefined,
    logger: { error: (details, message) => console.error(message, details) },
  });
  const worker = await Worker.create({ connection: telephonyConnection, taskQueue, activities });
  workers.push({ worker, running: worker.run() });
  return activities;
}

function ask(callId: string, queue: string, prompt = PROMPT) {
  return {
    taskQueue: workflowQueue, workflowId: `ask/${callId}`, workflowExecutionTimeout: '40 seconds',
    args: [{ projectId, callId, to: '+4930555100', callerId: '+4940111111', ringTimeoutMs: 5_000, telephonyTaskQueue: queue,
      ask: { prompt, maxDigits: 6, timeoutMs: 3_000, terminator: '#' } }] as const,
  };
}

describe('playAndCollect on calls the hub places (callAndAsk)', () => {
  it('the callee hears the prompt and presses 4, 2, #: the workflow gets "42", then hangs up', async () => {
    const callee = await rig.peer({ scenario: 'callee-dtmf-2833', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 25 });
    const queue = `telephony-${randomUUID()}`;
    await startTelephonyWorker(callee, queue);
    const callId = `call-${randomUUID()}`;
    const started = Date.now();

    const result = await client.workflow.execute(callAndAsk, ask(callId, queue));
    expect(result).toMatchObject({ placed: { callId, outcome: 'answered', trunk: 'main', taskQueue: queue }, answer: { digits: '42', timedOut: false } });
    // Ended by the terminator, during the prompt (barge-in): no waiting for the prompt's end plus the timeout.
    expect(Date.now() - started).toBeLessThan(promptMs + 3_000);

    const run = await callee.finished();
    expect(run.successful).toBe(1);
    expect(countOf(run, 'BYE')).toBe(1);
  });

  it('the callee hangs up while the prompt plays: CallNotLive, the workflow says the call ended', async () => {
    const callee = await rig.peer({ scenario: 'callee-hangs-up', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 25, pauseMs: 1_000 });
    const queue = `telephony-${randomUUID()}`;
    const activities = await startTelephonyWorker(callee, queue);
    const callId = `call-${randomUUID()}`;
    const started = Date.now();

    const result = await client.workflow.execute(callAndAsk, ask(callId, queue));
    expect(result).toEqual({ placed: expect.objectContaining({ outcome: 'answered' }), callEnded: true });
    // Noticed at the hang-up, not at the end of the prompt or the collection timeout.
    expect(Date.now() - started).toBeLessThan(promptMs + 3_000);
    const run = await callee.finished();
    expect(run.successful).toBe(1);
    // The ended call left the worker: asking it again fails for good.
    await expect(activities.playAndCollect({ callId, prompt: PROMPT, maxDigits: 1, timeoutMs: 1_000 })).rejects.toMatchObject({ type: 'CallNotLive', nonRetryable: true });
  });

  it('an unknown prompt fails the workflow with UnknownPrompt, not retried, and the callee is hung up on', async () => {
    const callee = await rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 25 });
    const queue = `telephony-${randomUUID()}`;
    await startTelephonyWorker(callee, queue);
    const callId = `call-${randomUUID()}`;

    const failure = await client.workflow.execute(callAndAsk, ask(callId, queue, 'no-such-prompt')).then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(failure).toMatchObject({ cause: { cause: { type: 'UnknownPrompt', message: expect.stringContaining('no-such-prompt') } } });
    expect((failure as WorkflowFailedError & { cause: { retryState?: string } }).cause.retryState).toBe('NON_RETRYABLE_FAILURE');
    const run = await callee.finished();
    expect(run.successful).toBe(1);
    expect(countOf(run, 'BYE')).toBe(1);
  });

  it('a worker without media refuses a call with media before dialling (NoMedia, saying why)', async () => {
    const callee = await rig.peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 3 });
    const queue = `telephony-${randomUUID()}`;
    await startTelephonyWorker(callee, queue, { mediaUnavailable: 'rtpengine is not installed' });
    const callId = `call-${randomUUID()}`;

    const failure = await client.workflow.execute(callAndAsk, ask(callId, queue)).then(() => undefined, (error: unknown) => error);
    expect(failure).toMatchObject({ cause: { cause: { type: 'NoMedia', message: expect.stringContaining('rtpengine is not installed') } } });
    // Nobody was called: the callee's SIPp runs out its 3 s having seen no INVITE.
    const run = await callee.finished();
    expect(run.lines.length).toBeGreaterThan(0);
    expect(countOf(run, 'INVITE')).toBe(0);
  });
});
