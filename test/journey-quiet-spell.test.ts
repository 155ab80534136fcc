// A journey's idle time with one timer per quiet spell (workflows/quiet-spell.ts): real API,
// outbox, Temporal dev server, worker and demo SQL CRM. Tasks reach the journey a few hundred ms
// apart; the run must not start and cancel a timer per task, must still end only after a whole
// idle time without work, and histories written by the build that did start one per wait must
// replay unchanged (a worker upgraded under running journeys).
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { contactJourney } from '../workflows/journey/workflows.js';
import { journeyWorkflowId } from '../workflows/journey/shared.js';
import { startTestHub, type TestHub } from './support/hub.js';

const IDLE_MS = 3_000;
const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ idleTimeoutMs: IDLE_MS });
});
afterAll(async () => {
  await hub?.close();
});

const count = (events: HistoryEvent[], type: temporal.api.enums.v1.EventType) => events.filter((event) => event.eventType === type).length;
const timeOf = (event: HistoryEvent | undefined) => Number(event?.eventTime?.seconds ?? 0) * 1000 + Math.floor((event?.eventTime?.nanos ?? 0) / 1e6);

describe('journey idle time', () => {
  it('takes tasks arriving 400 ms apart under one idle timer, and ends a whole idle time after the last one', async () => {
    const phone = '+14155550147';
    for (let index = 0; index < 4; index += 1) {
      const posted = await hub.request('/v1/tasks', { method: 'POST', json: { phone, name: 'Ada Lovelace', applicationNumber: `Q-${index}` } });
      expect(posted.status).toBe(202);
      await sleep(400);
    }
    const client = await hub.temporal.client();
    const journey = client.workflow.getHandle<typeof contactJourney>(journeyWorkflowId(hub.projectId, phone));
    const final = await journey.result();
    expect(final.tasks.map((task) => task.status)).toEqual(['done', 'done', 'done', 'done']);

    const events = (await journey.fetchHistory()).events ?? [];
    const deliveries = events.filter((event) => event.eventType === EventType.EVENT_TYPE_MARKER_RECORDED);
    expect(deliveries.length).toBeGreaterThanOrEqual(4);
    // The spell that began with the first wait is watched by one timer; waking while later tasks
    // kept the journey busy, the watcher sleeps once more for what is left. Never one per task.
    expect(count(events, EventType.EVENT_TYPE_TIMER_CANCELED)).toBe(0);
    expect(count(events, EventType.EVENT_TYPE_TIMER_STARTED)).toBeLessThanOrEqual(2);
    // Idle means a whole idle time with nothing to do after the last task was delivered. The journey
    // reads time as its workflow task saw it when it began (the delivery runs inside that task, so
    // its marker is stamped a few milliseconds later): the spell is measured from that task's start.
    const completed = events.find((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
    const lastDelivery = deliveries.at(-1);
    const taskOfLastDelivery = events.filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED && Number(event.eventId) < Number(lastDelivery?.eventId)).at(-1);
    expect(timeOf(completed) - timeOf(taskOfLastDelivery)).toBeGreaterThanOrEqual(IDLE_MS);
    // ...and not much more: the journey does end once the spell is over.
    expect(timeOf(completed) - timeOf(lastDelivery)).toBeLessThan(IDLE_MS + 2_000);
  });

  it('replays a history written with a timer started and cancelled per wait (a run begun before the quiet spell)', async () => {
    const recorded = JSON.parse(await readFile(new URL('./fixtures/journey-per-wait-timers.history.json', import.meta.url), 'utf8')) as unknown;
    const history = temporal.api.history.v1.History.fromObject(recorded as Record<string, unknown>);
    const events = history.events ?? [];
    // The fixture is what the earlier build wrote: three tasks, each ending a wait with a cancelled timer.
    expect(count(events, EventType.EVENT_TYPE_TIMER_CANCELED)).toBe(3);
    expect(count(events, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)).toBe(1);
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history);
  });
});
