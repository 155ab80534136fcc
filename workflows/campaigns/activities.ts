// The campaign dialer's database steps: claim due tasks for the launches the pacing allows, and
// apply an attempt's outcome once (telephony/dialer/attempts.ts).
import type { Db } from '../../core/db/client.js';
import { DialerAttempts, type ClaimRequest, type ClaimResult, type OutcomeApplied, type OutcomeReport } from '../../telephony/dialer/attempts.js';

export interface RecordOutcomeInput extends Omit<OutcomeReport, 'endedAt'> {
  /** ISO time the attempt ended; default: when the outcome is recorded. */
  endedAt?: string;
}

export function createCampaignActivities(deps: { db: Db }) {
  const attempts = new DialerAttempts(deps.db);
  return {
    async claimDueTasks(request: ClaimRequest): Promise<ClaimResult> {
      return attempts.claim(request);
    },
    async markAttemptAnswered(input: { attemptId: string; answeredAt: string }): Promise<void> {
      await attempts.markAnswered(input.attemptId, new Date(input.answeredAt));
    },
    async recordAttemptOutcome(input: RecordOutcomeInput): Promise<OutcomeApplied> {
      return attempts.recordOutcome({ ...input, endedAt: input.endedAt === undefined ? new Date() : new Date(input.endedAt) });
    },
  };
}

export type CampaignActivities = ReturnType<typeof createCampaignActivities>;
