// Edges of HTTP itself against the real API: bodies that are not JSON (or not UTF-8), query
// numbers written in other notations, and requests Node's parser refuses before the app sees
// them. Each is a 4xx problem+json naming what is wrong, and nothing is stored.
import { once } from 'node:events';
import { connect } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerClientErrors } from '../api/client-errors.js';
import { startTestHub, type TestHub } from './support/hub.js';

let hub: TestHub;
let server: ServerType;
let port: number;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  server = serve({ fetch: hub.app.fetch, hostname: '127.0.0.1', port: 0 });
  answerClientErrors(server);
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  await hub?.close();
});

const task = JSON.stringify({ phone: '+14155552671', name: 'Ada' });
// A string body makes fetch add text/plain itself: bytes go without a Content-Type.
const post = (path: string, body: string, contentType?: string) =>
  hub.request(path, { method: 'POST', body: contentType === undefined ? new TextEncoder().encode(body) : body, headers: contentType === undefined ? {} : { 'content-type': contentType } });

/** Sends raw bytes and reads the whole answer (the server closes the connection). */
async function rawExchange(request: string): Promise<{ statusLine: string; headers: string; body: string }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(request);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'close');
  const text = Buffer.concat(chunks).toString('utf8');
  const [head = '', body = ''] = text.split('\r\n\r\n', 2);
  const [statusLine = '', ...headers] = head.split('\r\n');
  return { statusLine, headers: headers.join('\n').toLowerCase(), body };
}

describe('request bodies are JSON in UTF-8', () => {
  it('a task sent as text, a form, with no Content-Type or in another charset is a 415 naming the header, and nothing is stored', async () => {
    const before = await hub.db.task.count({ where: { projectId: hub.projectId } });
    for (const [contentType, message] of [
      ['text/plain', '"text/plain" is not application/json'],
      ['application/x-www-form-urlencoded', '"application/x-www-form-urlencoded" is not application/json'],
      [undefined, 'missing: expected application/json'],
      ['application/json; charset=latin1', 'charset "latin1": JSON is UTF-8'],
    ] as const) {
      const response = await post('/v1/tasks', task, contentType);
      expect(response.status, contentType).toBe(415);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(((await response.json()) as { errors: unknown[] }).errors).toEqual([{ field: 'header.content-type', message }]);
    }
    expect(await hub.db.task.count({ where: { projectId: hub.projectId } })).toBe(before);
  });

  it('takes application/json with a UTF-8 charset, in any case, and +json media types', async () => {
    expect((await post('/v1/tasks', task, 'Application/JSON; Charset="UTF-8"')).status).toBe(202);
    expect((await post('/v1/tasks', task, 'application/vnd.hub+json')).status).toBe(202);
  });

  it('the same on routes the OpenAPI validator reads, and a body-less action needs no Content-Type', async () => {
    const rules = await post('/v1/reconciliation', '{}', 'text/plain');
    expect(rules.status).toBe(415);
    const callback = await post('/v1/callbacks', '{"phone":"+14155552671"}', 'text/csv');
    expect(callback.status).toBe(415);
    expect(((await callback.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe('header.content-type');
    // No body, no header: the route answers for itself (here, no such campaign).
    const pause = await hub.request('/v1/campaigns/none/pause', { method: 'POST' });
    expect(pause.status).not.toBe(415);
  });
});

describe('query numbers', () => {
  it('a page size in hex, exponent or with a fraction is a 422 naming query.limit; decimal digits pass', async () => {
    for (const limit of ['0x10', '1e1', '16.0', '%2016', '-1', '0']) {
      const response = await hub.request(`/v1/conflicts?limit=${limit}`);
      expect(response.status, limit).toBe(422);
      expect(((await response.json()) as { errors: { field: string }[] }).errors[0]?.field).toBe('query.limit');
    }
    expect((await hub.request('/v1/conflicts?limit=16')).status).toBe(200);
    expect((await hub.request('/v1/contacts/links?limit=0x10')).status).toBe(422);
  });
});

describe("requests Node's parser refuses", () => {
  it('an unknown method is a 501 problem', async () => {
    const answer = await rawExchange('BREW /v1/tasks HTTP/1.1\r\nHost: hub\r\n\r\n');
    expect(answer.statusLine).toBe('HTTP/1.1 501 Not Implemented');
    expect(answer.headers).toContain('content-type: application/problem+json');
    expect(JSON.parse(answer.body)).toMatchObject({ status: 501, title: 'Method not implemented' });
  });

  it('headers past 16 KB are a 431 problem', async () => {
    const answer = await rawExchange(`GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(JSON.parse(answer.body)).toMatchObject({ status: 431, detail: 'The request line and headers may hold at most 16 KB.' });
  });

  it('a header line that is not a header is a 400 problem', async () => {
    const answer = await rawExchange('GET /healthz HTTP/1.1\r\nHost: hub\r\nnot a header\r\n\r\n');
    expect(answer.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(answer.body)).toMatchObject({ status: 400, title: 'Malformed HTTP request' });
  });
});
