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
