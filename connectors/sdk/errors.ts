// How a CRM failed, in the terms retry decisions need, and the one function
// that decides whether and when to retry.

/**
 * - rejected: the CRM refused this request (4xx other than 429, constraint
 *   violations, a version conflict); retrying the same request cannot help;
 * - throttled: the CRM asked us to slow down; retry after `retryAfterMs`;
 * - unavailable: down, timing out or answering garbage; retry with backoff.
 */
export type CrmFailureKind = 'rejected' | 'throttled' | 'unavailable';

export class CrmError extends Error {
  constructor(
    readonly kind: CrmFailureKind,
    message: string,
    readonly details: { retryAfterMs?: number; status?: number; code?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CrmError';
  }

  get retryAfterMs(): number | undefined {
    return this.details.retryAfterMs;
  }
}

/** Another writer changed the record since `expectedVersion`: re-read and merge, never overwrite. */
export class VersionConflictError extends CrmError {
  constructor(
    message: string,
    readonly currentVersion?: string,
  ) {
    super('rejected', message, { code: 'VERSION_CONFLICT' });
    this.name = 'VersionConflictError';
  }
}

export interface RetryDecision {
  retry: boolean;
  reason: string;
  /** Exact wait the CRM asked for, when it did. */
  waitMs?: number;
}

export function decideRetry(error: unknown): RetryDecision {
  if (error instanceof CrmError) {
    switch (error.kind) {
      case 'rejected':
        return { retry: false, reason: error.message };
      case 'throttled':
        return { retry: true, reason: error.message, ...(error.retryAfterMs !== undefined ? { waitMs: error.retryAfterMs } : {}) };
      case 'unavailable':
        return { retry: true, reason: error.message };
    }
  }
  // Unknown errors are bugs or infrastructure; Temporal retries them with backoff.
  return { retry: true, reason: error instanceof Error ? error.message : String(error) };
}
