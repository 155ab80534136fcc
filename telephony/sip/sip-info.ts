/** DTMF carried in SIP INFO bodies (application/dtmf-relay `Signal=5`, or application/dtmf `5`). */
export function digitFromSipInfo(contentType: string, body: string): string | undefined {
  const type = contentType.split(';')[0]?.trim().toLowerCase();
  let signal: string | undefined;
  if (type === 'application/dtmf-relay') signal = /^\s*signal\s*=\s*(\S+)/im.exec(body)?.[1];
  else if (type === 'application/dtmf') signal = body.trim();
  if (!signal) return undefined;
  // Some phones send event codes 10/11 for * and #.
  const normalised = signal === '10' ? '*' : signal === '11' ? '#' : signal.toUpperCase();
  return /^[0-9*#A-D]$/.test(normalised) ? normalised : undefined;
}
