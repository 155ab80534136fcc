// Bitrix24 outbound events (onCrmContactAdd, onCrmContactUpdate, ...): a
// form-encoded POST whose `auth[application_token]` is the secret shared with this
// handler. Bitrix24 signs nothing, so the token comparison is the whole check, and
// it is constant-time. Events carry only the record id and a send time in seconds.
import { createHash, timingSafeEqual } from 'node:crypto';
import { CrmError } from '../sdk/errors.js';
import { LATEST_INSTANT_MS } from '../../core/validation.js';
import type { WebhookEvent, WebhookHandler, WebhookRequest } from '../sdk/types.js';
import type { Bitrix24Config } from './config.js';
import { parsePhpQuery, PhpQueryLimitError, type PhpValue } from './php-query.js';

const eventKinds: Record<string, WebhookEvent['kind']> = {
  ONCRMCONTACTADD: 'contact.created',
  ONCRMCONTACTUPDATE: 'contact.updated',
  ONCRMCONTACTDELETE: 'contact.deleted',
  ONCRMDEALUPDATE: 'deal.updated',
};

function readBody(request: WebhookRequest): Record<string, PhpValue> {
  const text = request.rawBody.trim();
  // Portals send form encoding; a JSON body (relays, tests with curl) carries the same fields.
  if (text.startsWith('{')) {
    try {
      return JSON.parse(text) as Record<string, PhpValue>;
    } catch (error) {
      throw new CrmError('rejected', `Bitrix24 event body is neither form-encoded nor valid JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  try {
    return parsePhpQuery(text);
  } catch (error) {
    if (error instanceof PhpQueryLimitError) throw new CrmError('rejected', `Bitrix24 event body has ${error.message}`, { cause: error });
    throw error;
  }
}

function at(value: PhpValue | undefined, ...path: string[]): PhpValue | undefined {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = current[key];
  }
  return current;
}

function sameSecret(received: string, expected: string): boolean {
  // Digests have equal length, so timingSafeEqual never throws and lengths do not leak.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(received), digest(expected));
}

export const bitrix24Webhook: WebhookHandler<Bitrix24Config> = {
  verify(request, config) {
    if (!config.applicationToken) return false;
    let body: Record<string, PhpValue>;
    try {
      body = readBody(request);
    } catch (error) {
      // An unreadable body is unsigned as far as verification goes; parse reports why.
      if (error instanceof CrmError) return false;
      throw error;
    }
    const token = at(body, 'auth', 'application_token');
    return typeof token === 'string' && sameSecret(token, config.applicationToken);
  },

  parse(request) {
    const body = readBody(request);
    const event = String(at(body, 'event') ?? '').toUpperCase();
    const id = at(body, 'data', 'FIELDS', 'ID');
    if (event === '' || (typeof id !== 'string' && typeof id !== 'number')) {
      throw new CrmError('rejected', 'Bitrix24 event without "event" or "data[FIELDS][ID]"');
    }
    const rawTs = at(body, 'ts');
    const ts = Number(rawTs);
    // Seconds since 1970; a value no clock gives (1e20) would make no date at all.
    if (rawTs !== undefined && rawTs !== '' && Number.isFinite(ts) && (ts < 0 || ts * 1000 > LATEST_INSTANT_MS)) {
      throw new CrmError('rejected', `Bitrix24 event "ts" ${String(rawTs).slice(0, 40)} is not a time between 1970 and 9999`);
    }
    // Bitrix24 sends no event id. Event, record and send second identify a delivery; two
    // changes of one record within a second collapse into one. The event carries no values:
    // the inbox stores the repeat once and asks the journey to read the record again
    // (core/webhooks/inbox.ts, `recheck`), so the second change is not lost.
    return [
      {
        eventId: `${event}:${id}:${Number.isFinite(ts) ? ts : 'no-ts'}`,
        kind: eventKinds[event] ?? 'other',
        externalId: String(id),
        occurredAt: Number.isFinite(ts) ? new Date(ts * 1000).toISOString() : undefined,
      },
    ];
  },
};
