// Bitrix24 calls over the SDK's HTTP client. The client already applies limits,
// classifies statuses and throttling; this layer adds what is Bitrix-specific:
// the `{ result, total, next }` envelope (a 200 without it is garbage, not data)
// and `batch`, whose sub-call errors arrive inside a 200 as `result_error` and are
// turned into one CrmError per call here.
import { CrmError, type CrmFailureKind } from '../sdk/errors.js';
import type { CrmHttpClient } from '../sdk/http.js';
import { buildPhpQuery } from './php-query.js';

export const maxBatchCalls = 50;

export interface BitrixCall {
  method: string;
  params: Record<string, unknown>;
}

export interface BitrixAnswer<T = unknown> {
  result: T;
  total?: number | undefined;
  next?: number | undefined;
}

export interface BatchAnswer {
  results: Record<string, unknown>;
  errors: Record<string, CrmError>;
  totals: Record<string, number>;
}

// Codes that mean "not now" rather than "never" when they come back inside a batch
// (system errors table: 503 QUERY_LIMIT_EXCEEDED, 429 OPERATION_TIME_LIMIT, 500s).
const subCallFailureKinds: Record<string, CrmFailureKind> = {
  QUERY_LIMIT_EXCEEDED: 'throttled',
  OPERATION_TIME_LIMIT: 'throttled',
  INTERNAL_SERVER_ERROR: 'unavailable',
  ERROR_UNEXPECTED_ANSWER: 'unavailable',
};

export class BitrixClient {
  private readonly secretPath: string | undefined;

  /** `webhookUrl`: its secret is cut out of error messages (they reach logs, Temporal and the API). */
  constructor(
    private readonly http: CrmHttpClient,
    webhookUrl?: string,
  ) {
    this.secretPath = webhookUrl === undefined ? undefined : new URL(webhookUrl).pathname.replace(/\/?$/, '/');
  }

  async call<T = unknown>(method: string, params: Record<string, unknown>): Promise<BitrixAnswer<T>> {
    let response;
    try {
      response = await this.http.request<unknown>({ method: 'POST', path: `${method}.json`, json: params });
    } catch (error) {
      throw this.redact(error);
    }
    return envelope<T>(method, response.body);
  }

  /** The SDK's messages name the request path, which for a webhook URL holds its secret code. */
  private redact(error: unknown): unknown {
    const secretPath = this.secretPath;
    if (!(error instanceof CrmError) || secretPath === undefined || !error.message.includes(secretPath)) return error;
    const visible = secretPath.replace(/\/[^/]+\/$/, '/<webhook secret>/');
    return new CrmError(error.kind, error.message.replaceAll(secretPath, visible), error.details);
  }

  /** One request for up to 50 calls; `halt` stops the portal at the first failing call. */
  async batch(calls: Record<string, BitrixCall>, options: { halt?: boolean } = {}): Promise<BatchAnswer> {
    const entries = Object.entries(calls);
    if (entries.length === 0) return { results: {}, errors: {}, totals: {} };
    if (entries.length > maxBatchCalls) throw new RangeError(`a Bitrix24 batch carries at most ${maxBatchCalls} calls, got ${entries.length}`);
    const cmd = Object.fromEntries(entries.map(([key, call]) => [key, `${call.method}?${buildPhpQuery(call.params)}`]));
    const answer = await this.call<unknown>('batch', { halt: options.halt ? 1 : 0, cmd });
    const body = answer.result;
    if (body === null || typeof body !== 'object' || !('result' in body)) throw garbage('batch', body);
    const inner = body as Record<string, unknown>;
    const errors: Record<string, CrmError> = {};
    for (const [key, raw] of Object.entries(phpMap(inner.result_error))) {
      errors[key] = subCallError(calls[key]?.method ?? key, raw);
    }
    const totals = Object.fromEntries(Object.entries(phpMap(inner.result_total)).map(([key, value]) => [key, Number(value)]));
    return { results: phpMap(inner.result), errors, totals };
  }
}

function envelope<T>(method: string, body: unknown): BitrixAnswer<T> {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !('result' in body)) throw garbage(method, body);
  const { result, total, next } = body as { result: T; total?: unknown; next?: unknown };
  return { result, total: typeof total === 'number' ? total : undefined, next: typeof next === 'number' ? next : undefined };
}

function garbage(method: string, body: unknown): CrmError {
  const text = JSON.stringify(body) ?? String(body);
  return new CrmError('unavailable', `Bitrix24 ${method}: answered 200 without a result envelope: ${text.slice(0, 200)}`);
}

/** PHP prints an empty map as []; a list under numeric keys is still keyed by cmd key. */
function phpMap(value: unknown): Record<string, unknown> {
  if (Array.isArray(value)) return Object.fromEntries(value.map((item, index) => [String(index), item]));
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

function subCallError(method: string, raw: unknown): CrmError {
  const fields = (raw ?? {}) as { error?: unknown; error_description?: unknown };
  const code = typeof fields.error === 'string' ? fields.error : '';
  const description = typeof fields.error_description === 'string' ? fields.error_description : '';
  const kind = subCallFailureKinds[code] ?? 'rejected';
  const words = [code, description].filter((part) => part !== '').join(': ') || 'no reason given';
  const verb = kind === 'rejected' ? 'CRM refused' : 'CRM failed';
  return new CrmError(kind, `Bitrix24 ${method} (in batch): ${verb}: ${words}`, code ? { code } : {});
}

/** The error for a call the batch answered neither with a result nor an error (it halted before it). */
/** One sub-call's answer in a batch: its error thrown as is, or an error when the batch halted before it. */
export function resultOf(answer: BatchAnswer, key: string, method: string): unknown {
  const error = answer.errors[key];
  if (error) throw error;
  if (!(key in answer.results)) throw notExecuted(method);
  return answer.results[key];
}

export function notExecuted(method: string): CrmError {
  return new CrmError('unavailable', `Bitrix24 ${method} (in batch): not executed`);
}
