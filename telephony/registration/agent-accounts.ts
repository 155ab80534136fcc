/**
 * Agents' SIP accounts in PostgreSQL (table agent_sip_accounts): the username and password an
 * agent's phone registers to the hub with. The password is sealed like connector credentials
 * (SecretBox under CONNECTOR_SECRET_KEY, bound to the row id), shown as "set", kept when a later
 * PUT omits it, and opened only by the registrar (`forProject(...).byUsername`).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { Prisma, type Db } from '../../core/db/client.js';
import type { SecretBox } from '../../core/secrets/secret-box.js';
import { parseConfigInput, TelephonyConfigError } from '../config-errors.js';
import type { AgentSipAccount, AgentSipAccounts } from './agent-registrar.js';

export const agentSipAccountSchema = z.object({
  /** SIP user part the phone registers as; the agent id when left out. */
  username: z.string().regex(/^[A-Za-z0-9._~+-]{1,64}$/, 'letters, digits and . _ ~ + - (a SIP user part)').optional(),
  /** Digest password; required when the account is created. */
  password: z.string().min(8, 'at least 8 characters').max(128).optional(),
});

export interface AgentSipAccountView {
  agent: string;
  username: string;
  password: 'set';
}

export class AgentAccountStore {
  constructor(
    private readonly db: Db,
    private readonly secretBox: SecretBox | undefined,
  ) {}

  async put(projectId: string, agent: string, input: unknown): Promise<{ account: AgentSipAccountView; created: boolean }> {
    const requested = parseConfigInput(agentSipAccountSchema, input, 'agent SIP account');
    const username = requested.username ?? agent;
    if (!/^[A-Za-z0-9._~+-]{1,64}$/.test(username)) {
      throw new TelephonyConfigError(422, 'The agent id cannot be a SIP username; give one.', [{ field: 'username', message: 'required for this agent id' }]);
    }
    const existing = await this.db.agentSipAccount.findUnique({ where: { projectId_agentId: { projectId, agentId: agent } } });
    if (existing === null && requested.password === undefined) {
      throw new TelephonyConfigError(422, 'A new agent SIP account needs a password.', [{ field: 'password', message: 'required' }]);
    }
    const id = existing?.id ?? randomUUID();
    const password = requested.password === undefined ? existing!.password : this.seal(requested.password, id);
    try {
      if (existing) await this.db.agentSipAccount.update({ where: { id }, data: { username, password } });
      else await this.db.agentSipAccount.create({ data: { id, projectId, agentId: agent, username, password } });
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        // Either the username belongs to another agent, or this agent's account was created at the same time.
        const taken = await this.db.agentSipAccount.findUnique({ where: { projectId_username: { projectId, username } } });
        if (taken !== null && taken.agentId !== agent) {
          throw new TelephonyConfigError(409, `SIP username "${username}" belongs to agent "${taken.agentId}".`, [{ field: 'username', message: 'already in use' }]);
        }
        throw new TelephonyConfigError(409, `The SIP account of agent "${agent}" was created by another request at the same time; retry.`, [{ field: 'agent', message: 'created concurrently' }]);
      }
      throw error;
    }
    return { account: { agent, username, password: 'set' }, created: existing === null };
  }

  async list(projectId: string): Promise<AgentSipAccountView[]> {
    const rows = await this.db.agentSipAccount.findMany({ where: { projectId }, orderBy: { agentId: 'asc' } });
    return rows.map((row) => ({ agent: row.agentId, username: row.username, password: 'set' }));
  }

  async get(projectId: string, agent: string): Promise<AgentSipAccountView> {
    const row = await this.db.agentSipAccount.findUnique({ where: { projectId_agentId: { projectId, agentId: agent } } });
    if (row === null) throw new TelephonyConfigError(404, `Agent "${agent}" has no SIP account in this project.`);
    return { agent: row.agentId, username: row.username, password: 'set' };
  }

  async remove(projectId: string, agent: string): Promise<void> {
    const { count } = await this.db.agentSipAccount.deleteMany({ where: { projectId, agentId: agent } });
    if (count === 0) throw new TelephonyConfigError(404, `Agent "${agent}" has no SIP account in this project.`);
  }

  /** The registrar's view of one project's accounts, passwords opened. */
  forProject(projectId: string): AgentSipAccounts {
    return {
      byUsername: async (username: string): Promise<AgentSipAccount | undefined> => {
        const row = await this.db.agentSipAccount.findUnique({ where: { projectId_username: { projectId, username } } });
        if (row === null) return undefined;
        return { agentId: row.agentId, username: row.username, password: this.open(row.password, row.id) };
      },
    };
  }

  private seal(password: string, id: string): string {
    if (!this.secretBox) {
      throw new TelephonyConfigError(422, 'Passwords cannot be stored: CONNECTOR_SECRET_KEY is not configured.', [
        { field: 'password', message: 'the hub has no key to seal credentials with' },
      ]);
    }
    return this.secretBox.seal(password, id);
  }

  private open(sealed: string, id: string): string {
    if (!this.secretBox) throw new Error('CONNECTOR_SECRET_KEY is not configured; stored agent SIP passwords cannot be read');
    return this.secretBox.open(sealed, id) as string;
  }
}
