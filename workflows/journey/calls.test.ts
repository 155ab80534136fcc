// Call events reaching a contact journey: real Temporal dev server (global setup), a real worker
// running the bundled workflows. The journey merges events per call, keeps the last 20 calls,
// carries them over continueAsNew, and records a malformed event instead of failing.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { installWorkerRuntime } from '../../worker/worker.js';
import { contactJourney } from './workflows.js';
import { callEventSignal, journeyStateQuery, MAX_CALLS_IN_STATE, type CallEventSignal, type JourneyState } from './shared.js';

const taskQueue = `journey-calls-${randomUUID()}`;
let client: Client;
let connection: Connection;
let workerConnection: NativeConnection;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  installWorkerRuntime('WARN');
  const address = inject('temporalAddress');
  workerConnection = await NativeConnection.connect({ address });
  // No activity runs here: call events only change the journey's state.
  worker = await Worker.create({ connection: workerConnection, taskQueue, workflowBundle: { codePath: inject('workflowBundlePath') }, activities: {} });
  running = worker.run();
  connection = await Connection.connect({ address });
  client = new Client({ connection });
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await workerConnection?.close();
});

async function startJourney(carried?: JourneyState) {
  const phone = `+4930${Math.floor(Math.random() * 1e7)}`;
  return client.workflow.start(contactJourney, {
    taskQueue,
    workflowId: `journey/test-${randomUUID()}/${phone}`,
    args: [{ projectId: 'p-calls', phone, idleTimeoutMs: 60_000, carried }],
  });
}

const at = (second: number) => new Date(Date.UTC(2026, 10, 24, 10, 0, second)).toISOString();

describe('call events on the contact journey', () => {
  it('merges ringing, answered, ended and the CDRs of one call into one entry; the answered CDR wins over a failed attempt', async () => {
    const journey = await startJourney();
    try {
      const events: CallEventSignal[] = [
        { callId: 'c1', type: 'cdr', at: at(1), trunk: 'primary', cause: 'failed', sipStatus: 503, billableSeconds: 0, cost: '0.000000', currency: 'EUR' },
        { callId: 'c1', type: 'ringing', at: at(2), trunk: 'backup', sipStatus: 180 },
        { callId: 'c1', type: 'answered', at: at(3), trunk: 'backup' },
        { callId: 'c1', type: 'ended', at: at(5), trunk: 'backup', cause: 'normal' },
        { callId: 'c1', type: 'cdr', at: at(5), trunk: 'backup', cause: 'answered', billableSeconds: 2, cost: '0.002000', currency: 'EUR' },
      ];
      for (const event of events) await journey.signal(callEventSignal, event);
      const state = await journey.query(journeyStateQuery);
      expect(state.calls).toEqual([{
        callId: 'c1', trunk: 'backup', ringingAt: at(2), answeredAt: at(3), endedAt: at(5), cause: 'normal', sipStatus: 180,
        cdr: { at: at(5), trunk: 'backup', billableSeconds: 2, cost: '0.002000', currency: 'EUR', outcome: 'answered' },
        events: ['cdr', 'ringing', 'answered', 'ended', 'cdr'],
      }]);
      expect(state.rejectedCallEvents ?? []).toEqual([]);
    } finally {
      await journey.terminate('test over');
    }
  });

  it('keeps the last 20 calls, most recent first, and records malformed events without failing', async () => {
    const journey = await startJourney();
    try {
      for (let index = 0; index < MAX_CALLS_IN_STATE + 5; index += 1) {
        await journey.signal(callEventSignal, { callId: `call-${index}`, type: 'ringing', at: at(index) });
      }
      // What a buggy or hostile client could send: the journey must record it and carry on.
      await journey.signal(callEventSignal, { callId: 'bad', type: 'exploded', at: at(1) } as unknown as CallEventSignal);
      await journey.signal(callEventSignal, { callId: 'bad2', type: 'ended', at: 'yesterday' });
      await journey.signal(callEventSignal, null as unknown as CallEventSignal);
      await journey.signal(callEventSignal, { callId: 'call-24', type: 'answered', at: at(40) });
      const state = await journey.query(journeyStateQuery);
      expect(state.calls).toHaveLength(MAX_CALLS_IN_STATE);
      expect(state.calls?.map((call) => call.callId).slice(0, 3)).toEqual(['call-24', 'call-23', 'call-22']);
      expect(state.calls?.at(-1)?.callId).toBe('call-5');
      expect(state.calls?.[0]).toMatchObject({ ringingAt: at(24), answeredAt: at(40), events: ['ringing', 'answered'] });
      expect(state.rejectedCallEvents?.map((rejected) => rejected.reason)).toEqual([
        'not an object',
        'at: expected an ISO timestamp',
        'type: expected one of ringing, answered, ivr, queued, connected, ended, cdr',
      ]);
      expect((await journey.describe()).status.name).toBe('RUNNING');
    } finally {
      await journey.terminate('test over');
    }
  });

  it('a run continued as new keeps the calls it carried and merges new events into them', async () => {
    const base = await startJourney();
    await base.terminate('only its id was needed');
    const carried: JourneyState = {
      projectId: 'p-calls', phone: '+4930111', tasks: [], crmRecords: {}, eventsHandled: 0, crmChanges: [], crmChangesReceived: 0, hubWrites: {},
      calls: [{ callId: 'earlier', ringingAt: at(1), answeredAt: at(2), events: ['ringing', 'answered'] }],
    };
    const journey = await startJourney(carried);
    try {
      await journey.signal(callEventSignal, { callId: 'earlier', type: 'ended', at: at(9), cause: 'normal' });
      const state = await journey.query(journeyStateQuery);
      expect(state.calls).toEqual([{ callId: 'earlier', ringingAt: at(1), answeredAt: at(2), endedAt: at(9), cause: 'normal', events: ['ringing', 'answered', 'ended'] }]);
    } finally {
      await journey.terminate('test over');
    }
  });
});
