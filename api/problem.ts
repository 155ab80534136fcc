// Every error the API returns is application/problem+json (RFC 9457) with the
// failing fields in `errors`. Handlers throw ProblemError; app.onError renders it.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { isDatabaseUnavailable } from '../core/db/unavailable.js';
import { fieldErrorsFrom, type FieldError } from '../core/validation.js';

export type { FieldError };

export class ProblemError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
    this.name = 'ProblemError';
  }
}

export function validationProblem(errors: FieldError[], detail = 'The request has invalid fields.'): ProblemError {
  return new ProblemError(422, 'Invalid request', detail, errors);
}

const typeBase = 'https://contact-hub.dev/problems/';

export function renderProblem(c: Context, problem: ProblemError): Response {
  const body = {
    type: `${typeBase}${problem.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`,
    title: problem.title,
    status: problem.status,
    ...(problem.detail ? { detail: problem.detail } : {}),
    ...(problem.errors ? { errors: problem.errors } : {}),
    instance: c.req.path,
  };
  return new Response(JSON.stringify(body), {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', ...problem.headers },
  });
}

/** Turns anything thrown into a problem; unknown errors become a logged 500 with no internals leaked. */
export function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof z.ZodError) return validationProblem(fieldErrorsFrom(error));
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    // Hono's body parser raises this for bodies that are not JSON.
    if (/malformed json/i.test(error.message)) {
      return new ProblemError(400, 'Malformed JSON', 'The request body is not valid JSON.', [
        { field: '(body)', message: error.message },
      ]);
    }
    // The OpenAPI validator's answer to a body whose media type a route does not declare.
    if (status === 415) {
      return new ProblemError(415, 'Unsupported media type', 'Send the body as JSON.', [{ field: 'header.content-type', message: 'expected application/json' }]);
    }
    return new ProblemError(status, error.message || 'HTTP error');
  }
  // Nothing was kept: the client keeps the request and sends it again once the database is back.
  if (isDatabaseUnavailable(error)) {
    return new ProblemError(503, 'Database unavailable', 'The hub cannot reach its database; nothing was stored. Try again.', undefined, { 'retry-after': '5' });
  }
  return new ProblemError(500, 'Internal error', 'Something failed inside the hub; it has been logged.');
}
