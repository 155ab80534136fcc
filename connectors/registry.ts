// Every connector the hub ships, validated once at boot: a connector whose
// provider facts are wrong fails here, naming the connector and the fact.
import { z } from 'zod';
import { bitrix24 } from './bitrix24/connector.js';
import { sqlCrm } from './sql-crm/connector.js';
import { providerFactsSchema, type ProviderFacts } from './sdk/provider.js';
import type { ConnectorDefinition } from './sdk/define.js';

export interface RegisteredConnector {
  definition: ConnectorDefinition;
  provider: ProviderFacts | undefined;
}

export class ConnectorDefinitionError extends Error {}

export type ConnectorRegistry = ReadonlyMap<string, RegisteredConnector>;

export function buildRegistry(definitions: readonly ConnectorDefinition[]): ConnectorRegistry {
  const registry = new Map<string, RegisteredConnector>();
  for (const definition of definitions) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(definition.id)) {
      throw new ConnectorDefinitionError(`connector id "${definition.id}": lowercase letters, digits and dashes only`);
    }
    if (registry.has(definition.id)) throw new ConnectorDefinitionError(`connector id "${definition.id}" is registered twice`);
    let provider: ProviderFacts | undefined;
    if (definition.provider) {
      const parsed = providerFactsSchema.safeParse(definition.provider);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((issue) => `provider.${issue.path.join('.')}: ${issue.message}`).join('; ');
        throw new ConnectorDefinitionError(`connector "${definition.id}" has invalid provider facts: ${issues}`);
      }
      provider = parsed.data;
      if (!provider.baseUrl && !definition.baseUrl) {
        throw new ConnectorDefinitionError(`connector "${definition.id}": provider.baseUrl or baseUrl(config) is required`);
      }
    }
    registry.set(definition.id, { definition, provider });
  }
  return registry;
}

/** The connectors this build of the hub ships. */
export const defaultConnectors: readonly ConnectorDefinition[] = [sqlCrm, bitrix24] as unknown as ConnectorDefinition[];

export function defaultRegistry(): ConnectorRegistry {
  return buildRegistry(defaultConnectors);
}

/** JSON Schema of a connector's configuration, for the API and generated docs. */
export function configJsonSchema(definition: ConnectorDefinition): unknown {
  return z.toJSONSchema(definition.configSchema, { io: 'input', unrepresentable: 'any' });
}
