// The telephony process as `npm start` runs it (`node --import tsx telephony/main.ts`, a child
// process on the suite's PostgreSQL and Temporal, the drachtio-server stand-in inside it): a queue
// and an inbound number configured through the API reach it (the number after it started, by
// NOTIFY), an agent's SIPp phone registers (digest, account stored through the API) and the agent
// is made ready, a SIPp caller dials the number, is queued and
// bridged to the agent; the contact's journey then lists the inbound call with its queue, agent,
// end and CDR, and the CDR row is in PostgreSQL. Then, on the same process (the tests run in order:
// starting it once keeps the file short), an IVR number with the prompt played by the process's
// embedded rtpengine, and a call placed by the telephony activities. Nothing faked.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countOf, nextLoopbackAddress, startSipp, type SippPeer } from '../telephony/testing/sipp.js';
import { journeyStateQuery, journeyWorkflowId, type JourneyCallView } from '../workflows/journey/shared.js';
import { eventually, type TestHub } from './support/hub.js';
import { startTelephonySuite, type TelephonyProcess, type TelephonySuite } from './support/telephony-process.js';

const dialled = '4930123456';
// A Berlin number as a German carrier sends it: national format, read in the project's region (DE).
const callerNational = '03012345678';
const callerE164 = '+493012345678';

let hub: TestHub;
let telephony: TelephonyProcess | undefined;
let suite: TelephonySuite;
let client: Client;
let sipPort: number;
let peers: SippPeer[] = [];
const sharedQueue = `telephony-shared-${randomUUID()}`;

beforeAll(async () => {
  suite = await startTelephonySuite('telephony', { idleTimeoutMs: 120_000, defaultRegion: 'DE' });
  ({ hub, client, peers } = suite);
});

afterAll(async () => {
  await suite?.close();
});

async function control(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  if (!telephony) throw new Error('the telephony process has not been started');
  return telephony.control(path, init);
}

async function api(method: string, path: string, json: unknown): Promise<Response> {
  return hub.request(path, { method, json });
}

describe('the telephony process', () => {
  it('routes an inbound call on a configured number to a ready agent; the journey shows the call and the CDR is stored', async () => {
    expect((await api('PUT', '/v1/telephony/queues/sales', { agents: ['ann'], ringTimeoutMs: 5_000, maxWaitMs: 20_000, wrapUpMs: 0 })).status).toBe(201);

    telephony = await suite.startTelephony({ telephonyTaskQueue: sharedQueue });
    sipPort = telephony.sipPort;
    const health = await telephony.healthy<{ sip: { port: number }; numbers: string[]; projects: number }>();
    expect(health.sip.port).toBe(sipPort);
    expect(health.projects).toBe(1);
    expect(health.numbers).toEqual([]);

    // Configured while the process runs: the change reaches it by NOTIFY, no restart.
    expect((await api('PUT', `/v1/telephony/numbers/${dialled}`, { queue: 'sales' })).status).toBe(201);
    await eventually(async () => {
      const body = (await (await control('/healthz')).json()) as { numbers: string[] };
      return body.numbers.includes(dialled) ? true : undefined;
    }, 10_000, 'the new number to be routed');

    // Ann's phone registers with the SIP account stored through the API (digest), then she says ready.
    expect((await api('PUT', '/v1/telephony/agents/ann', { password: 'ann-desk-phone-1' })).status).toBe(201);
    const agent = await startSipp({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: 'ann', calls: 1, timeoutSeconds: 30 });
    peers.push(agent);
    const registering = await startSipp({
      scenario: 'agent-register', address: nextLoopbackAddress(), target: `127.0.0.1:${sipPort}`, calls: 1, timeoutSeconds: 10,
      keys: { phone_user: 'ann', phone_contact: agent.hostport, phone_expires: '600' }, authUsername: 'ann', authPassword: 'ann-desk-phone-1',
    });
    peers.push(registering);
    const registered = await registering.finished();
    expect(registered.successful, registered.output).toBe(1);
    const ready = await control(`/projects/${hub.projectId}/agents/ann`, { method: 'PUT', json: { status: 'ready' } });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ id: 'ann', status: 'ready', registered: true, registration: { contactUri: expect.stringContaining(agent.hostport) } });

    const caller = await startSipp({
      scenario: 'caller-number-accepts-reinvite', address: nextLoopbackAddress(), target: `127.0.0.1:${sipPort}`, service: dialled,
      calls: 1, timeoutSeconds: 30, pauseMs: 1_500, keys: { caller_number: callerNational },
    });
    peers.push(caller);
    const [callerRun, agentRun] = await Promise.all([caller.finished(), agent.finished()]);
    expect(callerRun.successful, callerRun.output).toBe(1);
    expect(agentRun.successful, agentRun.output).toBe(1);
    expect(countOf(agentRun, 'INVITE')).toBe(1);
    expect(countOf(agentRun, 'BYE')).toBe(1);

    // The journey of the caller (normalized in the project's region) lists the call, step by step.
    const journey = client.workflow.getHandle(journeyWorkflowId(hub.projectId, callerE164));
    const call = await eventually(async () => {
      const state = await journey.query(journeyStateQuery).catch(() => undefined);
      const found = state?.calls?.find((candidate: JourneyCallView) => candidate.direction === 'inbound');
      return found?.cdr !== undefined ? found : undefined;
    }, 20_000, `the inbound call in the journey of ${callerE164}`);
    expect(call).toMatchObject({ direction: 'inbound', dialled, queue: 'sales', agentId: 'ann', cause: 'normal', cdr: { outcome: 'answered', billableSeconds: 0 } });
    // Each step once. Arrival order may differ from the order of the steps: this process's dispatcher
    // and the API's share the outbox, and each event carries its own time.
    expect([...call.events].sort()).toEqual(['answered', 'cdr', 'connected', 'ended', 'queued', 'ringing']);
    expect(Date.parse(call.answeredAt!)).toBeGreaterThanOrEqual(Date.parse(call.ringingAt!));
    expect(Date.parse(call.connectedAt!)).toBeGreaterThanOrEqual(Date.parse(call.answeredAt!));
    expect(Date.parse(call.endedAt!)).toBeGreaterThanOrEqual(Date.parse(call.connectedAt!));

    // The CDR row, and no call event left undelivered in the outbox.
    const [row] = await hub.db.callDetailRecord.findMany({ where: { projectId: hub.projectId, callId: call.callId } });
    expect(row).toMatchObject({ direction: 'inbound', fromNumber: callerE164, toNumber: dialled, outcome: 'answered:normal', attempt: 1, currency: 'XXX' });
    expect(row!.answeredAt).not.toBeNull();
    expect(row!.durationMs).toBeGreaterThanOrEqual(1_000);
    expect(await hub.db.outboxEntry.count({ where: { projectId: hub.projectId, kind: 'journey.call-event' } })).toBe(0);

  });

  it('walks a caller through an IVR number (prompt from the embedded rtpengine, a key by SIP INFO) to the chosen queue\'s agent; the journey shows the IVR\'s decision', async () => {
    expect(telephony, 'the process from the first test').toBeDefined();
    expect((await api('PUT', '/v1/telephony/queues/support', { agents: ['sue'], ringTimeoutMs: 5_000, maxWaitMs: 20_000, wrapUpMs: 0 })).status).toBe(201);
    const menu = {
      start: 'welcome', fallbackQueue: 'sales',
      nodes: {
        welcome: { kind: 'menu', prompt: 'main-menu', options: { '1': 'sales', '2': 'support' }, timeoutMs: 5_000 },
        sales: { kind: 'queue', queue: 'sales' },
        support: { kind: 'queue', queue: 'support' },
      },
    };
    expect((await api('PUT', '/v1/telephony/ivr-menus/main', menu)).status).toBe(201);
    expect((await api('PUT', '/v1/telephony/numbers/4930123499', { ivr: 'main' })).status).toBe(201);
    const health = await eventually(async () => {
      const body = (await (await control('/healthz')).json()) as { numbers: string[]; media: string };
      return body.numbers.includes('4930123499') ? body : undefined;
    }, 10_000, 'the IVR number to be routed');
    expect(health.media).toMatch(/rtpengine/);

    const agent = await startSipp({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: 'sue', calls: 1, timeoutSeconds: 30 });
    peers.push(agent);
    expect((await control(`/projects/${hub.projectId}/agents/sue`, { method: 'PUT', json: { status: 'ready', contact: agent.uri } })).status).toBe(200);
    const caller = await startSipp({
      scenario: 'caller-number-ivr-digit', address: nextLoopbackAddress(), target: `127.0.0.1:${sipPort}`, service: '4930123499',
      calls: 1, timeoutSeconds: 30, pauseMs: 1_500, keys: { caller_number: '03012345679', digit: '2' },
    });
    peers.push(caller);
    const [callerRun, agentRun] = await Promise.all([caller.finished(), agent.finished()]);
    expect(callerRun.successful, callerRun.output).toBe(1);
    expect(countOf(callerRun, 'INFO')).toBe(1);
    expect(agentRun.successful, agentRun.output).toBe(1);

    const journey = client.workflow.getHandle(journeyWorkflowId(hub.projectId, '+493012345679'));
    const call = await eventually(async () => {
      const state = await journey.query(journeyStateQuery).catch(() => undefined);
      const found = state?.calls?.find((candidate: JourneyCallView) => candidate.dialled === '4930123499');
      return found?.cdr !== undefined && found.agentId !== undefined ? found : undefined;
    }, 20_000, 'the IVR call in the journey');
    expect(call).toMatchObject({ direction: 'inbound', ivr: 'queue support', queue: 'support', agentId: 'sue', cause: 'normal', cdr: { outcome: 'answered' } });
  });

  it('schedules the callback an IVR caller asks for: shown the number they dialled, stored with its workflow, the caller told and hung up on', async () => {
    expect(telephony, 'the process from the first test').toBeDefined();
    const menu = {
      start: 'offer', fallbackQueue: 'sales',
      nodes: {
        offer: { kind: 'menu', prompt: 'callback-offer', options: { '1': 'hold', '2': 'call-me' }, timeoutMs: 5_000 },
        hold: { kind: 'queue', queue: 'support' },
        'call-me': { kind: 'callback', queue: 'support', delayMinutes: 60, prompt: 'callback-scheduled' },
      },
    };
    expect((await api('PUT', '/v1/telephony/ivr-menus/busy', menu)).status).toBe(201);
    expect((await api('PUT', '/v1/telephony/numbers/4930123498', { ivr: 'busy' })).status).toBe(201);
    await eventually(async () => {
      const body = (await (await control('/healthz')).json()) as { numbers: string[] };
      return body.numbers.includes('4930123498') ? body : undefined;
    }, 10_000, 'the callback IVR number to be routed');

    const caller = await startSipp({
      scenario: 'caller-number-ivr-hub-hangs-up', address: nextLoopbackAddress(), target: `127.0.0.1:${sipPort}`, service: '4930123498',
      calls: 1, timeoutSeconds: 30, pauseMs: 1_500, keys: { caller_number: '03012345670', digit: '2' },
    });
    peers.push(caller);
    const started = Date.now();
    const run = await caller.finished();
    expect(run.successful, run.output).toBe(1);
    expect(countOf(run, 'BYE')).toBe(1);

    // Stored as the API stores callbacks: its workflow started through the outbox, due in an hour.
    const callback = await eventually(async () => (await hub.db.callback.findFirst({ where: { projectId: hub.projectId, phone: '+493012345670' } })) ?? undefined, 10_000, 'the callback row');
    expect(callback).toMatchObject({ queue: 'support', callerId: '+4930123498', state: 'scheduled', note: 'asked for in the IVR' });
    expect(callback.at.getTime() - started).toBeGreaterThan(59 * 60_000);
    expect(callback.at.getTime() - started).toBeLessThan(61 * 60_000);
    const listed = await hub.call('GET', `/v1/callbacks/${callback.id}`);
    expect(listed.body).toMatchObject({ id: callback.id, state: 'scheduled' });
    const journey = client.workflow.getHandle(journeyWorkflowId(hub.projectId, '+493012345670'));
    const call = await eventually(async () => {
      const state = await journey.query(journeyStateQuery).catch(() => undefined);
      const found = state?.calls?.find((candidate: JourneyCallView) => candidate.dialled === '4930123498');
      // The IVR's decision is told once the hub has carried it out, here after the hang-up and its CDR.
      return found?.cdr !== undefined && found.ivr !== undefined ? found : undefined;
    }, 20_000, 'the IVR call in the journey');
    expect(call.ivr).toBe(`callback at ${callback.at.toISOString()} (queue support)`);
    expect((await hub.call('DELETE', `/v1/callbacks/${callback.id}`)).body).toMatchObject({ state: 'cancelled' });
  });

  it('runs the telephony activities: a callContact workflow places a call through a trunk configured by API (the CDR is stored and the journey lists it), and callAndAsk collects a callee\'s keys through the process\'s rtpengine', async () => {
    expect(telephony, 'the process from the first test').toBeDefined();
    const carrier = await startSipp({ scenario: 'carrier-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 30 });
    peers.push(carrier);
    const trunk = { kind: 'carrier', host: carrier.hostport, auth: { mode: 'ip' }, priority: 1, currency: 'EUR', routes: [{ prefix: '49', pricePerMinute: '0.060', billingIncrement: '1/1' }] };
    expect((await api('PUT', '/v1/telephony/trunks/main', trunk)).status).toBe(201);
    await eventually(async () => {
      // Reloaded by NOTIFY, no restart.
      const body = (await (await control('/healthz')).json()) as { trunks: number };
      return body.trunks === 1 ? true : undefined;
    }, 10_000, 'the new trunk to reach the call center');

    const callId = `out-${randomUUID()}`;
    const result = await client.workflow.execute('callContact', {
      taskQueue: hub.taskQueue, workflowId: `call/${callId}`, workflowExecutionTimeout: '40 seconds',
      args: [{ projectId: hub.projectId, callId, to: '+4930555001', callerId: '+4940111111', ringTimeoutMs: 5_000, telephonyTaskQueue: sharedQueue, then: { hangupAfterMs: 1_200 } }],
    }) as { outcome: string; trunk: string; taskQueue: string };
    expect(result).toMatchObject({ outcome: 'answered', trunk: 'main' });
    expect(result.taskQueue).toMatch(/^telephony-/);
    expect(result.taskQueue).not.toBe(sharedQueue);

    const row = await eventually(async () => (await hub.db.callDetailRecord.findFirst({ where: { projectId: hub.projectId, callId, outcome: { startsWith: 'answered' } } })) ?? undefined, 15_000, 'the outbound CDR row');
    expect(row).toMatchObject({ direction: 'outbound', trunkName: 'main', toNumber: expect.stringContaining('4930555001'), currency: 'EUR' });
    expect(row.billableSeconds).toBeGreaterThanOrEqual(1);
    expect(row.cost.toFixed(6)).toBe((row.billableSeconds * 0.001).toFixed(6));
    const journey = client.workflow.getHandle(journeyWorkflowId(hub.projectId, '+4930555001'));
    const call = await eventually(async () => {
      const state = await journey.query(journeyStateQuery).catch(() => undefined);
      const found = state?.calls?.find((candidate: JourneyCallView) => candidate.callId === callId);
      return found?.cdr?.outcome === 'answered' ? found : undefined;
    }, 15_000, 'the outbound call in the journey');
    expect(call).toMatchObject({ trunk: 'main', cause: 'normal', cdr: { trunk: 'main', currency: 'EUR' } });
    expect((await carrier.finished()).successful).toBe(1);
    // The process publishes its trunks' health for the API.
    const status = await eventually(async () => {
      const response = await hub.request('/v1/telephony/trunks/main/status', { method: 'GET' });
      return response.status === 200 ? ((await response.json()) as { trunk: string; status: string }) : undefined;
    }, 10_000, 'the trunk status from the telephony process');
    expect(status).toMatchObject({ trunk: 'main', status: 'up' });

    // Play and collect through the process's own media: a callee on a trunk of its own (longer prefix)
    // presses 4, 2, # as RFC 2833 while the process's rtpengine plays the prompt.
    const callee = await startSipp({ scenario: 'callee-dtmf-2833', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 30 });
    peers.push(callee);
    const askTrunk = { ...trunk, host: callee.hostport, routes: [{ prefix: '4931', pricePerMinute: '0.060', billingIncrement: '1/1' }] };
    expect((await api('PUT', '/v1/telephony/trunks/asks', askTrunk)).status).toBe(201);
    await eventually(async () => {
      const body = (await (await control('/healthz')).json()) as { trunks: number };
      return body.trunks === 2 ? true : undefined;
    }, 10_000, 'the second trunk to reach the call center');
    const askId = `ask-${randomUUID()}`;
    const asked = await client.workflow.execute('callAndAsk', {
      taskQueue: hub.taskQueue, workflowId: `ask/${askId}`, workflowExecutionTimeout: '40 seconds',
      args: [{ projectId: hub.projectId, callId: askId, to: '+4931555002', callerId: '+4940111111', ringTimeoutMs: 5_000, telephonyTaskQueue: sharedQueue,
        ask: { prompt: 'enter-account-number', maxDigits: 6, timeoutMs: 3_000, terminator: '#' } }],
    }) as { placed: { trunk: string }; answer: { digits: string; timedOut: boolean } };
    expect(asked).toMatchObject({ placed: { trunk: 'asks' }, answer: { digits: '42', timedOut: false } });
    expect(countOf(await callee.finished(), 'BYE')).toBe(1);

    // Ctrl-C (SIGTERM from npm start) stops it cleanly.
    await telephony!.process.kill('SIGTERM');
    expect(await telephony!.process.exited).toEqual({ code: 0, signal: null });
  });
});
