/**
 * Errors of telephony configuration (trunks, queues, IVR menus), with the fields they concern,
 * so the API can answer 4xx problem+json naming the field instead of a 500.
 */
import type { z } from 'zod';
import { fieldErrorsFrom, unknownFields, type FieldError } from '../core/validation.js';

export class TelephonyConfigError extends Error {
  constructor(
    readonly status: 404 | 409 | 422,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'TelephonyConfigError';
  }
}

/**
 * Parses a configuration given through the API: a 422 naming the failing fields, and one naming
 * fields the schema does not know (which it would drop: a misspelt setting must not be answered
 * 200 and ignored). Stored rows are read with the schema alone.
 */
export function parseConfigInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new TelephonyConfigError(422, `The ${what} is invalid.`, fieldErrorsFrom(parsed.error));
  const unknown = unknownFields(input, parsed.data);
  if (unknown.length > 0) throw new TelephonyConfigError(422, `The ${what} has fields the hub does not know.`, unknown);
  return parsed.data;
}
