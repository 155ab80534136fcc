// Bitrix24's wire shapes: the success envelope `{ result, total?, next?, time }`
// and the error body `{ error, error_description }` with the HTTP statuses the
// portal uses (https://apidocs.bitrix24.com/error-codes.html, system errors table).
// CRM method errors mostly carry an empty `error` code and the words in
// `error_description` (e.g. 400 `{"error":"","error_description":"Not found"}`).

export class BitrixMethodError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
  ) {
    super(`${code || 'error'}: ${description}`);
    this.name = 'BitrixMethodError';
  }

  body(): { error: string; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}

/** Errors the portal itself returns, whatever the method. */
export const systemErrors = {
  queryLimitExceeded: () => new BitrixMethodError(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests'),
  invalidCredentials: () => new BitrixMethodError(401, 'INVALID_CREDENTIALS', 'Invalid request credentials'),
  noAuthFound: () => new BitrixMethodError(401, 'NO_AUTH_FOUND', 'Wrong authorization data'),
  methodNotFound: () => new BitrixMethodError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!'),
  internal: () => new BitrixMethodError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'),
};

/** A CRM method's refusal: HTTP 400, empty code, the portal's words. */
export function refused(description: string, code = ''): BitrixMethodError {
  return new BitrixMethodError(400, code, description);
}

export interface MethodOutput {
  result: unknown;
  total?: number;
  next?: number;
}

export interface TimeInfo {
  start: number;
  finish: number;
  duration: number;
  processing: number;
  date_start: string;
  date_finish: string;
  operating_reset_at: number;
  operating: number;
}

/** The `time` block every answer carries; `operating` is the method's accumulated execution time. */
export function timeInfo(startedAtMs: number, finishedAtMs = Date.now()): TimeInfo {
  const start = startedAtMs / 1000;
  const finish = finishedAtMs / 1000;
  return {
    start,
    finish,
    duration: finish - start,
    processing: finish - start,
    date_start: bitrixDate(startedAtMs),
    date_finish: bitrixDate(finishedAtMs),
    // The sandbox does not model the 480 s / 10 min operating limit; it reports it as unused.
    operating_reset_at: Math.floor(start) + 600,
    operating: 0,
  };
}

/** Bitrix prints datetimes with seconds and an explicit offset: 2024-08-15T10:38:21+00:00. */
export function bitrixDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}
