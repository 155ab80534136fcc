/**
 * Whether a text is an IANA time zone name the runtime knows ("Europe/Moscow", "UTC",
 * "America/Argentina/Buenos_Aires"). UTC offsets ("+03:00") are refused: the ECMAScript clock
 * reads them as east of UTC and PostgreSQL's AT TIME ZONE as POSIX (west), so a day or a dialing
 * window would shift silently between the two.
 */
export function isTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    // RangeError: not a zone this runtime knows.
    return false;
  }
}
