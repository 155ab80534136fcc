// Activities on a live call (bridge, transfer, play-and-collect, hang up) run on the task queue of
// the telephony worker that holds the call's dialog (`placed.taskQueue`); a short schedule-to-start
// says "that worker is gone" instead of waiting for it. Safe in workflow code.
import type { Duration } from '@temporalio/common';
import { proxyActivities } from '@temporalio/workflow';
import type { TelephonyActivities } from '../../telephony/activities.js';

export function activitiesOnCall(taskQueue: string, options: { startToCloseTimeout?: Duration; maximumAttempts?: number } = {}) {
  return proxyActivities<TelephonyActivities>({
    taskQueue,
    scheduleToStartTimeout: '30 seconds',
    startToCloseTimeout: options.startToCloseTimeout ?? '1 hour',
    heartbeatTimeout: '10 seconds',
    retry: { maximumAttempts: options.maximumAttempts ?? 3 },
  });
}
