// Every connector the hub knows, by id, and the live instances built from the
// project's connector_instances rows (one pool per instance, reused by activities).
import { sqlCrm } from './sql-crm/connector.js';
import type { ConnectorDefinition, ConnectorOperations } from './sdk/index.js';

export const connectorDefinitions: ReadonlyMap<string, ConnectorDefinition> = new Map(
  [sqlCrm].map((definition) => [definition.id, definition as ConnectorDefinition]),
);

export class UnknownConnectorError extends Error {}

export interface ConnectorInstanceRecord {
  id: string;
  kind: string;
  name: string;
  config: unknown;
}

export class ConnectorPool {
  private readonly live = new Map<string, { configJson: string; operations: ConnectorOperations }>();

  constructor(private readonly definitions: ReadonlyMap<string, ConnectorDefinition> = connectorDefinitions) {}

  /** The instance's operations; rebuilt when its configuration changed. */
  async get(instance: ConnectorInstanceRecord): Promise<ConnectorOperations> {
    const configJson = JSON.stringify(instance.config);
    const cached = this.live.get(instance.id);
    if (cached && cached.configJson === configJson) return cached.operations;
    if (cached) await cached.operations.close();
    const definition = this.definitions.get(instance.kind);
    if (!definition) throw new UnknownConnectorError(`no connector "${instance.kind}" is installed`);
    const config = definition.configSchema.parse(instance.config);
    const operations = definition.create(config);
    this.live.set(instance.id, { configJson, operations });
    return operations;
  }

  async closeAll(): Promise<void> {
    const all = [...this.live.values()];
    this.live.clear();
    await Promise.all(all.map((entry) => entry.operations.close()));
  }
}
