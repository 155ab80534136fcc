// What journey activities read about a project on every task and CRM change: its
// connector instances, survivorship rules and default phone region. Cached per
// project in the worker, since reading them was a third of a journey's queries.
// A change made through the API is announced with NOTIFY in its own transaction
// and drops the entry in every listening worker at once; the short TTL bounds
// staleness when a notification is lost (listener reconnecting) or a row is
// changed by hand.
import { listenToChannel } from '../db/notifications.js';
import type { Db, Prisma } from '../db/client.js';
import type { Logger } from '../logger.js';
import type { OutboxTx } from '../outbox/dispatcher.js';
import { ProjectNotFoundError } from '../reconcile/project-rules.js';
import { rulesFromProject } from '../reconcile/rules.js';
import type { ReconcileRules } from '../reconcile/types.js';

/** The channel the API notifies with the project id when a project's connectors or rules change. */
export const PROJECT_SETTINGS_CHANNEL = 'hub_project_settings';

export type ConnectorInstanceRow = Prisma.ConnectorInstanceGetPayload<object>;

export interface ProjectSettings {
  /** Primary first, then oldest first: the default tie-break order of reconciliation. */
  instances: ConnectorInstanceRow[];
  /** The rules reconciliation runs with (defaults when none or invalid ones are stored). */
  rules: ReconcileRules;
  defaultRegion: string;
}

/** Tells every worker's cache that the project's settings changed; call it in the changing transaction. */
export async function announceProjectSettingsChanged(db: Db | OutboxTx, projectId: string): Promise<void> {
  await db.$executeRaw`SELECT pg_notify(${PROJECT_SETTINGS_CHANNEL}, ${projectId})`;
}

export interface ProjectSettingsCacheOptions {
  /** Longest a cached entry is used without a notification; 0 turns caching off. */
  ttlMs?: number;
  now?: () => number;
}

export class ProjectSettingsCache {
  private readonly entries = new Map<string, { loadedAt: number; settings: Promise<ProjectSettings> }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    options: ProjectSettingsCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  get(projectId: string): Promise<ProjectSettings> {
    const cached = this.entries.get(projectId);
    if (cached && this.now() - cached.loadedAt < this.ttlMs) return cached.settings;
    const settings = this.load(projectId);
    // Concurrent activities of one project share one read; a failed read is not kept.
    if (this.ttlMs > 0) this.entries.set(projectId, { loadedAt: this.now(), settings });
    settings.catch(() => {
      if (this.entries.get(projectId)?.settings === settings) this.entries.delete(projectId);
    });
    return settings;
  }

  /** Forgets one project's settings, or all when no project is named. */
  invalidate(projectId?: string): void {
    if (projectId === undefined) this.entries.clear();
    else this.entries.delete(projectId);
  }

  /**
   * Listens for change notifications until the returned function is called. A lost
   * connection forgets everything (notifications may have been missed) and
   * reconnects after a pause; meanwhile the TTL still bounds staleness.
   */
  listen(databaseUrl: string, logger: Logger, retryMs = 1_000): () => Promise<void> {
    return listenToChannel(
      databaseUrl,
      PROJECT_SETTINGS_CHANNEL,
      {
        onNotification: (projectId) => this.invalidate(projectId),
        // Changes made before LISTEN took effect were not heard, nor those made while reconnecting.
        onListening: () => this.invalidate(),
        onLost: () => this.invalidate(),
      },
      logger,
      'project settings',
      retryMs,
    );
  }

  private async load(projectId: string): Promise<ProjectSettings> {
    const project = await this.db.project.findUnique({
      where: { id: projectId },
      select: {
        defaultRegion: true,
        reconciliation: true,
        connectorInstances: { orderBy: [{ isPrimary: 'desc' }, { createdAt: 'asc' }, { id: 'asc' }] },
      },
    });
    if (!project) throw new ProjectNotFoundError(`No project ${projectId}.`);
    const instances = project.connectorInstances;
    return { instances, rules: rulesFromProject(project.reconciliation, instances.map((instance) => instance.id)), defaultRegion: project.defaultRegion };
  }
}
