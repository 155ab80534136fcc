// Outbound webhooks as a portal sends them (event pages, e.g. onCrmContactUpdate):
// a form-encoded POST with `event`, `event_handler_id`, `data[FIELDS][ID]`, `ts`
// (seconds) and `auth[...]`, where `auth[application_token]` is the secret the
// handler checks to know the call came from this portal.
import { buildPhpQuery } from '../php-query.js';

export type ContactEventName = 'ONCRMCONTACTADD' | 'ONCRMCONTACTUPDATE' | 'ONCRMCONTACTDELETE';

export interface EventOrigin {
  applicationToken: string;
  domain: string;
  memberId: string;
  clientEndpoint: string;
  eventHandlerId: number;
}

export interface EmittedEvent {
  status: number;
  /** Exactly the bytes sent, for signature tests. */
  body: string;
}

export async function postEvent(url: string, event: ContactEventName, id: number | string, origin: EventOrigin, ts = Math.floor(Date.now() / 1000)): Promise<EmittedEvent> {
  const body = buildPhpQuery({
    event,
    event_handler_id: origin.eventHandlerId,
    data: { FIELDS: { ID: String(id) } },
    ts,
    auth: {
      domain: origin.domain,
      client_endpoint: origin.clientEndpoint,
      server_endpoint: 'https://oauth.bitrix.info/rest/',
      member_id: origin.memberId,
      application_token: origin.applicationToken,
    },
  });
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  // The portal ignores the handler's answer body; reading it releases the connection.
  await response.arrayBuffer();
  return { status: response.status, body };
}
