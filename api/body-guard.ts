// Request bodies the hub could parse but not keep: a NUL character or an unpaired surrogate
// in any string (PostgreSQL refuses the first, and neither is text), or nesting deep enough to
// exhaust a recursive validator. Refused with a 422 naming the field before any route reads
// the body, whatever the route's schema (free-form fields included). Webhooks check their
// bodies in the receiver, which answers CRMs in their own terms.
import type { MiddlewareHandler } from 'hono';
import { unstorableValue, type FieldError } from '../core/validation.js';
import { ProblemError, validationProblem } from './problem.js';

const methodsWithBodies = new Set(['POST', 'PUT', 'PATCH']);

export function rejectUnstorableBodies(): MiddlewareHandler {
  return async (c, next) => {
    if (methodsWithBodies.has(c.req.method)) {
      // Read once: the routes' parsers reuse Hono's cached body.
      const text = await c.req.text();
      const parsed = parseOrUndefined(text);
      const problem = parsed === undefined ? undefined : unstorableValue(parsed);
      if (problem) throw validationProblem([problem], `The body cannot be stored: ${problem.field} ${problem.message}.`);
    }
    await next();
  };
}

/**
 * Every body the API takes is JSON (RFC 8259: UTF-8). A body sent as anything else is a 415
 * naming the header, on every route: `POST /v1/tasks`, which reads its body itself to accept a
 * batch's good rows, read a form or a CSV as JSON and answered with whatever that made of it,
 * and a `charset` other than UTF-8 was decoded as UTF-8 anyway. Requests without a body (an
 * action such as pausing a campaign) need no Content-Type.
 */
export function requireJsonBodies(): MiddlewareHandler {
  return async (c, next) => {
    if (methodsWithBodies.has(c.req.method) && (await c.req.text()) !== '') {
      const problem = jsonContentTypeProblem(c.req.header('content-type'));
      if (problem) throw new ProblemError(415, 'Unsupported media type', `Send the body as JSON: ${problem.message}.`, [problem]);
    }
    await next();
  };
}

const jsonMediaType = /^application\/(?:[\w.-]+\+)?json$/;

/** Why a Content-Type is not JSON in UTF-8, or undefined when it is. */
export function jsonContentTypeProblem(contentType: string | undefined): FieldError | undefined {
  const field = 'header.content-type';
  if (contentType === undefined || contentType.trim() === '') return { field, message: 'missing: expected application/json' };
  const [mediaType = '', ...parameters] = contentType.split(';').map((part) => part.trim());
  if (!jsonMediaType.test(mediaType.toLowerCase())) return { field, message: `${JSON.stringify(mediaType)} is not application/json` };
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=', 2).map((part) => part.trim());
    if (name.toLowerCase() !== 'charset') continue;
    const charset = value.replace(/^"(.*)"$/, '$1').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return { field, message: `charset ${JSON.stringify(value)}: JSON is UTF-8` };
  }
  return undefined;
}

/** Bodies that are not JSON are left to the route, which says why. */
function parseOrUndefined(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
