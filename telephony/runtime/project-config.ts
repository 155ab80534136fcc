/**
 * Every project's telephony configuration as the telephony process runs it: trunks (passwords
 * opened), queues, IVR menus and inbound numbers, read from PostgreSQL and validated with the same
 * schemas as the API. A fingerprint per project tells whether its call center must be rebuilt.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../../core/db/client.js';
import type { Logger } from '../../core/logger.js';
import { queueConfigSchema, type QueueConfig } from '../acd/queue-config.js';
import { inboundRouteSchema, type InboundNumber } from '../inbound/numbers.js';
import { ivrMenuSchema, type IvrMenu } from '../ivr/menu.js';
import type { TrunkConfig } from '../trunks/config.js';
import type { TrunkStore } from '../trunks/store.js';

export interface ProjectTelephonyConfig {
  projectId: string;
  defaultRegion: string;
  trunks: TrunkConfig[];
  queues: QueueConfig[];
  menus: IvrMenu[];
  numbers: InboundNumber[];
  fingerprint: string;
}

/** Projects with any telephony configuration; rows that no longer validate are logged and left out. */
export async function loadTelephonyConfigs(db: Db, trunkStore: TrunkStore, logger: Pick<Logger, 'warn'>): Promise<Map<string, ProjectTelephonyConfig>> {
  const [flows, trunkProjects] = await Promise.all([
    db.callFlow.findMany({ orderBy: [{ projectId: 'asc' }, { kind: 'asc' }, { name: 'asc' }] }),
    db.trunk.findMany({ select: { projectId: true }, distinct: ['projectId'] }),
  ]);
  const projectIds = [...new Set([...flows.map((flow) => flow.projectId), ...trunkProjects.map((row) => row.projectId)])];
  const projects = await db.project.findMany({ where: { id: { in: projectIds } }, select: { id: true, defaultRegion: true } });
  const configs = new Map<string, ProjectTelephonyConfig>();
  for (const project of projects) {
    let trunks: TrunkConfig[] = [];
    try {
      trunks = await trunkStore.load(project.id);
    } catch (error) {
      logger.warn({ err: error, projectId: project.id }, 'telephony: the project\'s trunks cannot be read; running it without trunks');
    }
    const queues: QueueConfig[] = [];
    const menus: IvrMenu[] = [];
    const numbers: InboundNumber[] = [];
    for (const flow of flows) {
      if (flow.projectId !== project.id) continue;
      const schema = flow.kind === 'queue' ? queueConfigSchema : flow.kind === 'ivr' ? ivrMenuSchema : inboundRouteSchema;
      const parsed = schema.safeParse(flow.kind === 'inbound' ? flow.definition : { ...(flow.definition as object), name: flow.name });
      if (!parsed.success) {
        logger.warn({ projectId: project.id, kind: flow.kind, name: flow.name, issues: parsed.error.issues }, 'telephony: a stored definition does not validate; left out');
        continue;
      }
      if (flow.kind === 'queue') queues.push(parsed.data as QueueConfig);
      else if (flow.kind === 'ivr') menus.push(parsed.data as IvrMenu);
      else numbers.push({ number: flow.name, route: parsed.data as InboundNumber['route'] });
    }
    const fingerprint = createHash('sha256').update(JSON.stringify({ region: project.defaultRegion, trunks, queues, menus, numbers })).digest('hex');
    configs.set(project.id, { projectId: project.id, defaultRegion: project.defaultRegion, trunks, queues, menus, numbers, fingerprint });
  }
  return configs;
}
