// The sandbox keeps Bitrix24's public contract: URLs, envelopes, error bodies and
// statuses, list paging, batch, duplicate search and the leaky-bucket limit.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBitrixSandbox, type BitrixSandbox } from './sandbox/index.js';

let sandbox: BitrixSandbox;

beforeAll(async () => {
  sandbox = await startBitrixSandbox({ token: 'sandboxtoken', ratePerSecond: 1000, burst: 10_000 });
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  sandbox.setLimit({ ratePerSecond: 1000, burst: 10_000 });
});

async function call(method: string, body: unknown, base = sandbox.webhookBase): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}${method}.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('Bitrix24 sandbox: webhook URLs and envelopes', () => {
  it('answers with { result, time } and refuses a wrong token or an unknown method in Bitrix24 words', async () => {
    const added = await call('crm.contact.add', { fields: { NAME: 'Ada', PHONE: [{ VALUE: '+79123456789', VALUE_TYPE: 'WORK' }] } });
    expect(added).toMatchObject({ status: 200, body: { result: 1 } });
    expect(added.body.time).toEqual(
      expect.objectContaining({ start: expect.any(Number), finish: expect.any(Number), duration: expect.any(Number), date_start: expect.stringMatching(/\+00:00$/) }),
    );

    const wrongToken = await call('crm.contact.get', { id: 1 }, sandbox.webhookBase.replace('sandboxtoken', 'stolen'));
    expect(wrongToken).toEqual({ status: 401, body: { error: 'INVALID_CREDENTIALS', error_description: 'Invalid request credentials' } });
    expect(await call('crm.contact.teleport', {})).toEqual({ status: 404, body: { error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' } });
    expect(await call('crm.contact.get', { id: 999 })).toEqual({ status: 400, body: { error: '', error_description: 'Not found' } });
  });

  it('keeps phones as multiple fields, appends on update and refuses a bad e-mail without changing anything', async () => {
    await call('crm.contact.add', { FIELDS: { NAME: 'Ivan', PHONE: [{ VALUE: '8 (912) 345-67-89', VALUE_TYPE: 'WORK' }] } });
    await call('crm.contact.update', { id: 1, fields: { PHONE: [{ VALUE: '+74951234567', VALUE_TYPE: 'HOME' }], UNKNOWN_FIELD: 'ignored' } });
    const refused = await call('crm.contact.update', { id: 1, fields: { NAME: 'Changed', EMAIL: [{ VALUE: 'not-an-address', VALUE_TYPE: 'WORK' }] } });
    expect(refused).toEqual({ status: 400, body: { error: 'ERROR_CORE', error_description: 'The field Work e-mail contains an invalid address' } });

    const { body } = await call('crm.contact.get', { id: 1 });
    const contact = body.result as Record<string, unknown>;
    expect(contact).toMatchObject({ ID: '1', NAME: 'Ivan', HAS_PHONE: 'Y', HAS_EMAIL: 'N' });
    expect(contact).not.toHaveProperty('UNKNOWN_FIELD');
    expect(contact).not.toHaveProperty('EMAIL');
    expect(contact.PHONE).toEqual([
      { ID: '1', VALUE_TYPE: 'WORK', VALUE: '8 (912) 345-67-89', TYPE_ID: 'PHONE' },
      { ID: '2', VALUE_TYPE: 'HOME', VALUE: '+74951234567', TYPE_ID: 'PHONE' },
    ]);
  });

  it('pages lists by 50 with total and next, and filters with operator prefixes', async () => {
    for (let index = 1; index <= 120; index += 1) sandbox.seed('contact', { NAME: `Client ${index}`, SOURCE_ID: index % 2 ? 'WEB' : 'CALL' });
    const first = await call('crm.contact.list', { select: ['ID', 'NAME'] });
    expect(first.body).toMatchObject({ total: 120, next: 50 });
    expect(first.body.result).toHaveLength(50);
    expect((first.body.result as { ID: string }[])[0]).toEqual({ ID: '1', NAME: 'Client 1' });
    const last = await call('crm.contact.list', { select: ['ID'], start: 100 });
    expect(last.body.result).toHaveLength(20);
    expect(last.body).not.toHaveProperty('next');

    const filtered = await call('crm.contact.list', { filter: { SOURCE_ID: 'CALL', '>=ID': 100, '%NAME': 'client 1' }, order: { ID: 'DESC' }, select: ['ID'] });
    expect((filtered.body.result as { ID: string }[]).map((row) => row.ID)).toEqual(['120', '118', '116', '114', '112', '110', '108', '106', '104', '102', '100']);
  });

  it('finds duplicates by phone digits whatever the stored spelling, [] when none', async () => {
    sandbox.seed('contact', { NAME: 'Ivan', PHONE: [{ VALUE: '8 (912) 345-67-89', VALUE_TYPE: 'WORK' }] });
    expect((await call('crm.duplicate.findbycomm', { type: 'PHONE', values: ['89123456789'], entity_type: 'CONTACT' })).body.result).toEqual({ CONTACT: [1] });
    expect((await call('crm.duplicate.findbycomm', { type: 'PHONE', values: ['+79123456789'] })).body.result).toEqual([]);
    expect(await call('crm.duplicate.findbycomm', { values: ['1'] })).toEqual({ status: 400, body: { error: '', error_description: 'Communication type is not defined.' } });
  });

  it('answers at most 20 duplicates per entity, the oldest ones, and refuses more than 20 values', async () => {
    for (let index = 0; index < 25; index += 1) sandbox.seed('contact', { NAME: `Twin ${index}`, PHONE: [{ VALUE: '+7 912 000-00-01', VALUE_TYPE: 'WORK' }] });
    const answer = await call('crm.duplicate.findbycomm', { type: 'PHONE', values: ['79120000001'], entity_type: 'CONTACT' });
    expect(answer.body.result).toEqual({ CONTACT: Array.from({ length: 20 }, (_, index) => index + 1) });
    const tooMany = await call('crm.duplicate.findbycomm', { type: 'PHONE', values: Array.from({ length: 21 }, (_, index) => `7912000${index}`) });
    expect(tooMany.status).toBe(400);
  });
});

describe('Bitrix24 sandbox: batch', () => {
  it('runs up to 50 calls as one request, reports failures per call and resolves $result references', async () => {
    const cmd: Record<string, string> = {};
    for (let index = 0; index < 48; index += 1) cmd[`add${index}`] = `crm.contact.add?fields[NAME]=Client%20${index}`;
    cmd.missing = 'crm.contact.get?id=999';
    cmd.chained = 'crm.contact.update?id=$result[add0]&fields[LAST_NAME]=Chained';
    const { status, body } = await call('batch', { halt: 0, cmd });
    expect(status).toBe(200);
    const result = body.result as Record<string, Record<string, unknown>>;
    expect(Object.keys(result.result ?? {})).toHaveLength(49);
    expect(result.result_error).toEqual({ missing: { error: '', error_description: 'Not found' } });
    expect((await call('crm.contact.get', { id: 1 })).body.result).toMatchObject({ NAME: 'Client 0', LAST_NAME: 'Chained' });

    const stats = sandbox.stats();
    expect(stats.byMethod).toEqual({ batch: 1, 'crm.contact.get': 1 });
    expect(stats.batchedCalls).toBe(50);
  });

  it('stops at the first error with halt, refuses more than 50 calls and nested batches', async () => {
    const halted = await call('batch', { halt: 1, cmd: { a: 'crm.contact.get?id=5', b: 'crm.contact.add?fields[NAME]=Never' } });
    expect(halted.body.result).toMatchObject({ result: [], result_error: { a: { error: '', error_description: 'Not found' } } });
    expect(sandbox.records('contact')).toHaveLength(0);

    const tooMany = Object.fromEntries(Array.from({ length: 51 }, (_, index) => [`c${index}`, 'crm.contact.list']));
    expect((await call('batch', { cmd: tooMany })).status).toBe(400);
    const nested = await call('batch', { cmd: { inner: 'batch?cmd[x]=crm.contact.list' } });
    expect(nested.body.result).toMatchObject({ result_error: { inner: { error: 'ERROR_BATCH_METHOD_NOT_ALLOWED' } } });
  });
});

describe('Bitrix24 sandbox: leaky bucket', () => {
  it('admits the bucket at once, answers 503 QUERY_LIMIT_EXCEEDED beyond it, then drains at the configured rate', async () => {
    // A slow drain keeps the count exact even on a busy machine: only what drains
    // while the 40 requests are in flight may be admitted beyond the bucket.
    sandbox.setLimit({ ratePerSecond: 2, burst: 20 });
    const burstStarted = performance.now();
    const answers = await Promise.all(Array.from({ length: 40 }, () => call('crm.contact.list', { select: ['ID'] })));
    const drainedDuringBurst = Math.floor((2 * (performance.now() - burstStarted)) / 1000);
    const admitted = answers.filter((answer) => answer.status === 200).length;
    const throttled = answers.filter((answer) => answer.status === 503);
    expect(admitted).toBeGreaterThanOrEqual(20);
    expect(admitted).toBeLessThanOrEqual(20 + drainedDuringBurst);
    expect(throttled).toHaveLength(40 - admitted);
    expect(throttled[0]?.body).toEqual({ error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' });

    const pauseStarted = performance.now();
    await sleep(1600);
    const later = await Promise.all(Array.from({ length: 10 }, () => call('crm.contact.list', { select: ['ID'] })));
    const drainedSince = (2 * (performance.now() - pauseStarted)) / 1000;
    const admittedLater = later.filter((answer) => answer.status === 200).length;
    expect(admittedLater).toBeGreaterThanOrEqual(3);
    expect(admittedLater).toBeLessThanOrEqual(Math.ceil(drainedSince) + 1);

    const stats = sandbox.stats();
    expect(stats).toMatchObject({ requests: 50, accepted: admitted + admittedLater, throttled: 50 - admitted - admittedLater, limit: { ratePerSecond: 2, burst: 20, hidden: false } });
  });

  it('counts a batch of 50 calls as one request', async () => {
    sandbox.setLimit({ ratePerSecond: 1, burst: 2 });
    const cmd = Object.fromEntries(Array.from({ length: 50 }, (_, index) => [`c${index}`, `crm.contact.add?fields[NAME]=N${index}`]));
    expect((await call('batch', { cmd })).status).toBe(200);
    expect((await call('batch', { cmd })).status).toBe(200);
    expect((await call('crm.contact.list', {})).status).toBe(503);
    expect(sandbox.records('contact')).toHaveLength(100);
  });
});
