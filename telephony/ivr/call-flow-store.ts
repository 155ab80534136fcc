/**
 * ACD queues and IVR menus of a project in PostgreSQL (table call_flows), validated on the way
 * in: an IVR menu may only name queues and pbx trunks that exist, and a queue or trunk an IVR
 * menu uses cannot be removed from under it.
 */
import type { Db, Prisma } from '../../core/db/client.js';
import { queueConfigSchema, type QueueConfig } from '../acd/queue-config.js';
import { parseConfigInput, TelephonyConfigError } from '../config-errors.js';
import { externalReferences, ivrMenuSchema, type IvrMenu } from './menu.js';

export type CallFlowKind = 'queue' | 'ivr';

export class CallFlowStore {
  constructor(private readonly db: Db) {}

  async putQueue(projectId: string, name: string, input: unknown): Promise<{ queue: QueueConfig; created: boolean }> {
    const queue = parseConfigInput(queueConfigSchema, { ...asObject(input), name }, 'queue configuration');
    const created = await this.upsert(projectId, 'queue', name, queue);
    return { queue, created };
  }

  async putIvr(projectId: string, name: string, input: unknown): Promise<{ menu: IvrMenu; created: boolean }> {
    const menu = parseConfigInput(ivrMenuSchema, { ...asObject(input), name }, 'IVR menu');
    const [queues, trunks] = await Promise.all([
      this.db.callFlow.findMany({ where: { projectId, kind: 'queue' }, select: { name: true } }),
      this.db.trunk.findMany({ where: { projectId }, select: { name: true, kind: true } }),
    ]);
    const queueNames = new Set(queues.map((queue) => queue.name));
    const errors = externalReferences(menu).flatMap((ref) => {
      const field = ref.path.join('.');
      if (ref.kind === 'queue' && !queueNames.has(ref.name)) return [{ field, message: `queue "${ref.name}" does not exist` }];
      if (ref.kind === 'trunk') {
        const trunk = trunks.find((candidate) => candidate.name === ref.name);
        if (trunk === undefined) return [{ field, message: `trunk "${ref.name}" does not exist` }];
        if (trunk.kind !== 'pbx') return [{ field, message: `trunk "${ref.name}" is a ${trunk.kind} trunk; transfers go through a pbx trunk` }];
      }
      return [];
    });
    if (errors.length > 0) throw new TelephonyConfigError(422, 'The IVR menu names queues or trunks that do not exist.', errors);
    const created = await this.upsert(projectId, 'ivr', name, menu);
    return { menu, created };
  }

  async list(projectId: string, kind: CallFlowKind): Promise<unknown[]> {
    const rows = await this.db.callFlow.findMany({ where: { projectId, kind }, orderBy: { name: 'asc' } });
    return rows.map((row) => row.definition);
  }

  async get(projectId: string, kind: CallFlowKind, name: string): Promise<unknown> {
    const row = await this.db.callFlow.findUnique({ where: { projectId_kind_name: { projectId, kind, name } } });
    if (row === null) throw new TelephonyConfigError(404, `No ${kind === 'ivr' ? 'IVR menu' : 'queue'} "${name}" in this project.`);
    return row.definition;
  }

  async remove(projectId: string, kind: CallFlowKind, name: string): Promise<void> {
    if (kind === 'queue') {
      const users = await this.menusUsing(projectId, 'queue', name);
      if (users.length > 0) {
        throw new TelephonyConfigError(409, `Queue "${name}" is used by IVR menu(s) ${users.join(', ')}; change them first.`, [{ field: 'name', message: 'in use' }]);
      }
    }
    const { count } = await this.db.callFlow.deleteMany({ where: { projectId, kind, name } });
    if (count === 0) throw new TelephonyConfigError(404, `No ${kind === 'ivr' ? 'IVR menu' : 'queue'} "${name}" in this project.`);
  }

  /** IVR menus that name this queue or trunk. */
  async menusUsing(projectId: string, kind: 'queue' | 'trunk', name: string): Promise<string[]> {
    const rows = await this.db.callFlow.findMany({ where: { projectId, kind: 'ivr' }, orderBy: { name: 'asc' } });
    return rows
      .filter((row) => externalReferences(row.definition as IvrMenu).some((ref) => ref.kind === kind && ref.name === name))
      .map((row) => row.name);
  }

  private async upsert(projectId: string, kind: CallFlowKind, name: string, definition: object): Promise<boolean> {
    const json = definition as Prisma.InputJsonValue;
    const existing = await this.db.callFlow.findUnique({ where: { projectId_kind_name: { projectId, kind, name } }, select: { id: true } });
    // upsert, not create: two PUTs of the same name at once both succeed, the last one wins.
    await this.db.callFlow.upsert({
      where: { projectId_kind_name: { projectId, kind, name } },
      create: { projectId, kind, name, definition: json },
      update: { definition: json },
    });
    return existing === null;
  }
}

function asObject(input: unknown): Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
}
