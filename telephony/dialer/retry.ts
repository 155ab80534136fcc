/**
 * What happens after an attempt that reached no agent: the campaign's retry rules, first match wins,
 * by outcome, by the weekday the attempt ended on and by the task's age in days (both in the contact's
 * local time), capped by the campaign's maximum attempts. The next attempt is then moved into the
 * next dialing window.
 */
import type { AttemptOutcome, CampaignConfig, RetryRule } from './campaign-config.js';
import { localDaysBetween, localTime, nextDialableAt, type Schedule } from './windows.js';

export interface AttemptEnded {
  outcome: AttemptOutcome;
  /** Attempts made so far, this one included. */
  attempts: number;
  endedAt: Date;
  taskCreatedAt: Date;
}

export type RetryDecision = { retryAt: Date; rule: number | 'default' } | { stop: string };

const fallbackMinutes: Record<AttemptOutcome, number> = { busy: 10, 'no-answer': 60, failed: 30, abandoned: 30 };

export function decideRetry(attempt: AttemptEnded, retry: CampaignConfig['retry'], schedule: Schedule): RetryDecision {
  if (attempt.attempts >= retry.maxAttempts) return { stop: `max attempts reached (${retry.maxAttempts})` };
  const zone = schedule.contactZones[0] ?? 'UTC';
  const weekday = localTime(attempt.endedAt, zone).weekday;
  const ageDays = localDaysBetween(attempt.taskCreatedAt, attempt.endedAt, zone);
  const index = retry.rules.findIndex((rule) => matches(rule, attempt.outcome, weekday, ageDays));
  const rule = retry.rules[index];
  if (rule && rule.retryAfterMinutes === null) return { stop: `retry rule ${index} stops after "${attempt.outcome}"` };
  const minutes = rule?.retryAfterMinutes ?? fallbackMinutes[attempt.outcome];
  const earliest = new Date(attempt.endedAt.getTime() + minutes * 60_000);
  const retryAt = nextDialableAt(earliest, schedule);
  if (!retryAt) return { stop: 'the dialing windows never open for this contact' };
  return { retryAt, rule: rule ? index : 'default' };
}

function matches(rule: RetryRule, outcome: AttemptOutcome, weekday: string, ageDays: number): boolean {
  if (rule.outcome !== 'any' && rule.outcome !== outcome) return false;
  if (rule.weekdays && !rule.weekdays.includes(weekday as never)) return false;
  if (rule.taskAgeDays?.from !== undefined && ageDays < rule.taskAgeDays.from) return false;
  if (rule.taskAgeDays?.to !== undefined && ageDays > rule.taskAgeDays.to) return false;
  return true;
}
