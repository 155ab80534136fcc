/**
 * When a contact may be called: every one of the contact's time zones inside one of the campaign's
 * dialing windows (a number whose zone is uncertain, such as a country spanning several zones, is
 * called only when the window holds in all of them), and the project's work schedule open.
 * Pure functions of an instant; the dialer checks them at the moment it dials, so no restart, queue
 * or clock drift can start a call outside a window.
 */
import type { DialingWindow, Weekday } from './campaign-config.js';

export interface LocalTime {
  weekday: Weekday;
  /** Minutes since local midnight. */
  minutes: number;
  /** Local calendar date "YYYY-MM-DD". */
  date: string;
}

export interface Schedule {
  /** The contact's zones (at least one). */
  contactZones: readonly string[];
  dialingWindows: readonly DialingWindow[];
  workSchedule?: { timeZone: string; windows: readonly DialingWindow[] } | undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const weekdayOf: Record<string, Weekday> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };

export function localTime(instant: Date, zone: string): LocalTime {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(zone, format);
  }
  const parts: Record<string, string> = {};
  for (const part of format.formatToParts(instant)) parts[part.type] = part.value;
  return {
    weekday: weekdayOf[parts.weekday ?? ''] ?? 'mon',
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
    date: `${parts.year}-${parts.month}-${parts.day}`,
  };
}

export function insideWindows(instant: Date, zone: string, windows: readonly DialingWindow[]): boolean {
  const local = localTime(instant, zone);
  return windows.some((window) => window.days.includes(local.weekday) && local.minutes >= window.from && local.minutes < window.to);
}

export function dialableAt(instant: Date, schedule: Schedule): boolean {
  if (schedule.contactZones.length === 0) return false;
  if (schedule.workSchedule && !insideWindows(instant, schedule.workSchedule.timeZone, schedule.workSchedule.windows)) return false;
  return schedule.contactZones.every((zone) => insideWindows(instant, zone, schedule.dialingWindows));
}

const stepMs = 5 * 60_000;
const horizonMs = 8 * 24 * 60 * 60_000;

/**
 * The first whole minute at or after `from` when the contact may be called, or undefined when the
 * windows never open within 8 days (for example contact zones 12 hours apart with short windows).
 * Windows are at least 15 minutes long, so 5-minute steps find every one; the minute is then refined.
 */
export function nextDialableAt(from: Date, schedule: Schedule): Date | undefined {
  const start = Math.ceil(from.getTime() / 60_000) * 60_000;
  if (dialableAt(new Date(start), schedule)) return new Date(start);
  for (let at = start + stepMs; at <= start + horizonMs; at += stepMs) {
    if (!dialableAt(new Date(at), schedule)) continue;
    let first = at;
    while (first - 60_000 > at - stepMs && dialableAt(new Date(first - 60_000), schedule)) first -= 60_000;
    return new Date(first);
  }
  return undefined;
}

/** Whole local days between two instants in a zone (day 0 = the same local date). */
export function localDaysBetween(earlier: Date, later: Date, zone: string): number {
  const day = (instant: Date) => Date.parse(`${localTime(instant, zone).date}T00:00:00Z`);
  return Math.round((day(later) - day(earlier)) / 86_400_000);
}
