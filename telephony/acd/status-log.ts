/**
 * Writes every change of an agent's state in a project's roster to PostgreSQL
 * (`agent_status_changes`), in the order the roster made them: the agents' work statistics
 * (`GET /v1/reports/agents`) are read from these rows. Registration changes that leave the state
 * as it was are not changes. A write that fails is tried again a few times and then logged; the
 * roster never waits for the database and never sees its errors (calls go on during an outage).
 */
import type { Db } from '../../core/db/client.js';
import type { Logger } from '../../core/logger.js';
import type { AgentRoster, RosterChange } from './roster.js';

const ATTEMPTS = 5;

export class AgentStatusLog {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Records the roster's changes from now on; returns the stop. */
  attach(projectId: string, roster: Pick<AgentRoster, 'onChange'>): () => void {
    return roster.onChange((change) => {
      if (change.from === change.to) return;
      this.record(projectId, change, this.now());
    });
  }

  /** Resolves once every change so far is written (or given up on). */
  settled(): Promise<void> {
    return this.chain;
  }

  private record(projectId: string, change: RosterChange, at: Date): void {
    const row = { projectId, agentId: change.agentId, fromStatus: change.from, toStatus: change.to, reason: change.reason ?? null, at };
    this.chain = this.chain.then(async () => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await this.db.agentStatusChange.create({ data: row });
          return;
        } catch (error) {
          if (attempt >= ATTEMPTS) {
            this.logger.warn({ err: error, change: row }, "agent status change not recorded: the agents' statistics will miss it");
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
        }
      }
    });
  }
}
