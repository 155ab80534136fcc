// The connector SDK: everything a connector author imports.
export { defineConnector, type ConnectorContext, type ConnectorDefinition } from './define.js';
export { CrmError, VersionConflictError, decideRetry, type CrmFailureKind, type RetryDecision } from './errors.js';
export { createCrmHttpClient, parseRetryAfter, type CrmHttpClient, type HttpRequest, type HttpResponse } from './http.js';
export { providerFactsSchema, type ProviderFacts, type ProviderFactsInput } from './provider.js';
export { ReadCache } from './cache.js';
export { agentOfOwner, ownerOfAgent, responsibleAgentsSchema, type ResponsibleAgents } from './responsible-agents.js';
export {
  classifySqlError,
  createCrmSqlClient,
  isUniqueViolation,
  sqlIdentifier,
  sqlTableName,
  type CrmSqlClient,
  type SqlDialect,
} from './sql.js';
export type { DeclaredLimits, RequestLimiter, LimiterSnapshot } from './limits/types.js';
export type * from './types.js';
