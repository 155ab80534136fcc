/**
 * A project's trunks in PostgreSQL. The registration password is sealed (SecretBox, bound to the
 * row id) and never shown again; `load` opens it for the call-control runtime only.
 */
import { randomUUID } from 'node:crypto';
import { Prisma, type Db } from '../../core/db/client.js';
import type { SecretBox } from '../../core/secrets/secret-box.js';
import { parseConfigInput, TelephonyConfigError } from '../config-errors.js';
import { toTrunkInput, trunkConfigSchema, type TrunkConfig } from './config.js';

/** A trunk as the API shows it: the input form, password replaced by "set". */
export type TrunkView = Record<string, unknown> & { name: string; kind: 'carrier' | 'pbx' };

export class TrunkStore {
  constructor(
    private readonly db: Db,
    private readonly secretBox: SecretBox | undefined,
  ) {}

  /** Creates or replaces the trunk `name`. A registration trunk may omit the password to keep the stored one. */
  async put(projectId: string, name: string, input: unknown): Promise<{ trunk: TrunkView; created: boolean }> {
    const existing = await this.db.trunk.findUnique({ where: { projectId_name: { projectId, name } } });
    const candidate: Record<string, unknown> = { ...(isObject(input) ? input : {}), name };
    if (existing?.password && isObject(candidate.auth) && candidate.auth.mode === 'registration' && candidate.auth.password === undefined) {
      candidate.auth = { ...candidate.auth, password: this.open(existing.password, existing.id) };
    }
    const trunk = parseConfigInput(trunkConfigSchema, candidate, 'trunk configuration');

    const id = existing?.id ?? randomUUID();
    const password = trunk.auth.mode === 'registration' ? this.seal(trunk.auth.password, id) : null;
    const { auth, ...rest } = toTrunkInput(trunk);
    // Everything but the password is plain configuration (expiry, back-off); the password is sealed apart.
    const config = { ...rest, auth: auth.mode === 'registration' ? withoutPassword(auth) : auth };
    if (existing) {
      await this.db.trunk.update({ where: { id }, data: { kind: trunk.kind, config, password } });
    } else {
      await this.db.trunk.create({ data: { id, projectId, name, kind: trunk.kind, config, password } }).catch((error: unknown) => {
        // The password is sealed to this row's id, so a concurrent creator's row cannot simply be overwritten.
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
          throw new TelephonyConfigError(409, `Trunk "${name}" was created by another request at the same time; retry.`, [{ field: 'name', message: 'created concurrently' }]);
        }
        throw error;
      });
    }
    return { trunk: viewOf(config, password !== null), created: existing === null };
  }

  async list(projectId: string): Promise<TrunkView[]> {
    const rows = await this.db.trunk.findMany({ where: { projectId }, orderBy: { name: 'asc' } });
    return rows.map((row) => viewOf(row.config as Record<string, unknown>, row.password !== null));
  }

  async get(projectId: string, name: string): Promise<TrunkView> {
    const row = await this.db.trunk.findUnique({ where: { projectId_name: { projectId, name } } });
    if (row === null) throw new TelephonyConfigError(404, `No trunk "${name}" in this project.`);
    return viewOf(row.config as Record<string, unknown>, row.password !== null);
  }

  async remove(projectId: string, name: string, referencedBy: (trunk: string) => Promise<string[]>): Promise<void> {
    const users = await referencedBy(name);
    if (users.length > 0) {
      throw new TelephonyConfigError(409, `Trunk "${name}" is used by IVR menu(s) ${users.join(', ')}; change them first.`, [{ field: 'name', message: 'in use' }]);
    }
    const { count } = await this.db.trunk.deleteMany({ where: { projectId, name } });
    if (count === 0) throw new TelephonyConfigError(404, `No trunk "${name}" in this project.`);
  }

  /** Full configs with passwords, for the runtime that dials. */
  async load(projectId: string): Promise<TrunkConfig[]> {
    const rows = await this.db.trunk.findMany({ where: { projectId }, orderBy: { name: 'asc' } });
    return rows.map((row) => {
      const config = row.config as Record<string, unknown>;
      const auth = config.auth as Record<string, unknown>;
      const withPassword = row.password ? { ...config, auth: { ...auth, password: this.open(row.password, row.id) } } : config;
      return trunkConfigSchema.parse(withPassword);
    });
  }

  private seal(password: string, id: string): string {
    if (!this.secretBox) {
      throw new TelephonyConfigError(422, 'Passwords cannot be stored: CONNECTOR_SECRET_KEY is not configured.', [
        { field: 'auth.password', message: 'the hub has no key to seal credentials with' },
      ]);
    }
    return this.secretBox.seal(password, id);
  }

  private open(sealed: string, id: string): string {
    if (!this.secretBox) throw new Error('CONNECTOR_SECRET_KEY is not configured; stored trunk passwords cannot be read');
    return this.secretBox.open(sealed, id) as string;
  }
}

function viewOf(config: Record<string, unknown>, hasPassword: boolean): TrunkView {
  const auth = config.auth as Record<string, unknown>;
  return { ...config, auth: hasPassword ? { ...auth, password: 'set' } : auth } as unknown as TrunkView;
}

function withoutPassword<T extends { password?: unknown }>(auth: T): Omit<T, 'password'> {
  const { password: _password, ...rest } = auth;
  return rest;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
