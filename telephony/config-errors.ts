/**
 * Errors of telephony configuration (trunks, queues, IVR menus), with the fields they concern,
 * so the API can answer 4xx problem+json naming the field instead of a 500.
 */
import type { FieldError } from '../core/validation.js';

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
