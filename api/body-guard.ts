// Request bodies the hub could parse but not keep: a NUL character or an unpaired surrogate
// in any string (PostgreSQL refuses the first, and neither is text), or nesting deep enough to
// exhaust a recursive validator. Refused with a 422 naming the field before any route reads
// the body, whatever the route's schema (free-form fields included). Webhooks check their
// bodies in the receiver, which answers CRMs in their own terms.
import type { MiddlewareHandler } from 'hono';
import { unstorableValue } from '../core/validation.js';
import { validationProblem } from './problem.js';

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

/** Bodies that are not JSON are left to the route, which says why. */
function parseOrUndefined(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
