// Connector instances per project: configuration validated by the connector's
// own schema at creation (a bad config is a 422 naming the field, not a crash
// at first use), credentials sealed at rest and never returned.
import { z } from 'zod';
import type { ConnectorRegistry } from '../../connectors/registry.js';
import type { ConnectorDefinition } from '../../connectors/sdk/define.js';
import type { Db, Prisma } from '../db/client.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { pollingSettingsSchema, pollingView, savePollingSettings, stopPollingOf, type PollingView } from '../polling/settings.js';
import { fieldErrorsFrom, type FieldError } from '../validation.js';
import { announceProjectSettingsChanged } from './project-settings.js';

export const declaredLimitsSchema = z
  .object({
    requests: z.object({ count: z.number().int().min(1), windowMs: z.number().int().min(10) }).strict().optional(),
    concurrency: z.number().int().min(1).max(1000).optional(),
    dailyQuota: z.number().int().min(1).optional(),
    /** A bucket on top of `requests`: this many at once, refilled at the `requests` rate. */
    burst: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((limits, context) => {
    if (limits.burst === undefined) return;
    if (!limits.requests) context.addIssue({ code: 'custom', path: ['burst'], message: 'needs requests (the rate that refills the bucket)' });
    else if (limits.burst < limits.requests.count) context.addIssue({ code: 'custom', path: ['burst'], message: 'must be at least requests.count' });
  });

export const instanceInputSchema = z
  .object({
    kind: z.string().min(1),
    name: z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/, 'letters, digits, space, . _ - (1-63)'),
    config: z.record(z.string(), z.unknown()),
    isPrimary: z.boolean().default(false),
    limits: declaredLimitsSchema.nullable().optional(),
    /** Poll the CRM for changes (CRMs without webhooks); null or absent: no polling. */
    polling: pollingSettingsSchema.nullable().optional(),
  })
  .strict();

// Spelled out rather than .partial(): zod keeps isPrimary's default(false) in a partial
// schema, so a patch that leaves isPrimary out would demote the primary CRM.
export const instancePatchSchema = z
  .object({
    name: instanceInputSchema.shape.name.optional(),
    config: z.record(z.string(), z.unknown()).optional(),
    isPrimary: z.boolean().optional(),
    limits: declaredLimitsSchema.nullable().optional(),
    /** Settings replace the poller's (its checkpoint stays); null removes polling and its checkpoint. */
    polling: pollingSettingsSchema.nullable().optional(),
  })
  .strict();

export class InstanceValidationError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((error) => `${error.field}: ${error.message}`).join('; '));
  }
}
export class InstanceConflictError extends Error {}
export class InstanceNotFoundError extends Error {}

export interface InstanceView {
  id: string;
  kind: string;
  name: string;
  isPrimary: boolean;
  config: Record<string, unknown>;
  /** Which credentials are set; their values never leave the hub. */
  secrets: Record<string, 'set'>;
  limits: unknown;
  polling: PollingView | null;
  createdAt: string;
  updatedAt: string;
}

type InstanceRow = Prisma.ConnectorInstanceGetPayload<object>;
type InstanceWithPoller = Prisma.ConnectorInstanceGetPayload<{ include: { poller: true } }>;
const withPoller = { poller: true } as const;

export class ConnectorInstances {
  constructor(
    private readonly db: Db,
    private readonly registry: ConnectorRegistry,
    private readonly secretBox: SecretBox | undefined,
  ) {}

  async create(projectId: string, input: unknown): Promise<InstanceView> {
    const parsed = parseOrThrow(instanceInputSchema, input);
    const registered = this.registry.get(parsed.kind);
    if (!registered) {
      throw new InstanceValidationError([{ field: 'kind', message: `no connector "${parsed.kind}"; installed: ${[...this.registry.keys()].join(', ')}` }]);
    }
    const config = parseOrThrow(registered.definition.configSchema, parsed.config, ['config']) as Record<string, unknown>;
    if (parsed.polling?.enabled) refuseUnpollable(registered.definition, config);
    const id = crypto.randomUUID();
    const { plain, sealed } = this.split(id, registered.definition.secrets ?? [], config);
    try {
      const row = await this.db.$transaction(async (tx) => {
        if (parsed.isPrimary) await tx.connectorInstance.updateMany({ where: { projectId, isPrimary: true }, data: { isPrimary: false } });
        await announceProjectSettingsChanged(tx, projectId);
        const created = await tx.connectorInstance.create({
          data: {
            id,
            projectId,
            kind: parsed.kind,
            name: parsed.name,
            config: plain as Prisma.InputJsonValue,
            secrets: sealed,
            limits: (parsed.limits ?? undefined) as Prisma.InputJsonValue | undefined,
            isPrimary: parsed.isPrimary,
          },
        });
        await savePollingSettings(tx, { projectId, connectorInstanceId: id }, parsed.polling);
        return tx.connectorInstance.findUniqueOrThrow({ where: { id: created.id }, include: withPoller });
      });
      return this.view(row);
    } catch (error) {
      if ((error as { code?: string }).code === 'P2002') throw new InstanceConflictError(`a connector named "${parsed.name}" exists in this project`);
      throw error;
    }
  }

  async update(projectId: string, id: string, input: unknown): Promise<InstanceView> {
    const patch = parseOrThrow(instancePatchSchema, input);
    const row = await this.find(projectId, id);
    const registered = this.registry.get(row.kind);
    if (!registered) throw new InstanceValidationError([{ field: 'kind', message: `connector "${row.kind}" is no longer installed` }]);
    const secretKeys = registered.definition.secrets ?? [];
    // A patch replaces the keys it names; credentials it leaves out stay as they were.
    const current = { ...(row.config as Record<string, unknown>), ...(row.secrets && this.secretBox ? (this.secretBox.open(row.secrets, row.id) as object) : {}) };
    const config = patch.config
      ? (parseOrThrow(registered.definition.configSchema, { ...current, ...patch.config }, ['config']) as Record<string, unknown>)
      : current;
    const polling = patch.polling === undefined ? await this.db.connectorPoller.findUnique({ where: { connectorInstanceId: id } }) : patch.polling;
    if (polling?.enabled) refuseUnpollable(registered.definition, config);
    const { plain, sealed } = this.split(row.id, secretKeys, config);
    const updated = await this.db.$transaction(async (tx) => {
      if (patch.isPrimary) await tx.connectorInstance.updateMany({ where: { projectId, isPrimary: true, id: { not: id } }, data: { isPrimary: false } });
      await savePollingSettings(tx, { projectId, connectorInstanceId: id }, patch.polling);
      // Delivered at commit: workers drop their cached copy of the project's connectors.
      await announceProjectSettingsChanged(tx, projectId);
      return tx.connectorInstance.update({
        include: withPoller,
        where: { id },
        data: {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.isPrimary !== undefined ? { isPrimary: patch.isPrimary } : {}),
          ...(patch.limits !== undefined ? { limits: (patch.limits ?? null) as Prisma.InputJsonValue } : {}),
          config: plain as Prisma.InputJsonValue,
          secrets: sealed,
        },
      });
    });
    return this.view(updated);
  }

  async list(projectId: string): Promise<InstanceView[]> {
    const rows = await this.db.connectorInstance.findMany({ where: { projectId }, orderBy: { createdAt: 'asc' }, include: withPoller });
    return rows.map((row) => this.view(row));
  }

  async get(projectId: string, id: string): Promise<InstanceView> {
    const row = await this.db.connectorInstance.findFirst({ where: { projectId, id }, include: withPoller });
    if (!row) throw new InstanceNotFoundError(`no connector ${id} in this project`);
    return this.view(row);
  }

  async remove(projectId: string, id: string): Promise<void> {
    await this.db.$transaction(async (tx) => {
      // The poller row goes with the instance; its workflow is stopped through the outbox.
      await stopPollingOf(tx, { projectId, connectorInstanceId: id });
      const deleted = await tx.connectorInstance.deleteMany({ where: { projectId, id } });
      if (deleted.count === 0) throw new InstanceNotFoundError(`no connector ${id} in this project`);
      await announceProjectSettingsChanged(tx, projectId);
    });
  }

  async find(projectId: string, id: string): Promise<InstanceRow> {
    const row = await this.db.connectorInstance.findFirst({ where: { projectId, id } });
    if (!row) throw new InstanceNotFoundError(`no connector ${id} in this project`);
    return row;
  }

  private split(id: string, secretKeys: readonly string[], config: Record<string, unknown>): { plain: Record<string, unknown>; sealed: string | null } {
    const plain: Record<string, unknown> = {};
    const secret: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) (secretKeys.includes(key) ? secret : plain)[key] = value;
    if (Object.keys(secret).length === 0) return { plain, sealed: null };
    if (!this.secretBox) {
      throw new InstanceValidationError([{ field: 'config', message: 'the hub has no CONNECTOR_SECRET_KEY, so it cannot store credentials' }]);
    }
    return { plain, sealed: this.secretBox.seal(secret, id) };
  }

  private view(row: InstanceWithPoller): InstanceView {
    const secretKeys = this.registry.get(row.kind)?.definition.secrets ?? [];
    return {
      id: row.id,
      kind: row.kind,
      name: row.name,
      isPrimary: row.isPrimary,
      config: row.config as Record<string, unknown>,
      secrets: row.secrets ? Object.fromEntries(secretKeys.map((key) => [key, 'set' as const])) : {},
      limits: row.limits ?? null,
      polling: pollingView(row.poller),
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  }
}

/** Polling switched on for a configuration the connector says cannot be polled: a 422 naming what is missing. */
function refuseUnpollable(definition: ConnectorDefinition, config: Record<string, unknown>): void {
  const problem = definition.pollingProblem?.(config);
  if (problem) throw new InstanceValidationError([{ field: `config.${problem.field}`, message: problem.message }]);
}

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, prefix: string[] = []): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InstanceValidationError(fieldErrorsFrom(parsed.error, prefix));
  return parsed.data;
}
