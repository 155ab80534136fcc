// Dialing windows in the contact's local time, several zones, the work schedule, DST, and retries.
import { describe, expect, it } from 'vitest';
import { campaignConfigSchema, campaignReferenceErrors, windowSchema, type CampaignConfig } from './campaign-config.js';
import { decideRetry } from './retry.js';
import { dialableAt, localDaysBetween, nextDialableAt, type Schedule } from './windows.js';

const weekdays = windowSchema.parse({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '20:00' });
const saturday = windowSchema.parse({ days: ['sat'], from: '10:00', to: '18:00' });
const newYork: Schedule = { contactZones: ['America/New_York'], dialingWindows: [weekdays, saturday] };
const at = (iso: string) => new Date(iso);

describe('dialing windows', () => {
  it('opens at "from" and closes at "to" in the contact\'s local time', () => {
    // Monday 2026-11-23; New York is UTC-5 in November.
    expect(dialableAt(at('2026-11-23T13:59:00Z'), newYork)).toBe(false);
    expect(dialableAt(at('2026-11-23T14:00:00Z'), newYork)).toBe(true);
    expect(dialableAt(at('2026-11-24T00:59:00Z'), newYork)).toBe(true);
    expect(dialableAt(at('2026-11-24T01:00:00Z'), newYork)).toBe(false);
    // Sunday: no window.
    expect(dialableAt(at('2026-11-22T17:00:00Z'), newYork)).toBe(false);
  });

  it('needs every zone of an uncertain number inside its window', () => {
    const eitherCoast: Schedule = { ...newYork, contactZones: ['America/New_York', 'America/Los_Angeles'] };
    // 09:30 in New York is 06:30 in Los Angeles.
    expect(dialableAt(at('2026-11-23T14:30:00Z'), eitherCoast)).toBe(false);
    expect(nextDialableAt(at('2026-11-23T14:30:00Z'), eitherCoast)?.toISOString()).toBe('2026-11-23T17:00:00.000Z');
    expect(dialableAt(at('2026-11-23T12:00:00Z'), { ...newYork, contactZones: [] })).toBe(false);
  });

  it('also keeps to the project\'s work schedule', () => {
    const moscowOffice: Schedule = { ...newYork, workSchedule: { timeZone: 'Europe/Moscow', windows: [windowSchema.parse({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '10:00', to: '19:00' })] } };
    // 10:00 in New York is 18:00 in Moscow: open; 11:00 is 19:00 in Moscow: closed until the next office day.
    expect(dialableAt(at('2026-11-23T15:00:00Z'), moscowOffice)).toBe(true);
    expect(dialableAt(at('2026-11-23T16:00:00Z'), moscowOffice)).toBe(false);
    expect(nextDialableAt(at('2026-11-23T16:00:00Z'), moscowOffice)?.toISOString()).toBe('2026-11-24T14:00:00.000Z');
  });

  it('finds the next opening to the minute, across a weekend and a DST change', () => {
    // Friday 20:30 in New York -> Saturday 10:00.
    expect(nextDialableAt(at('2026-11-28T01:30:00Z'), newYork)?.toISOString()).toBe('2026-11-28T15:00:00.000Z');
    // Sunday 8 March 2026 the US moves to UTC-4: Monday 09:00 is 13:00Z.
    expect(nextDialableAt(at('2026-03-08T08:00:00Z'), newYork)?.toISOString()).toBe('2026-03-09T13:00:00.000Z');
    const odd = { ...newYork, dialingWindows: [windowSchema.parse({ days: ['mon'], from: '09:07', to: '09:22' })] };
    expect(nextDialableAt(at('2026-11-23T12:00:00Z'), odd)?.toISOString()).toBe('2026-11-23T14:07:00.000Z');
    expect(nextDialableAt(at('2026-11-23T14:10:30Z'), odd)?.toISOString()).toBe('2026-11-23T14:11:00.000Z');
  });

  it('says never when the windows cannot hold in all zones at once', () => {
    const short = windowSchema.parse({ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '09:00', to: '10:00' });
    expect(nextDialableAt(at('2026-11-23T00:00:00Z'), { contactZones: ['Asia/Tokyo', 'America/New_York'], dialingWindows: [short] })).toBeUndefined();
  });

  it('counts task age in local days', () => {
    expect(localDaysBetween(at('2026-11-23T04:00:00Z'), at('2026-11-23T06:00:00Z'), 'America/New_York')).toBe(1);
    expect(localDaysBetween(at('2026-11-23T06:00:00Z'), at('2026-11-26T04:00:00Z'), 'America/New_York')).toBe(2);
  });
});

describe('retry rules', () => {
  const config = (retry: unknown): CampaignConfig =>
    campaignConfigSchema.parse({ mode: 'predictive', trunks: ['main'], callerId: '+14155550100', queue: 'sales', retry });
  const created = at('2026-11-23T15:00:00Z');

  it('waits per outcome, inside the window, with defaults for outcomes without a rule', () => {
    const { retry } = config({ maxAttempts: 5, rules: [{ outcome: 'busy', retryAfterMinutes: 10 }] });
    expect(decideRetry({ outcome: 'busy', attempts: 1, endedAt: at('2026-11-23T15:00:00Z'), taskCreatedAt: created }, retry, newYork)).toEqual({ retryAt: at('2026-11-23T15:10:00Z'), rule: 0 });
    // 19:55 + 10 minutes is past 20:00: the next attempt is the next morning at 09:00.
    expect(decideRetry({ outcome: 'busy', attempts: 1, endedAt: at('2026-11-24T00:55:00Z'), taskCreatedAt: created }, retry, newYork)).toEqual({ retryAt: at('2026-11-24T14:00:00Z'), rule: 0 });
    expect(decideRetry({ outcome: 'no-answer', attempts: 1, endedAt: at('2026-11-23T15:00:00Z'), taskCreatedAt: created }, retry, newYork)).toEqual({ retryAt: at('2026-11-23T16:00:00Z'), rule: 'default' });
  });

  it('matches by weekday and by task age, first rule wins, and stops at max attempts or a null rule', () => {
    const { retry } = config({
      maxAttempts: 3,
      rules: [
        { outcome: 'no-answer', weekdays: ['sat'], retryAfterMinutes: null },
        { outcome: 'any', taskAgeDays: { from: 2 }, retryAfterMinutes: 240 },
        { outcome: 'any', retryAfterMinutes: 15 },
      ],
    });
    const saturdayNoon = at('2026-11-28T17:00:00Z');
    expect(decideRetry({ outcome: 'no-answer', attempts: 1, endedAt: saturdayNoon, taskCreatedAt: created }, retry, newYork)).toEqual({ stop: 'retry rule 0 stops after "no-answer"' });
    expect(decideRetry({ outcome: 'busy', attempts: 1, endedAt: saturdayNoon, taskCreatedAt: created }, retry, newYork)).toMatchObject({ rule: 1 });
    expect(decideRetry({ outcome: 'busy', attempts: 1, endedAt: at('2026-11-24T15:00:00Z'), taskCreatedAt: created }, retry, newYork)).toEqual({ retryAt: at('2026-11-24T15:15:00Z'), rule: 2 });
    expect(decideRetry({ outcome: 'busy', attempts: 3, endedAt: at('2026-11-24T15:00:00Z'), taskCreatedAt: created }, retry, newYork)).toEqual({ stop: 'max attempts reached (3)' });
  });
});

describe('campaign configuration', () => {
  it('fills defaults and names each bad field', () => {
    const parsed = campaignConfigSchema.parse({ mode: 'progressive', trunks: ['main'], callerId: '+14155550100', queue: 'sales' });
    expect(parsed).toMatchObject({ abandonTarget: 0.03, retry: { maxAttempts: 5 }, dialingWindows: [{ from: 540, to: 1200 }, { days: ['sat'], from: 600, to: 1080 }] });
    const bad = campaignConfigSchema.safeParse({
      mode: 'robocall',
      trunks: [],
      callerId: '+14155550100',
      queue: 'sales',
      dialingWindows: [{ days: ['mon'], from: '09:00', to: '09:05' }, { days: ['funday'], from: '25:00', to: '10:00' }],
      workSchedule: { timeZone: 'Mars/Olympus', windows: [{ days: ['mon'], from: '09:00', to: '18:00' }] },
      abandonTarget: 0.2,
    });
    expect(bad.success).toBe(false);
    const paths = bad.error?.issues.map((issue) => issue.path.join('.')).sort();
    expect(paths).toEqual(['abandonTarget', 'dialingWindows.0.to', 'dialingWindows.1.days.0', 'dialingWindows.1.from', 'mode', 'trunks', 'workSchedule.timeZone']);
    expect(campaignReferenceErrors({ ...parsed, trunks: ['main', 'ghost'], queue: 'nobody', callerId: '12' }, { trunks: ['main'], queues: ['sales'], defaultRegion: 'US' }).map((error) => error.field)).toEqual([
      'trunks.1',
      'queue',
      'callerId',
    ]);
  });
});
