// A CSV of dialer tasks through the real HTTP API: good rows stored with the agent's fields, bad rows
// reported by line, phones in several columns, a re-run adds nothing, a wrong key stops the run.
import { serve, type ServerType } from '@hono/node-server';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ImportRefusedError, importTasksFromCsv, type ImportProgress } from '../telephony/dialer/csv-import.js';
import { startTestHub, type TestHub } from './support/hub.js';

let hub: TestHub;
let server: ServerType;
let baseUrl: string;
let dir: string;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: hub.app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => resolve(info.port));
  });
  baseUrl = `http://127.0.0.1:${port}`;
  const put = async (path: string, body: unknown) => expect((await hub.request(path, { method: 'PUT', json: body })).status).toBe(201);
  await put('/v1/telephony/trunks/main', { kind: 'carrier', host: '127.0.0.1:5099', auth: { mode: 'ip' }, routes: [{ prefix: '', pricePerMinute: '0.01' }] });
  await put('/v1/telephony/queues/loans', { agents: ['alice'] });
  await put('/v1/campaigns/portal', { mode: 'progressive', trunks: ['main'], callerId: '+14155550100', queue: 'loans' });
  dir = await mkdtemp(join(tmpdir(), 'tasks-import-'));
});
afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await hub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('imports the good rows in batches, reports the bad ones by line, and adds nothing on a re-run', async () => {
  const lines = ['Application Number,Full Name,Phone,Phone 2,Application Date,Address,Time Zone'];
  for (let index = 0; index < 23; index += 1) lines.push(`A-${index},Client ${index},+1 415 555 ${String(4000 + index)},,2026-11-2${index % 10},"${index} Main St, Springfield",`);
  lines.push('A-bad,Nobody,call me maybe,,2026-11-20,Nowhere,');
  lines.push('A-two,"Two Phones",+14155554999,(212) 555-0199,2026-11-21,"Line ""quoted"" St",America/Chicago');
  lines.push('A-zone,Zone,+14155554998,,2026-11-21,Somewhere,Mars/Base');
  const file = join(dir, 'portal.csv');
  await writeFile(file, `\ufeff${lines.join('\r\n')}\r\n`);

  const seen: ImportProgress[] = [];
  const result = await importTasksFromCsv({ file, campaign: 'portal', baseUrl, apiKey: hub.apiKey, batchSize: 10, idColumn: 'Application Number', onProgress: (progress) => seen.push(progress) });
  expect(result).toMatchObject({ rowsRead: 26, rowsSent: 26, accepted: 24, duplicates: 0, rejected: 2 });
  expect(result.rejectedRows).toEqual([
    { line: 25, errors: [{ field: 'phones.0', message: expect.stringContaining('call me maybe') }] },
    { line: 27, errors: [{ field: 'timeZone', message: expect.stringContaining('IANA') }] },
  ]);
  expect(seen.map((progress) => progress.rowsSent)).toEqual([10, 20, 26, 26]);
  expect(seen.at(-1)?.bytesRead).toBe(seen.at(-1)?.bytesTotal);

  const two = await hub.db.dialerTask.findFirstOrThrow({ where: { externalId: 'A-two' } });
  expect(two).toMatchObject({
    name: 'Two Phones',
    phones: ['+14155554999', '+12125550199'],
    timeZones: ['America/Chicago'],
    fields: { application_number: 'A-two', application_date: '2026-11-21', address: 'Line "quoted" St' },
  });
  expect((await hub.db.dialerTask.findFirstOrThrow({ where: { externalId: 'A-3' } })).fields).toMatchObject({ address: '3 Main St, Springfield' });

  const again = await importTasksFromCsv({ file, campaign: 'portal', baseUrl, apiKey: hub.apiKey, idColumn: 'Application Number' });
  expect(again).toMatchObject({ accepted: 0, duplicates: 24, rejected: 2 });
  expect(await hub.db.dialerTask.count({ where: { campaign: { name: 'portal' } } })).toBe(24);
});

it('stops with the API\'s reason on a wrong key or an unknown campaign, and retries a flaky API', async () => {
  const file = join(dir, 'one.csv');
  await writeFile(file, 'phone\n+14155554321\n');
  await expect(importTasksFromCsv({ file, campaign: 'portal', baseUrl, apiKey: 'chk_wrong' })).rejects.toBeInstanceOf(ImportRefusedError);
  await expect(importTasksFromCsv({ file, campaign: 'nope', baseUrl, apiKey: hub.apiKey })).rejects.toThrow(/404/);

  let calls = 0;
  const flaky: typeof fetch = async (input, init) => {
    calls += 1;
    if (calls === 1) throw new TypeError('fetch failed: ECONNRESET');
    if (calls === 2) return new Response('bad gateway', { status: 502 });
    return fetch(input, init);
  };
  const result = await importTasksFromCsv({ file, campaign: 'portal', baseUrl, apiKey: hub.apiKey, fetch: flaky });
  expect(calls).toBe(3);
  expect(result).toMatchObject({ accepted: 1, rejected: 0 });
});
