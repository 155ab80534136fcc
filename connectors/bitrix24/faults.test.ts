// What the connector makes of a portal that is throttling, down, slow or answering
// garbage: every failure is a classified CrmError, never data and never a hang.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CrmError, decideRetry } from '../sdk/errors.js';
import type { CrmHttpClient } from '../sdk/http.js';
import { BitrixClient } from './bitrix-client.js';
import type { UpsertFailures } from './connector.js';
import { startBitrixSandbox, type BitrixSandbox, type FailMode } from './sandbox/index.js';
import { makeOperations, RecordingLimiter } from './test-support.js';

let sandbox: BitrixSandbox;

beforeAll(async () => {
  sandbox = await startBitrixSandbox({ ratePerSecond: 1000, burst: 10_000, slowMs: 2_000 });
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  sandbox.setLimit({ ratePerSecond: 1000, burst: 10_000 });
});

const ada = { phone: '+79123456789', name: 'Ada', fields: {} };

async function failureOf(promise: Promise<unknown>): Promise<CrmError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof CrmError)) throw new Error(`expected a CrmError, got ${String(outcome)}`);
  return outcome;
}

describe('bitrix24 under a rate limit', () => {
  it('reports 503 QUERY_LIMIT_EXCEEDED to the limiter as throttling and gives up as retryable "throttled"', async () => {
    sandbox.setLimit({ ratePerSecond: 0.1, burst: 1 });
    const limiter = new RecordingLimiter();
    const crm = makeOperations({ webhookUrl: sandbox.webhookBase }, limiter, { maxThrottleRetries: 2 });
    await crm.getContact('1');

    const failure = await failureOf(crm.getContact('2'));
    expect(failure.kind).toBe('throttled');
    expect(decideRetry(failure).retry).toBe(true);
    expect(limiter.throttles).toHaveLength(3);
    expect(sandbox.stats()).toMatchObject({ accepted: 1, throttled: 3 });
  });
});

describe('bitrix24 when the portal misbehaves', () => {
  const cases: [FailMode, RegExp][] = [
    ['html', /answered 200 with a body that is not JSON: <!DOCTYPE html>/],
    ['gateway', /CRM error 503: 503 Service Unavailable: <html>.*503 Service Temporarily Unavailable/],
    ['5xx', /CRM error 500: INTERNAL_SERVER_ERROR: Internal server error/],
    ['down', /ECONNRESET \(socket hang up\)/],
    ['slow', /no answer within 300 ms/],
  ];

  it.each(cases)('classifies "%s" as unavailable (retryable), not as data or throttling', async (mode, words) => {
    const limiter = new RecordingLimiter();
    const crm = makeOperations({ webhookUrl: sandbox.webhookBase }, limiter, { timeoutMs: 300 });
    sandbox.setFailMode(mode);
    const failure = await failureOf(crm.upsertContact(ada));
    expect(failure.kind).toBe('unavailable');
    expect(failure.message).toMatch(words);
    // The webhook URL is the credential; messages travel to logs and the API.
    expect(failure.message).toContain('POST batch.json');
    expect(failure.message).not.toContain(sandbox.webhookBase.split('/').at(-2));
    expect(decideRetry(failure).retry).toBe(true);
    expect(limiter.throttles).toHaveLength(0);

    sandbox.setFailMode(undefined);
    expect(await crm.upsertContact(ada)).toEqual({ externalId: '1', created: true });
  });

  it('fails every contact of a batch upsert as retryable while the portal errs, and the retry writes each once', async () => {
    const crm = makeOperations({ webhookUrl: sandbox.webhookBase }, new RecordingLimiter(), { timeoutMs: 300 });
    const contacts = Array.from({ length: 60 }, (_, index) => ({ phone: `+7912${1_000_000 + index}`, fields: {} }));
    sandbox.setFailMode('5xx');
    const failure = await failureOf(crm.upsertContacts?.(contacts) ?? Promise.resolve());
    expect(failure.kind).toBe('unavailable');
    expect((failure.cause as UpsertFailures).failures).toHaveLength(60);
    expect(decideRetry(failure).retry).toBe(true);

    sandbox.setFailMode(undefined);
    const results = await crm.upsertContacts?.(contacts);
    expect(results?.filter((result) => result.created)).toHaveLength(60);
    expect(await crm.upsertContacts?.(contacts)).toEqual(results?.map((result) => ({ ...result, created: false })));
    expect(sandbox.records('contact')).toHaveLength(60);
  });

  it('refuses for good when the webhook token is wrong, in Bitrix24 words', async () => {
    const crm = makeOperations({ webhookUrl: sandbox.webhookBase.replace(/\/[^/]+\/$/, '/revoked/') });
    const failure = await failureOf(crm.findContacts({ phone: '+79123456789' }));
    expect(failure).toMatchObject({ kind: 'rejected', details: { status: 401, code: 'INVALID_CREDENTIALS' } });
    expect(failure.message).toBe('POST batch.json: CRM refused (401): INVALID_CREDENTIALS: Invalid request credentials');
  });

  it('treats a 200 without the result envelope as garbage', async () => {
    const http: CrmHttpClient = { request: async <T>() => ({ status: 200, headers: new Headers(), body: { unexpected: true } as T }) };
    const failure = await failureOf(new BitrixClient(http).call('crm.contact.list', {}));
    expect(failure.kind).toBe('unavailable');
    expect(failure.message).toBe('Bitrix24 crm.contact.list: answered 200 without a result envelope: {"unexpected":true}');
  });
});
