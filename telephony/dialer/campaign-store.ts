/**
 * A project's dialer campaigns in PostgreSQL: PUT by name (idempotent), validated by
 * campaign-config.ts plus the project's own trunks, queues and region; state changes
 * (active / paused / stopped); task counts per state for the API and supervisors.
 */
import type { Db } from '../../core/db/client.js';
import { fieldErrorsFrom } from '../../core/validation.js';
import { campaignWorkflowId } from '../../workflows/campaigns/shared.js';
import { TelephonyConfigError } from '../config-errors.js';
import type { CampaignFigures } from './attempts.js';
import { campaignConfigSchema, campaignReferenceErrors, type CampaignConfig } from './campaign-config.js';

export type CampaignState = 'active' | 'paused' | 'stopped';

export interface CampaignView {
  id: string;
  name: string;
  state: CampaignState;
  /** As stored: the input form with defaults filled in (times "HH:MM"). */
  config: Record<string, unknown>;
  /** Tasks per state. */
  tasks: Record<'pending' | 'dialing' | 'previewing' | 'done' | 'failed' | 'removed', number>;
  createdAt: string;
  updatedAt: string;
}

export interface CampaignRecord {
  id: string;
  projectId: string;
  name: string;
  state: CampaignState;
  config: CampaignConfig;
}

/** Which state changes a campaign accepts: a stopped campaign dials no more, it can only be deleted or replaced. */
const transitions: Record<'pause' | 'resume' | 'stop', { from: CampaignState[]; to: CampaignState }> = {
  pause: { from: ['active'], to: 'paused' },
  resume: { from: ['paused'], to: 'active' },
  stop: { from: ['active', 'paused'], to: 'stopped' },
};
export type CampaignAction = keyof typeof transitions;

/** Outbox kind: a campaign's state change on its way to the campaign's dialer workflow. */
export const CAMPAIGN_STATE_OUTBOX_KIND = 'campaign.state';

export interface CampaignStateChange {
  projectId: string;
  campaignId: string;
  name: string;
  state: CampaignState;
}

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

async function queueStateChange(tx: Tx, change: CampaignStateChange): Promise<void> {
  await tx.outboxEntry.create({
    data: { projectId: change.projectId, kind: CAMPAIGN_STATE_OUTBOX_KIND, workflowId: campaignWorkflowId(change.projectId, change.name), payload: { ...change } },
  });
}

export class CampaignStore {
  /** `onQueued` wakes the outbox dispatcher after a state change was committed. */
  constructor(
    private readonly db: Db,
    private readonly onQueued: () => void = () => undefined,
  ) {}

  /** Creates or replaces the campaign `name`; a new campaign starts paused, a replaced one keeps its state. */
  async put(projectId: string, name: string, input: unknown): Promise<{ campaign: CampaignView; created: boolean }> {
    const parsed = campaignConfigSchema.safeParse(input);
    if (!parsed.success) throw new TelephonyConfigError(422, 'The campaign configuration is invalid.', fieldErrorsFrom(parsed.error));
    const config = parsed.data;
    const [project, trunks, queues] = await Promise.all([
      this.db.project.findUniqueOrThrow({ where: { id: projectId }, select: { defaultRegion: true } }),
      this.db.trunk.findMany({ where: { projectId }, select: { name: true } }),
      this.db.callFlow.findMany({ where: { projectId, kind: 'queue' }, select: { name: true } }),
    ]);
    const references = campaignReferenceErrors(config, {
      trunks: trunks.map((trunk) => trunk.name),
      queues: queues.map((queue) => queue.name),
      defaultRegion: project.defaultRegion,
    });
    if (references.length > 0) throw new TelephonyConfigError(422, 'The campaign refers to what this project does not have.', references);

    const stored = toJson(config);
    const existing = await this.db.campaign.findUnique({ where: { projectId_name: { projectId, name } }, select: { id: true } });
    const row = await this.db.campaign.upsert({
      where: { projectId_name: { projectId, name } },
      create: { projectId, name, config: stored },
      update: { config: stored },
    });
    return { campaign: await this.view(row), created: existing === null };
  }

  async list(projectId: string): Promise<CampaignView[]> {
    const rows = await this.db.campaign.findMany({ where: { projectId }, orderBy: { name: 'asc' } });
    return Promise.all(rows.map((row) => this.view(row)));
  }

  async get(projectId: string, name: string): Promise<CampaignView> {
    return this.view(await this.find(projectId, name));
  }

  /**
   * The live figures the dialer stored at its last tick (dial level, answer rate, abandon rate,
   * occupancy, agents and calls), with when; null before the campaign's first active tick.
   */
  async figures(projectId: string, name: string): Promise<{ name: string; state: CampaignState; at: string | null; figures: CampaignFigures | null }> {
    const row = await this.find(projectId, name);
    return { name: row.name, state: row.state, at: row.figuresAt?.toISOString() ?? null, figures: (row.figures as CampaignFigures | null) ?? null };
  }

  /** The campaign as the dialer runs it. */
  async load(projectId: string, name: string): Promise<CampaignRecord> {
    const row = await this.find(projectId, name);
    return { id: row.id, projectId: row.projectId, name: row.name, state: row.state, config: campaignConfigSchema.parse(row.config) };
  }

  /**
   * Changes the campaign's state and, in the same transaction, queues the change for the campaign's
   * dialer workflow (outbox): a resume starts it, a pause holds it, a stop ends it.
   */
  async act(projectId: string, name: string, action: CampaignAction): Promise<CampaignView> {
    const { from, to } = transitions[action];
    const count = await this.db.$transaction(async (tx) => {
      const changed = await tx.campaign.updateManyAndReturn({ where: { projectId, name, state: { in: from } }, data: { state: to }, select: { id: true } });
      for (const campaign of changed) await queueStateChange(tx, { projectId, campaignId: campaign.id, name, state: to });
      return changed.length;
    });
    if (count > 0) this.onQueued();
    const row = await this.find(projectId, name);
    if (count === 0 && row.state !== to) {
      throw new TelephonyConfigError(409, `Campaign "${name}" is ${row.state}; "${action}" applies to ${from.join(' or ')} campaigns.`, [{ field: 'action', message: `not allowed when ${row.state}` }]);
    }
    return this.view(row);
  }

  async remove(projectId: string, name: string): Promise<void> {
    const row = await this.find(projectId, name);
    if (row.state === 'active') throw new TelephonyConfigError(409, `Campaign "${name}" is active; pause or stop it first.`, [{ field: 'name', message: 'active' }]);
    await this.db.$transaction(async (tx) => {
      await tx.campaign.delete({ where: { id: row.id } });
      // A paused campaign's workflow waits for a resume that will never come: tell it to end.
      if (row.state === 'paused') await queueStateChange(tx, { projectId, campaignId: row.id, name, state: 'stopped' });
    });
    this.onQueued();
  }

  private async find(projectId: string, name: string) {
    const row = await this.db.campaign.findUnique({ where: { projectId_name: { projectId, name } } });
    if (!row) throw new TelephonyConfigError(404, `No campaign "${name}" in this project.`, [{ field: 'name', message: 'not found' }]);
    return row;
  }

  private async view(row: { id: string; name: string; state: CampaignState; config: unknown; createdAt: Date; updatedAt: Date }): Promise<CampaignView> {
    const counts = await this.db.dialerTask.groupBy({ by: ['state'], where: { campaignId: row.id }, _count: { _all: true } });
    const tasks = { pending: 0, dialing: 0, previewing: 0, done: 0, failed: 0, removed: 0 };
    for (const count of counts) tasks[count.state] = count._count._all;
    return {
      id: row.id,
      name: row.name,
      state: row.state,
      config: row.config as Record<string, unknown>,
      tasks,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  }
}

/**
 * Stored in input form (times as "HH:MM"), so re-parsing what is stored gives the same campaign and
 * the API shows what was sent.
 */
function toJson(config: CampaignConfig) {
  const clock = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
  const windows = (list: CampaignConfig['dialingWindows']) => list.map((window) => ({ days: window.days, from: clock(window.from), to: clock(window.to) }));
  return {
    ...config,
    dialingWindows: windows(config.dialingWindows),
    ...(config.workSchedule ? { workSchedule: { timeZone: config.workSchedule.timeZone, windows: windows(config.workSchedule.windows) } } : {}),
  };
}
