import type { z } from 'zod';

export interface FieldError {
  /** Dotted path into the request, e.g. "tasks.3.phone". */
  field: string;
  message: string;
}

export function fieldErrorsFrom(error: z.ZodError, prefix: (string | number)[] = []): FieldError[] {
  return error.issues.map((issue) => ({
    field: [...prefix, ...issue.path].map(String).join('.') || '(body)',
    message: issue.message,
  }));
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID as PostgreSQL's uuid type reads it: an id that is not one names nothing, and must not reach a `::uuid` cast. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
