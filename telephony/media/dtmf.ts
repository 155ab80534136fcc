// DTMF as it reaches the hub: RFC 4733/2833 events reported by rtpengine's DTMF
// log, and SIP INFO bodies (application/dtmf-relay, application/dtmf).
import { z } from 'zod';

/** RFC 4733 event codes 0-15, in order. Code 16 (hook flash) is not a digit. */
const EVENT_DIGITS = '0123456789*#ABCD';

export const DTMF_DIGIT = /^[0-9*#A-D]$/;

export function digitForEvent(code: number): string | undefined {
  return Number.isInteger(code) ? EVENT_DIGITS[code] : undefined;
}

/**
 * One datagram from rtpengine's `--dtmf-log-dest`: a JSON object per detected
 * event, sent when the event ends (a held key is one event). `source_tag` is
 * the tag of the party that pressed the key.
 */
const dtmfLogEntry = z.object({
  callid: z.string().min(1),
  source_tag: z.string(),
  type: z.string().optional(),
  event: z.number().int().min(0),
  duration: z.number().optional(),
});

export type DtmfLogEvent = { callId: string; sourceTag: string; digit: string; durationMs: number | undefined };

export type DtmfLogParse = { ok: true; event: DtmfLogEvent } | { ok: true; event: undefined; ignored: string } | { ok: false; error: string };

export function parseDtmfLogDatagram(datagram: Buffer): DtmfLogParse {
  let json: unknown;
  try {
    json = JSON.parse(datagram.toString('utf8'));
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
  const parsed = dtmfLogEntry.safeParse(json);
  if (!parsed.success) return { ok: false, error: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') };
  const entry = parsed.data;
  // rtpengine also logs non-DTMF events on this channel in some versions; only DTMF carries a key press.
  if (entry.type !== undefined && entry.type !== 'DTMF') return { ok: true, event: undefined, ignored: `type ${entry.type}` };
  const digit = digitForEvent(entry.event);
  if (digit === undefined) return { ok: true, event: undefined, ignored: `event ${entry.event} is not a digit` };
  return { ok: true, event: { callId: entry.callid, sourceTag: entry.source_tag, digit, durationMs: entry.duration } };
}

/**
 * What a SIP INFO body said: a digit, or the final response the SIP layer
 * should send instead of 200 (415 for a body type we do not read, 400 for a
 * malformed one), with a reason naming the field.
 */
export type SipInfoDigit = { ok: true; digit: string; durationMs: number | undefined } | { ok: false; sipStatus: 400 | 415; reason: string };

export const SIP_INFO_DTMF_TYPES = ['application/dtmf-relay', 'application/dtmf'] as const;

/**
 * Reads a DTMF digit from a SIP INFO request body. application/dtmf-relay is
 * `Signal=<digit>` and `Duration=<ms>` lines (Cisco's format, the de facto
 * standard); application/dtmf is the digit alone. Both also appear with the
 * RFC 4733 event code instead of the character (`Signal=11` for #).
 */
export function parseSipInfoDigit(contentType: string | undefined, body: string): SipInfoDigit {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'application/dtmf-relay') return parseDtmfRelay(body);
  if (mediaType === 'application/dtmf') {
    const digit = readDigit(body.trim());
    return digit === undefined ? { ok: false, sipStatus: 400, reason: `body: ${JSON.stringify(body.trim())} is not a DTMF digit` } : { ok: true, digit, durationMs: undefined };
  }
  return {
    ok: false,
    sipStatus: 415,
    reason: `Content-Type: ${mediaType === '' ? 'missing' : mediaType}; DTMF is read from ${SIP_INFO_DTMF_TYPES.join(' or ')}`,
  };
}

function parseDtmfRelay(body: string): SipInfoDigit {
  const fields = new Map<string, string>();
  for (const line of body.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const separator = line.indexOf('=');
    if (separator < 0) return { ok: false, sipStatus: 400, reason: `body: line ${JSON.stringify(line)} is not Name=value` };
    fields.set(line.slice(0, separator).trim().toLowerCase(), line.slice(separator + 1).trim());
  }
  const signal = fields.get('signal');
  if (signal === undefined) return { ok: false, sipStatus: 400, reason: 'Signal: missing from the application/dtmf-relay body' };
  const digit = readDigit(signal);
  if (digit === undefined) return { ok: false, sipStatus: 400, reason: `Signal: ${JSON.stringify(signal)} is not a DTMF digit` };
  const durationText = fields.get('duration');
  if (durationText === undefined) return { ok: true, digit, durationMs: undefined };
  const durationMs = Number(durationText);
  if (!/^\d+$/.test(durationText) || durationMs > 60_000) return { ok: false, sipStatus: 400, reason: `Duration: ${JSON.stringify(durationText)} is not a number of milliseconds` };
  return { ok: true, digit, durationMs };
}

function readDigit(text: string): string | undefined {
  const upper = text.toUpperCase();
  if (DTMF_DIGIT.test(upper)) return upper;
  // Two-character event codes (10-15); single characters 0-9 were handled above as digits.
  return /^1[0-5]$/.test(text) ? digitForEvent(Number(text)) : undefined;
}
