// Reading a workflow's history as a timeline for bench:journeys: when its
// signals arrived and when each activity was scheduled, started and completed,
// in the Temporal server's clock. The benchmark takes its end time from these
// (not from when a poller noticed) and prints where a journey's time goes.
import type { WorkflowHandle } from '@temporalio/client';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];
type Timestamp = HistoryEvent['eventTime'];

export interface ActivitySpan {
  name: string;
  /** Ran as a local activity: inside a workflow task, recorded as a marker, no activity task. */
  local?: boolean;
  scheduledAt: number;
  startedAt?: number;
  completedAt?: number;
}

export interface WorkflowTimeline {
  startedAt?: number;
  closedAt?: number;
  /** Signal name -> arrival times, in history order. */
  signals: Map<string, number[]>;
  /** In scheduling order. */
  activities: ActivitySpan[];
  /** When each workflow task completed: one round trip worker <-> server each. */
  workflowTasks: number[];
  /** Each workflow task's scheduled, started and completed times (the completion missing while it runs). */
  workflowTaskSpans: { scheduledAt: number; startedAt?: number; completedAt?: number }[];
  /** Every history event with its time (what the server stored). */
  eventTimes: number[];
}

/** Epoch milliseconds of a protobuf timestamp (seconds arrive as a Long). */
function epochMs(ts: Timestamp): number | undefined {
  if (!ts) return undefined;
  return Number(String(ts.seconds ?? 0)) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

const idOf = (value: unknown): string => String(value ?? '');

/** The SDK's record of a finished local activity: its name and when it was scheduled (JSON in the marker's `data`). */
function localActivityOf(marker: NonNullable<HistoryEvent['markerRecordedEventAttributes']>): { name: string; scheduledAt?: number } | undefined {
  if (marker.markerName !== 'core_local_activity') return undefined;
  const data = marker.details?.data?.payloads?.[0]?.data;
  if (!data) return undefined;
  const parsed = JSON.parse(new TextDecoder().decode(data)) as { activity_type?: string; original_schedule_time?: { seconds?: number; nanos?: number } };
  const scheduled = parsed.original_schedule_time;
  return {
    name: parsed.activity_type ?? '?',
    ...(scheduled ? { scheduledAt: (scheduled.seconds ?? 0) * 1000 + Math.floor((scheduled.nanos ?? 0) / 1e6) } : {}),
  };
}

export function timelineOf(history: History): WorkflowTimeline {
  const timeline: WorkflowTimeline = { signals: new Map(), activities: [], workflowTasks: [], workflowTaskSpans: [], eventTimes: [] };
  const byScheduledId = new Map<string, ActivitySpan>();
  for (const event of history.events ?? []) {
    const at = epochMs(event.eventTime);
    if (at === undefined) continue;
    timeline.eventTimes.push(at);
    if (event.workflowTaskScheduledEventAttributes) timeline.workflowTaskSpans.push({ scheduledAt: at });
    const lastTask = timeline.workflowTaskSpans.at(-1);
    if (event.workflowTaskStartedEventAttributes && lastTask) lastTask.startedAt = at;
    if (event.workflowTaskCompletedEventAttributes) {
      timeline.workflowTasks.push(at);
      if (lastTask) lastTask.completedAt = at;
    }
    if (event.workflowExecutionStartedEventAttributes) timeline.startedAt = at;
    if (event.workflowExecutionCompletedEventAttributes || event.workflowExecutionFailedEventAttributes || event.workflowExecutionContinuedAsNewEventAttributes) {
      timeline.closedAt = at;
    }
    const signal = event.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName) timeline.signals.set(signal.signalName, [...(timeline.signals.get(signal.signalName) ?? []), at]);
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const span: ActivitySpan = { name: scheduled.activityType?.name ?? '?', scheduledAt: at };
      byScheduledId.set(idOf(event.eventId), span);
      timeline.activities.push(span);
    }
    const marker = event.markerRecordedEventAttributes;
    const localActivity = marker ? localActivityOf(marker) : undefined;
    if (localActivity) {
      // Durable once its marker is in the history: that is when it counts as completed
      // (a marker with a failure is local attempts that gave up: no completion).
      const ranFrom = localActivity.scheduledAt ?? lastTask?.startedAt ?? at;
      timeline.activities.push({ name: localActivity.name, local: true, scheduledAt: ranFrom, startedAt: ranFrom, ...(marker?.failure ? {} : { completedAt: at }) });
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const span = byScheduledId.get(idOf(started.scheduledEventId));
      if (span) span.startedAt = at;
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const span = byScheduledId.get(idOf(completed.scheduledEventId));
      if (span) span.completedAt = at;
    }
  }
  return timeline;
}

/** The first activity of that name scheduled at or after `since` (a local one that failed included). */
export function firstActivity(timeline: WorkflowTimeline, activity: string, since = 0): ActivitySpan | undefined {
  return timeline.activities.find((span) => span.name === activity && span.scheduledAt >= since);
}

/** When the first activity of that name scheduled at or after `since` completed, if one has. */
export function firstCompletion(timeline: WorkflowTimeline, activity: string, since = 0): number | undefined {
  return timeline.activities.find((span) => span.name === activity && span.scheduledAt >= since && span.completedAt !== undefined)?.completedAt;
}

/** The Temporal work a timeline holds from `since` on. */
export function temporalWork(timeline: WorkflowTimeline, since = 0): { workflowTasks: number; activityTasks: number; localActivities: number; events: number } {
  const activities = timeline.activities.filter((span) => span.scheduledAt >= since);
  return {
    workflowTasks: timeline.workflowTasks.filter((at) => at >= since).length,
    activityTasks: activities.filter((span) => !span.local).length,
    localActivities: activities.filter((span) => span.local).length,
    events: timeline.eventTimes.filter((at) => at >= since).length,
  };
}

/** Collects named durations (ms) and prints p50 / p95 / max per stage. */
export class StageDurations {
  private readonly stages = new Map<string, number[]>();

  add(stage: string, from: number | undefined, to: number | undefined): void {
    if (from === undefined || to === undefined) return;
    const values = this.stages.get(stage) ?? [];
    values.push(to - from);
    this.stages.set(stage, values);
  }

  lines(percentile: (values: number[], p: number) => number): string[] {
    return [...this.stages].map(
      ([stage, values]) =>
        `  ${stage.padEnd(58)} p50 ${fmt(percentile(values, 50))}  p95 ${fmt(percentile(values, 95))}  max ${fmt(Math.max(...values))}  (n=${values.length})`,
    );
  }
}

const fmt = (ms: number) => `${Math.round(ms)} ms`.padStart(8);
