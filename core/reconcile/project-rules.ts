// A project's survivorship rules in the database (`Project.reconciliation`):
// read, validated against the project's connector instances, saved, and turned
// into the rules a journey runs.
import { announceProjectSettingsChanged } from '../connectors/project-settings.js';
import type { Db, Prisma } from '../db/client.js';
import { fieldErrorsFrom, type FieldError } from '../validation.js';
import { reconcileRulesSchema, rulesFromProject, sourceReferenceErrors, type RulesFromProjectOptions, type StoredReconcileRules } from './rules.js';
import type { ReconcileRules } from './types.js';

/** A connector instance as reconciliation sees it. */
export interface ReconcileSource {
  id: string;
  name: string;
  kind: string;
  isPrimary: boolean;
  legacy: boolean;
}

export interface ProjectRulesView {
  /** The stored rules with their defaults filled in. */
  rules: StoredReconcileRules;
  /** The project's connector instances, primary first: the ids rules may name. */
  sources: ReconcileSource[];
  /** Present when the stored JSON is not valid rules: why, and `rules` are the defaults in force instead. */
  storedErrors?: FieldError[];
}

export class RulesValidationError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((error) => `${error.field}: ${error.message}`).join('; '));
  }
}
export class ProjectNotFoundError extends Error {}

export class ProjectReconciliation {
  constructor(private readonly db: Db) {}

  async get(projectId: string): Promise<ProjectRulesView> {
    const stored = await this.stored(projectId);
    const parsed = reconcileRulesSchema.safeParse(stored);
    if (parsed.success) return { rules: parsed.data, sources: await this.sources(projectId, parsed.data.legacySources) };
    // Saved rules passed validation, so this is a hand edit. Journeys run the
    // defaults then (rulesFromProject), so that is what is shown, with the reasons.
    const rules = reconcileRulesSchema.parse({});
    return { rules, sources: await this.sources(projectId, []), storedErrors: fieldErrorsFrom(parsed.error) };
  }

  /** Validates the rules (shape, then every source they name) and saves them. */
  async put(projectId: string, input: unknown): Promise<ProjectRulesView> {
    const parsed = reconcileRulesSchema.safeParse(input);
    if (!parsed.success) throw new RulesValidationError(fieldErrorsFrom(parsed.error));
    const sources = await this.sources(projectId, parsed.data.legacySources);
    const errors = sourceReferenceErrors(parsed.data, sources.map((source) => source.id));
    if (errors.length > 0) throw new RulesValidationError(errors);
    await this.db.project.update({ where: { id: projectId }, data: { reconciliation: parsed.data as Prisma.InputJsonValue } });
    await announceProjectSettingsChanged(this.db, projectId);
    return { rules: parsed.data, sources };
  }

  /** The rules to reconcile a contact of the project with (see rulesFromProject). */
  async effective(projectId: string, options: RulesFromProjectOptions = {}): Promise<ReconcileRules> {
    const stored = await this.stored(projectId);
    const sources = await this.sources(projectId, []);
    return rulesFromProject(stored, sources.map((source) => source.id), options);
  }

  /** The project's connector instances, primary first, then oldest first: the default tie-break order. */
  async sources(projectId: string, legacySources: readonly string[]): Promise<ReconcileSource[]> {
    const rows = await this.db.connectorInstance.findMany({
      where: { projectId },
      select: { id: true, name: true, kind: true, isPrimary: true },
      orderBy: [{ isPrimary: 'desc' }, { createdAt: 'asc' }, { id: 'asc' }],
    });
    return rows.map((row) => ({ ...row, legacy: legacySources.includes(row.id) }));
  }

  private async stored(projectId: string): Promise<unknown> {
    const project = await this.db.project.findUnique({ where: { id: projectId }, select: { reconciliation: true } });
    if (!project) throw new ProjectNotFoundError(`No project ${projectId}.`);
    return project.reconciliation;
  }
}
