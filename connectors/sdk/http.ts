// The HTTP client a REST connector receives. Every request goes through the
// instance's limiter; the CRM's answers are classified here, once, into data,
// "slow down", "refused" or "unavailable", so connector code holds no sleeps,
// no retry loops and no status-code guessing.
import { CrmError } from './errors.js';
import type { RequestLimiter } from './limits/types.js';
import { readPath, type ProviderFacts } from './provider.js';
import { nodeTransport, type Transport, type TransportResponse } from './transport.js';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Relative to the base URL ("crm.contact.add", "/crm/v3/objects/contacts"). */
  path: string;
  query?: Record<string, string | number | boolean | undefined> | undefined;
  json?: unknown;
  headers?: Record<string, string> | undefined;
  /** Weight in the limiter when the CRM counts one request as several (default 1). */
  weight?: number | undefined;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface CrmHttpClient {
  request<T = unknown>(request: HttpRequest): Promise<HttpResponse<T>>;
}

export interface HttpClientOptions {
  baseUrl: string;
  provider: ProviderFacts;
  /** Secret used per `provider.auth` (token, API key); absent for `none` and `url` auth. */
  credential?: string | undefined;
  limiter: RequestLimiter;
  /** Times a throttled request is queued again before the caller gets CrmError('throttled'). */
  maxThrottleRetries?: number;
  /** How requests are sent (default: node:http over keep-alive agents, see transport.ts). */
  transport?: Transport;
}

const bodyExcerptLength = 200;

export function createCrmHttpClient(options: HttpClientOptions): CrmHttpClient {
  const { provider, limiter } = options;
  const send = options.transport ?? nodeTransport;
  const maxThrottleRetries = options.maxThrottleRetries ?? 5;
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;

  function buildUrl(request: HttpRequest): URL {
    const url = new URL(request.path.replace(/^\//, ''), base);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    if (provider.auth.mode === 'query' && options.credential) url.searchParams.set(provider.auth.param, options.credential);
    return url;
  }

  function buildHeaders(request: HttpRequest): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
    if (request.json !== undefined) headers['content-type'] = 'application/json';
    if (provider.auth.mode === 'bearer' && options.credential) headers.authorization = `Bearer ${options.credential}`;
    if (provider.auth.mode === 'header' && options.credential) headers[provider.auth.header] = options.credential;
    return headers;
  }

  async function attempt<T>(request: HttpRequest): Promise<HttpResponse<T> | { throttled: number | undefined }> {
    const url = buildUrl(request);
    // Messages name the relative path only: base URLs and query strings may carry credentials.
    const where = `${request.method} ${request.path}`;
    let response: TransportResponse;
    try {
      response = await send(url, {
        method: request.method,
        headers: buildHeaders(request),
        body: request.json === undefined ? undefined : JSON.stringify(request.json),
        timeoutMs: provider.timeoutMs,
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new CrmError(
        'unavailable',
        timedOut
          ? `${where}: no answer within ${provider.timeoutMs} ms`
          : `${where}: ${describeNetworkError(error)}`,
        { cause: error },
      );
    }

    const { text } = response;
    limiter.onRateLimitHeaders(rateLimitHeaders(response.headers, provider));
    const body = parseBody(text, response.headers.get('content-type'));
    const code = body.json ? stringAt(body.value, provider.errors.codePath) : undefined;
    const retryAfterMs = parseRetryAfter(response.headers.get(provider.rateLimit.retryAfterHeader));

    if (provider.rateLimit.throttleStatuses.includes(response.status) || (code !== undefined && provider.rateLimit.throttleErrorCodes.includes(code))) {
      limiter.onThrottled({ retryAfterMs });
      return { throttled: retryAfterMs };
    }
    if (response.status >= 200 && response.status < 300) {
      if (!body.json && text.trim() !== '') {
        throw new CrmError('unavailable', `${where}: answered ${response.status} with a body that is not JSON: ${excerpt(text)}`, {
          status: response.status,
        });
      }
      limiter.onSuccess();
      return { status: response.status, headers: response.headers, body: (body.json ? body.value : undefined) as T };
    }
    const message = crmMessage(body, provider) ?? (`${response.status} ${response.statusText}`.trim() + (text ? `: ${excerpt(text)}` : ''));
    if (response.status >= 500 || response.status === 408) {
      throw new CrmError('unavailable', `${where}: CRM error ${response.status}: ${message}`, { status: response.status, ...(code ? { code } : {}) });
    }
    throw new CrmError('rejected', `${where}: CRM refused (${response.status}): ${message}`, { status: response.status, ...(code ? { code } : {}) });
  }

  return {
    async request<T>(request: HttpRequest): Promise<HttpResponse<T>> {
      let lastRetryAfter: number | undefined;
      for (let throttles = 0; throttles <= maxThrottleRetries; throttles += 1) {
        const outcome = await limiter.schedule(() => attempt<T>(request), { weight: request.weight ?? 1 });
        if (!('throttled' in outcome)) return outcome;
        lastRetryAfter = outcome.throttled;
      }
      throw new CrmError('throttled', `${request.method} ${request.path}: CRM kept answering "too many requests"`, {
        ...(lastRetryAfter !== undefined ? { retryAfterMs: lastRetryAfter } : {}),
      });
    },
  };
}

/** Retry-After is seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function rateLimitHeaders(headers: Headers, provider: ProviderFacts) {
  const numberOf = (name: string | undefined) => {
    if (!name) return undefined;
    const raw = headers.get(name);
    if (raw === null) return undefined;
    const value = Number(raw);
    return Number.isFinite(value) ? value : undefined;
  };
  const reset = numberOf(provider.rateLimit.resetHeader);
  return {
    limit: numberOf(provider.rateLimit.limitHeader),
    remaining: numberOf(provider.rateLimit.remainingHeader),
    resetMs: reset === undefined ? undefined : provider.rateLimit.resetUnit === 'seconds' ? reset * 1000 : reset,
  };
}

type ParsedBody = { json: true; value: unknown } | { json: false; text: string };

function parseBody(text: string, contentType: string | null): ParsedBody {
  const looksJson = /json/i.test(contentType ?? '') || /^\s*[{[]/.test(text);
  if (!looksJson || text.trim() === '') return { json: false, text };
  try {
    return { json: true, value: JSON.parse(text) };
  } catch {
    // A CRM that says JSON and sends something else is answering garbage; the caller reports the excerpt.
    return { json: false, text };
  }
}

function crmMessage(body: ParsedBody, provider: ProviderFacts): string | undefined {
  if (!body.json) return undefined;
  const message = stringAt(body.value, provider.errors.messagePath);
  const code = stringAt(body.value, provider.errors.codePath);
  if (message && code) return `${code}: ${message}`;
  return message ?? code;
}

function stringAt(value: unknown, path: string): string | undefined {
  const found = readPath(value, path);
  return typeof found === 'string' || typeof found === 'number' ? String(found) : undefined;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > bodyExcerptLength ? `${flat.slice(0, bodyExcerptLength)}...` : flat;
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return error instanceof Error ? error.message : String(error);
}
