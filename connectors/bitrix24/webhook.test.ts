// Outbound events as the portal posts them, verified by application token and
// parsed into hub webhook events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookRequest } from '../sdk/types.js';
import { bitrix24, bitrix24ConfigSchema } from './connector.js';
import { startBitrixSandbox, type BitrixSandbox } from './sandbox/index.js';
import { startWebhookCapture } from './test-support.js';

let sandbox: BitrixSandbox;
let capture: Awaited<ReturnType<typeof startWebhookCapture>>;

beforeAll(async () => {
  sandbox = await startBitrixSandbox({ applicationToken: 'app-token-0123456789' });
  capture = await startWebhookCapture();
});
afterAll(async () => {
  await sandbox.close();
  await capture.close();
});

const webhook = bitrix24.webhook;
if (!webhook) throw new Error('bitrix24 declares a webhook handler');
const configWith = (applicationToken?: string) => bitrix24ConfigSchema.parse({ webhookUrl: 'https://acme.bitrix24.ru/rest/1/abc123/', applicationToken });

describe('bitrix24 webhook', () => {
  it('verifies the portal application token and parses the event', async () => {
    const sent = await sandbox.emitContactEvent(capture.url, 'ONCRMCONTACTUPDATE', 42);
    expect(sent.status).toBe(200);
    const request = capture.received.at(-1) as WebhookRequest;
    expect(request.rawBody).toBe(sent.body);
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.rawBody).toContain('auth%5Bapplication_token%5D=app-token-0123456789');

    expect(webhook.verify(request, configWith('app-token-0123456789'))).toBe(true);
    const ts = Number(new URLSearchParams(request.rawBody).get('ts'));
    expect(webhook.parse(request, configWith('app-token-0123456789'))).toEqual([
      { eventId: `ONCRMCONTACTUPDATE:42:${ts}`, kind: 'contact.updated', externalId: '42', occurredAt: new Date(ts * 1000).toISOString() },
    ]);
  });

  it('refuses a wrong, missing or unconfigured token and a forged body', async () => {
    await sandbox.emitContactEvent(capture.url, 'ONCRMCONTACTADD', 7);
    const request = capture.received.at(-1) as WebhookRequest;
    expect(webhook.verify(request, configWith('someone-elses-token'))).toBe(false);
    expect(webhook.verify(request, configWith(undefined))).toBe(false);
    const forged = { ...request, rawBody: request.rawBody.replace(/auth%5Bapplication_token%5D=[^&]*/, 'auth%5Bapplication_token%5D=guess') };
    expect(webhook.verify(forged, configWith('app-token-0123456789'))).toBe(false);
    const unsigned = { ...request, rawBody: 'event=ONCRMCONTACTADD&data%5BFIELDS%5D%5BID%5D=7' };
    expect(webhook.verify(unsigned, configWith('app-token-0123456789'))).toBe(false);
    expect(webhook.parse(request, configWith('app-token-0123456789'))[0]).toMatchObject({ kind: 'contact.created', externalId: '7' });
  });

  it('reads the same event sent as JSON and refuses an event without a record id', () => {
    const json: WebhookRequest = {
      headers: { 'content-type': 'application/json' },
      rawBody: JSON.stringify({ event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: '9' } }, ts: '1724697689', auth: { application_token: 'app-token-0123456789' } }),
      query: {},
    };
    expect(webhook.verify(json, configWith('app-token-0123456789'))).toBe(true);
    expect(webhook.parse(json, configWith('app-token-0123456789'))).toEqual([
      { eventId: 'ONCRMDEALUPDATE:9:1724697689', kind: 'deal.updated', externalId: '9', occurredAt: '2024-08-26T18:41:29.000Z' },
    ]);
    expect(() => webhook.parse({ ...json, rawBody: 'event=ONCRMCONTACTADD' }, configWith())).toThrow(/without "event" or "data\[FIELDS\]\[ID\]"/);
  });
});
