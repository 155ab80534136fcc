/**
 * Inbound numbers: which project answers a dialled number and where its callers go (an IVR menu
 * or straight into a queue). Stored with the project's queues and menus (call_flows, kind
 * "inbound", named by the number's digits). A number belongs to one project only: the telephony
 * process picks the project by the number a carrier sends in the Request-URI.
 */
import { z } from 'zod';
import type { Db, Prisma } from '../../core/db/client.js';
import { parseConfigInput, TelephonyConfigError } from '../config-errors.js';

/** The dialled number as digits only: "+49 30 1234-5" and "4930 12345" are the same number. */
export function numberKey(dialled: string): string {
  return dialled.replace(/^sip:/, '').replace(/@.*$/, '').replace(/\D/g, '');
}

export const inboundNumberNamePattern = /^[0-9]{3,20}$/;

export const inboundRouteSchema = z
  .object({
    /** An IVR menu of the project (needs media: rtpengine). */
    ivr: z.string().min(1).optional(),
    /** A queue of the project: callers are answered and queued at once. */
    queue: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((route, ctx) => {
    if ((route.ivr === undefined) === (route.queue === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['ivr'], message: 'give exactly one of "ivr" or "queue"' });
    }
  });

export type InboundRoute = z.output<typeof inboundRouteSchema>;

export interface InboundNumber {
  number: string;
  route: InboundRoute;
}

export class InboundNumberStore {
  constructor(private readonly db: Db) {}

  async put(projectId: string, number: string, input: unknown): Promise<{ value: InboundNumber; created: boolean }> {
    if (!inboundNumberNamePattern.test(number)) {
      throw new TelephonyConfigError(422, 'The number is invalid.', [{ field: 'path.name', message: 'digits only, 3 to 20 of them (E.164 without "+")' }]);
    }
    const route = parseConfigInput(inboundRouteSchema, input, 'inbound route');
    const [kind, name] = route.ivr !== undefined ? (['ivr', route.ivr] as const) : (['queue', route.queue as string] as const);
    const target = await this.db.callFlow.findUnique({ where: { projectId_kind_name: { projectId, kind, name } }, select: { id: true } });
    if (target === null) {
      throw new TelephonyConfigError(422, `The inbound route names a ${kind === 'ivr' ? 'IVR menu' : 'queue'} that does not exist.`, [
        { field: kind, message: `${kind === 'ivr' ? 'IVR menu' : 'queue'} "${name}" does not exist` },
      ]);
    }
    const elsewhere = await this.db.callFlow.findFirst({ where: { kind: 'inbound', name: number, projectId: { not: projectId } }, select: { id: true } });
    if (elsewhere !== null) {
      throw new TelephonyConfigError(409, `Number ${number} is routed by another project.`, [{ field: 'path.name', message: 'taken by another project' }]);
    }
    const definition = route as Prisma.InputJsonValue;
    const existing = await this.db.callFlow.findUnique({ where: { projectId_kind_name: { projectId, kind: 'inbound', name: number } }, select: { id: true } });
    await this.db.callFlow.upsert({
      where: { projectId_kind_name: { projectId, kind: 'inbound', name: number } },
      create: { projectId, kind: 'inbound', name: number, definition },
      update: { definition },
    });
    return { value: { number, route }, created: existing === null };
  }

  async list(projectId: string): Promise<InboundNumber[]> {
    const rows = await this.db.callFlow.findMany({ where: { projectId, kind: 'inbound' }, orderBy: { name: 'asc' } });
    return rows.map((row) => ({ number: row.name, route: row.definition as InboundRoute }));
  }

  async get(projectId: string, number: string): Promise<InboundNumber> {
    const row = await this.db.callFlow.findUnique({ where: { projectId_kind_name: { projectId, kind: 'inbound', name: number } } });
    if (row === null) throw new TelephonyConfigError(404, `No inbound number ${number} in this project.`);
    return { number: row.name, route: row.definition as InboundRoute };
  }

  async remove(projectId: string, number: string): Promise<void> {
    const { count } = await this.db.callFlow.deleteMany({ where: { projectId, kind: 'inbound', name: number } });
    if (count === 0) throw new TelephonyConfigError(404, `No inbound number ${number} in this project.`);
  }

  /** Numbers that send callers to this queue or IVR menu. */
  async numbersUsing(projectId: string, kind: 'queue' | 'ivr', name: string): Promise<string[]> {
    const rows = await this.db.callFlow.findMany({ where: { projectId, kind: 'inbound' }, orderBy: { name: 'asc' } });
    return rows.filter((row) => (row.definition as InboundRoute)[kind] === name).map((row) => row.name);
  }
}
