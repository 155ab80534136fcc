// Bitrix24 sandbox: a named stand-in for a Bitrix24 cloud portal, for tests,
// benchmarks and demos. It is a real HTTP server implementing the portal's public
// REST contract as documented at https://apidocs.bitrix24.com: inbound-webhook URLs
// `/rest/<userId>/<token>/<method>.json`, the `{ result, time }` envelope,
// `{ error, error_description }` errors with the portal's statuses, the CRM
// methods the connector uses, `batch`, the leaky-bucket rate limit (503
// QUERY_LIMIT_EXCEEDED) and outbound event webhooks. It is not Bitrix24 and keeps
// its data in memory; switches simulate faults a real deployment meets.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePhpQuery } from '../php-query.js';
import { runBatch } from './batch.js';
import { LeakyBucket, standardPlanLimit, type BucketLimit } from './bucket.js';
import { BitrixMethodError, refused, systemErrors, timeInfo, type MethodOutput } from './envelope.js';
import { postEvent, type ContactEventName, type EmittedEvent } from './events.js';
import { findMethod } from './methods.js';
import { gatewayUnavailableHtml, loginPageHtml } from './pages.js';
import { Portal, type EntityKind } from './portal.js';
import type { Row } from './query.js';
import { StatsRecorder, type SandboxStats } from './stats.js';

/**
 * - down: connections are cut as soon as a request arrives (portal unreachable);
 * - gateway: a proxy's 503 HTML page;
 * - html: 200 with an HTML login page instead of JSON;
 * - slow: answers only after `slowMs` (beyond any sane client timeout);
 * - 5xx: 500 INTERNAL_SERVER_ERROR from the portal.
 */
export type FailMode = 'down' | 'gateway' | 'html' | 'slow' | '5xx';

export interface BitrixSandboxOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The inbound webhook's user id and secret code. */
  userId?: number;
  token?: string;
  /** Leaky bucket drain rate (requests/s) and size; default: the standard plan, 2/s and 50. */
  ratePerSecond?: number;
  burst?: number;
  /** Undocumented mode: the portal behaves the same; the flag only labels stats for the benchmark. */
  hideLimit?: boolean;
  /** Added to every answer. */
  latencyMs?: number;
  failMode?: FailMode;
  /** How long `slow` holds an answer (default 30 s). */
  slowMs?: number;
  /** Secret sent as auth[application_token] with outbound events. */
  applicationToken?: string;
  /** Custom fields registered on the portal. */
  userFields?: string[];
  domain?: string;
}

export interface BitrixSandbox {
  url: string;
  /** The inbound-webhook base URL, e.g. http://127.0.0.1:PORT/rest/1/<token>/ */
  webhookBase: string;
  applicationToken: string;
  stats(): SandboxStats;
  setLimit(limit: BucketLimit): void;
  setFailMode(mode: FailMode | undefined): void;
  setLatency(ms: number): void;
  /** Drops data, stats, bucket level and fault mode. */
  reset(): void;
  /** Test data written directly (not through the API, so not counted or limited). */
  seed(kind: EntityKind, fields: Row): number;
  /** A record changed directly, as a user or a robot edits it in the portal (DATE_MODIFY moves; no event is sent). */
  edit(kind: EntityKind, id: number | string, fields: Row): void;
  /** Copies of the portal's records, for assertions. */
  records(kind: EntityKind): Row[];
  /** POSTs an outbound event the way the portal does. */
  emitContactEvent(handlerUrl: string, event: ContactEventName, id: number | string): Promise<EmittedEvent>;
  close(): Promise<void>;
}

export const defaultUserFields = ['UF_CRM_APPLICATION_NUMBER', 'UF_CRM_HUB_TASK_ID', 'UF_CRM_ADDRESS'];
const maxBodyBytes = 10 * 1024 * 1024;

export async function startBitrixSandbox(options: BitrixSandboxOptions = {}): Promise<BitrixSandbox> {
  const userId = options.userId ?? 1;
  const token = options.token ?? randomBytes(8).toString('hex');
  const applicationToken = options.applicationToken ?? randomBytes(16).toString('hex');
  const portal = new Portal(options.userFields ?? defaultUserFields, userId);
  const bucket = new LeakyBucket({ ratePerSecond: options.ratePerSecond ?? standardPlanLimit.ratePerSecond, burst: options.burst ?? standardPlanLimit.burst });
  const stats = new StatsRecorder();
  const closing = new AbortController();
  // Every request held by a latency or a slow mode waits on this signal: hundreds at once under a benchmark.
  setMaxListeners(0, closing.signal);
  let failMode = options.failMode;
  let latencyMs = options.latencyMs ?? 0;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (failMode === 'down') {
      request.socket.destroy();
      return;
    }
    if (failMode === 'gateway') return send(response, 503, gatewayUnavailableHtml, 'text/html');
    if (failMode === 'html') return send(response, 200, loginPageHtml, 'text/html');
    if (failMode === '5xx') return sendError(response, systemErrors.internal());
    if (failMode === 'slow') await sleep(options.slowMs ?? 30_000, undefined, { signal: closing.signal });

    const startedAt = Date.now();
    const url = new URL(request.url ?? '/', 'http://sandbox');
    const match = /^\/rest\/(?:(\d+)\/([^/]+)\/)?([^/]+?)(?:\.json)?\/?$/.exec(url.pathname);
    if (!match) return send(response, 404, '<html><body><h1>404 Not Found</h1></body></html>', 'text/html');
    const [, pathUser, pathToken, method = ''] = match;
    if (pathUser === undefined) return sendError(response, systemErrors.noAuthFound());
    if (Number(pathUser) !== userId || pathToken !== token) return sendError(response, systemErrors.invalidCredentials());

    stats.request();
    if (!bucket.tryTake()) {
      stats.throttled();
      return sendError(response, systemErrors.queryLimitExceeded());
    }
    let output: MethodOutput;
    let calls = 0;
    try {
      const params = { ...parsePhpQuery(url.search.slice(1)), ...parseBody(await readBody(request), request.headers['content-type']) } as Row;
      if (method.toLowerCase() === 'batch') {
        const batch = runBatch(params, portal);
        output = batch;
        calls = batch.calls;
      } else {
        const handler = findMethod(method);
        if (!handler) throw systemErrors.methodNotFound();
        output = handler(params, portal);
      }
    } catch (error) {
      stats.accepted(method.toLowerCase());
      if (!(error instanceof BitrixMethodError)) throw error;
      await sleep(latencyMs, undefined, { signal: closing.signal });
      return sendError(response, error);
    }
    stats.accepted(method.toLowerCase(), calls);
    await sleep(latencyMs, undefined, { signal: closing.signal });
    const body: Record<string, unknown> = { result: output.result };
    if (output.next !== undefined) body.next = output.next;
    if (output.total !== undefined) body.total = output.total;
    body.time = timeInfo(startedAt);
    send(response, 200, JSON.stringify(body), 'application/json');
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (closing.signal.aborted) {
        response.destroy();
        return;
      }
      // A crash here is a sandbox bug: answer like the portal would, and keep it visible in stats.
      stats.internalError(error instanceof Error ? (error.stack ?? error.message) : String(error));
      if (!response.headersSent) sendError(response, systemErrors.internal());
      else response.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const domain = options.domain ?? `sandbox-${port}.bitrix24.test`;

  return {
    url,
    webhookBase: `${url}/rest/${userId}/${token}/`,
    applicationToken,
    stats: () => stats.snapshot(bucket.current, options.hideLimit ?? false),
    setLimit: (limit) => bucket.setLimit(limit),
    setFailMode: (mode) => {
      failMode = mode;
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    reset: () => {
      portal.clear();
      stats.reset();
      bucket.reset();
      failMode = undefined;
    },
    seed: (kind, fields) => portal.add(kind, fields),
    edit: (kind, id, fields) => portal.update(kind, id, fields),
    records: (kind) => structuredClone(portal.rows(kind)),
    emitContactEvent: (handlerUrl, event, id) =>
      postEvent(handlerUrl, event, id, { applicationToken, domain, memberId: `member-${port}`, clientEndpoint: `${url}/rest/`, eventHandlerId: 1 }),
    close: async () => {
      closing.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

function parseBody(text: string, contentType: string | undefined): Row {
  if (text.trim() === '') return {};
  if (/json/i.test(contentType ?? '') || /^\s*\{/.test(text)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      if (error instanceof SyntaxError) throw refused('Request body is not valid JSON.');
      throw error;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw refused('Request body must be a JSON object.');
    return parsed as Row;
  }
  return parsePhpQuery(text) as Row;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) throw refused('Request body is too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body: string, type: 'application/json' | 'text/html'): void {
  response.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

function sendError(response: ServerResponse, error: BitrixMethodError): void {
  send(response, error.status, JSON.stringify(error.body()), 'application/json');
}
