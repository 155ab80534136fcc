// A connector is data (id, configuration schema, provider facts, declared
// limits) plus a `create` function that turns a context into operations.
// `defineConnector` only types it; the registry validates it at boot.
import type { z } from 'zod';
import type { ReadCache } from './cache.js';
import type { CrmHttpClient } from './http.js';
import type { DeclaredLimits, RequestLimiter } from './limits/types.js';
import type { ProviderFactsInput } from './provider.js';
import type { ConnectorOperations, WebhookHandler } from './types.js';

export interface ConnectorContext<Config> {
  /** The connector instance's id (stable; limits are shared per instance). */
  instanceId: string;
  config: Config;
  /** Rate-limited, classifying HTTP client (REST connectors: those with `provider`). */
  http: CrmHttpClient;
  /** The instance's limiter, for transports other than HTTP (the SQL client takes it). */
  limiter: RequestLimiter;
  cache: ReadCache;
}

export interface ConnectorDefinition<Schema extends z.ZodType = z.ZodType> {
  /** Registry id, e.g. "bitrix24", "sql-crm". */
  id: string;
  title: string;
  description?: string;
  /** Configuration and credentials of one instance; invalid config is refused when the instance is created. */
  configSchema: Schema;
  /** Top-level config keys holding credentials: encrypted at rest, never returned by the API. */
  secrets?: readonly string[];
  /** REST CRMs: what the API is like. Validated at boot. */
  provider?: ProviderFactsInput;
  /** Per-customer base URL (e.g. the customer's portal); defaults to `provider.baseUrl`. */
  baseUrl?: (config: z.output<Schema>) => string;
  /** The credential used by `provider.auth` (token, API key). */
  credential?: (config: z.output<Schema>) => string | undefined;
  /** What the CRM documents; adaptive limiting learns the rest. */
  limits?: DeclaredLimits | ((config: z.output<Schema>) => DeclaredLimits);
  create(context: ConnectorContext<z.output<Schema>>): ConnectorOperations;
  /**
   * For connectors with `listChangedContacts` whose configuration may rule polling out:
   * what is missing (a config field and why), so switching polling on is refused with a 422
   * instead of a poller that can only fail. Undefined: this configuration can be polled.
   */
  pollingProblem?(config: z.output<Schema>): { field: string; message: string } | undefined;
  webhook?: WebhookHandler<z.output<Schema>>;
}

export function defineConnector<Schema extends z.ZodType>(definition: ConnectorDefinition<Schema>): ConnectorDefinition<Schema> {
  return definition;
}
