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

/** The first activity of that name scheduled at or after `since`. */
export function firstActivity(timeline: WorkflowTimeline, activity: string, since = 0): ActivitySpan | undefined {
  return timeline.activities.find((span) => span.name === activity && span.scheduledAt >= since);
}

/** When the first activity of that name scheduled at or after `since` completed, if it has. */
export function firstCompletion(timeline: WorkflowTimeline, activity: string, since = 0): number | undefined {
  return firstActivity(timeline, activity, since)?.completedAt;
}

/** The Temporal work a timeline holds from `since` on. */
export function temporalWork(timeline: WorkflowTimeline, since = 0): { workflowTasks: number; activityTasks: number; events: number } {
  return {
    workflowTasks: timeline.workflowTasks.filter((at) => at >= since).length,
    activityTasks: timeline.activities.filter((span) => span.scheduledAt >= since).length,
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
