// Live connector instances: one per connector_instances row, built from its
// configuration and decrypted credentials, with its own limiter, HTTP client
// and read cache. Rebuilt when the row changes; closed on shutdown.
import { ReadCache } from './sdk/cache.js';
import type { ConnectorDefinition } from './sdk/define.js';
import { createCrmHttpClient, type CrmHttpClient } from './sdk/http.js';
import { createRequestLimiter } from './sdk/limits/limiter.js';
import type { DeclaredLimits, RequestLimiter } from './sdk/limits/types.js';
import type { ConnectorOperations } from './sdk/types.js';
import type { ConnectorRegistry } from './registry.js';
import type { SecretBox } from '../core/secrets/secret-box.js';

export interface ConnectorInstanceRecord {
  id: string;
  kind: string;
  name: string;
  config: unknown;
  secrets: string | null;
  limits: unknown;
  updatedAt: Date;
}

export class ConnectorUnavailableError extends Error {}

interface LiveInstance {
  stamp: string;
  operations: ConnectorOperations;
  limiter: RequestLimiter;
  cache: ReadCache;
}

export interface ConnectorRuntimeOptions {
  registry: ConnectorRegistry;
  secretBox?: SecretBox | undefined;
  /** Limits are shared across worker processes through Redis when set. */
  redisUrl?: string | undefined;
  cacheTtlMs?: number;
}

export class ConnectorRuntime {
  private readonly live = new Map<string, LiveInstance>();

  constructor(private readonly options: ConnectorRuntimeOptions) {}

  /** Configuration and credentials of an instance, merged and validated. */
  resolveConfig(instance: ConnectorInstanceRecord): { definition: ConnectorDefinition; config: unknown } {
    const registered = this.options.registry.get(instance.kind);
    if (!registered) throw new ConnectorUnavailableError(`no connector "${instance.kind}" is installed`);
    let secrets: Record<string, unknown> = {};
    if (instance.secrets) {
      if (!this.options.secretBox) throw new ConnectorUnavailableError('CONNECTOR_SECRET_KEY is not configured; cannot open connector credentials');
      secrets = this.options.secretBox.open(instance.secrets, instance.id) as Record<string, unknown>;
    }
    const parsed = registered.definition.configSchema.safeParse({ ...(instance.config as object), ...secrets });
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => `config.${issue.path.join('.')}: ${issue.message}`).join('; ');
      throw new ConnectorUnavailableError(`connector "${instance.name}" has invalid configuration: ${issues}`);
    }
    return { definition: registered.definition, config: parsed.data };
  }

  async get(instance: ConnectorInstanceRecord): Promise<ConnectorOperations> {
    const stamp = instance.updatedAt.toISOString();
    const current = this.live.get(instance.id);
    if (current?.stamp === stamp) return current.operations;
    if (current) await this.retire(instance.id, current);

    const { definition, config } = this.resolveConfig(instance);
    const declared = typeof definition.limits === 'function' ? definition.limits(config) : definition.limits;
    const override = instance.limits as DeclaredLimits | null;
    const limits: DeclaredLimits = { ...declared, ...override };
    // A rate set for this instance without its own bucket does not keep the connector's (sized for its rate).
    if (override?.requests && override.burst === undefined) delete limits.burst;
    // Learning an undocumented limit needs "slow down" answers; SQL CRMs never give
    // them, so they run at their declared limits (concurrency, quota) only.
    const provider = this.options.registry.get(definition.id)?.provider;
    const limiter = createRequestLimiter({ key: `crm:${instance.id}`, limits, redisUrl: this.options.redisUrl, adaptive: provider !== undefined });
    const http = this.httpClient(instance, definition, config, limiter);
    const cache = new ReadCache(this.options.cacheTtlMs ?? 5_000);
    const operations = definition.create({ instanceId: instance.id, config, http, limiter, cache });
    this.live.set(instance.id, { stamp, operations, limiter, cache });
    return operations;
  }

  private httpClient(instance: ConnectorInstanceRecord, definition: ConnectorDefinition, config: unknown, limiter: RequestLimiter): CrmHttpClient {
    const provider = this.options.registry.get(definition.id)?.provider;
    if (!provider) {
      return {
        request: () => Promise.reject(new ConnectorUnavailableError(`connector "${instance.name}" (${definition.id}) has no HTTP provider facts`)),
      };
    }
    const baseUrl = definition.baseUrl?.(config) ?? provider.baseUrl;
    if (!baseUrl) throw new ConnectorUnavailableError(`connector "${instance.name}" has no base URL`);
    return createCrmHttpClient({ baseUrl, provider, credential: definition.credential?.(config), limiter });
  }

  /** Forgets cached reads of an instance: a CRM said its record changed, the next read must see it. */
  forgetReads(instanceId: string): void {
    this.live.get(instanceId)?.cache.invalidate();
  }

  private async retire(id: string, instance: LiveInstance): Promise<void> {
    this.live.delete(id);
    await Promise.allSettled([instance.operations.close(), instance.limiter.close()]);
  }

  async closeAll(): Promise<void> {
    const all = [...this.live.entries()];
    await Promise.all(all.map(([id, instance]) => this.retire(id, instance)));
  }
}
