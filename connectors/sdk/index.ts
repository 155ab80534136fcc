// The contract between the hub and a CRM. A connector is data (its id and the
// zod schema of its configuration) plus functions; `defineConnector` only types it.
// Workflows never see connectors: activities call them and map CrmError to Temporal.
import type { z } from 'zod';

export interface ContactInput {
  /** E.164. */
  phone: string;
  name?: string | undefined;
  email?: string | undefined;
  /** Free-form fields the CRM keeps with the record (application number, address...). */
  fields: Record<string, unknown>;
}

export interface CrmContact {
  externalId: string;
  phone: string;
  name: string | null;
  email: string | null;
  fields: Record<string, unknown>;
}

export interface UpsertResult {
  externalId: string;
  created: boolean;
}

export interface ConnectorOperations {
  /** Idempotent: the same contact twice gives one record. */
  upsertContact(contact: ContactInput): Promise<UpsertResult>;
  findContactsByPhone(phone: string): Promise<CrmContact[]>;
  /** Releases pools and sockets. */
  close(): Promise<void>;
}

export interface ConnectorDefinition<Schema extends z.ZodType = z.ZodType> {
  id: string;
  title: string;
  configSchema: Schema;
  create(config: z.infer<Schema>): ConnectorOperations;
}

export function defineConnector<Schema extends z.ZodType>(
  definition: ConnectorDefinition<Schema>,
): ConnectorDefinition<Schema> {
  return definition;
}

/**
 * How a CRM failed, in the terms retry decisions need:
 * - rejected: the CRM refused this request (4xx other than 429); retrying cannot help;
 * - throttled: the CRM asked us to slow down; retry after `retryAfterMs` when given;
 * - unavailable: down, timing out or answering garbage; retry with backoff.
 */
export type CrmFailureKind = 'rejected' | 'throttled' | 'unavailable';

export class CrmError extends Error {
  constructor(
    readonly kind: CrmFailureKind,
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CrmError';
  }
}
