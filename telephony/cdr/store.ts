/**
 * CDRs in PostgreSQL. Saving is idempotent per (callId, attempt): an activity that is retried
 * after a crash writes nothing twice. Money goes in as exact decimals, never floats.
 */
import type { Db } from '../../core/db/client.js';
import { formatMicros } from './billing.js';
import type { CallDetailRecord } from './cdr.js';

export async function saveCallDetailRecords(db: Db, projectId: string, records: readonly CallDetailRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const { count } = await db.callDetailRecord.createMany({
    data: records.map((record) => ({
      projectId,
      callId: record.callId,
      attempt: record.attempt,
      direction: record.direction,
      trunkName: record.trunk,
      routePrefix: record.routePrefix,
      sipCallId: record.sipCallId ?? null,
      fromNumber: record.from,
      toNumber: record.to,
      outcome: record.outcome === 'answered' && record.hangupCause ? `answered:${record.hangupCause}` : record.outcome,
      sipStatus: record.sipStatus ?? null,
      reason: record.reason ?? null,
      startedAt: record.startedAt,
      answeredAt: record.answeredAt ?? null,
      endedAt: record.endedAt,
      durationMs: record.durationMs,
      billableSeconds: record.billableSeconds,
      billingIncrement: record.billingIncrement,
      pricePerMinute: formatMicros(record.pricePerMinuteMicros),
      cost: formatMicros(record.costMicros),
      currency: record.currency,
    })),
    skipDuplicates: true,
  });
  return count;
}

export interface StoredCdr {
  callId: string;
  attempt: number;
  trunk: string;
  outcome: string;
  sipStatus: number | null;
  startedAt: Date;
  answeredAt: Date | null;
  endedAt: Date;
  durationMs: number;
  billableSeconds: number;
  billingIncrement: string;
  /** Decimal strings, exactly as stored. */
  pricePerMinute: string;
  cost: string;
  currency: string;
}

export async function listCallDetailRecords(db: Db, projectId: string, range: { from: Date; to: Date }): Promise<StoredCdr[]> {
  const rows = await db.callDetailRecord.findMany({
    where: { projectId, startedAt: { gte: range.from, lt: range.to } },
    orderBy: [{ startedAt: 'asc' }, { callId: 'asc' }, { attempt: 'asc' }],
  });
  return rows.map((row) => ({
    callId: row.callId,
    attempt: row.attempt,
    trunk: row.trunkName,
    outcome: row.outcome,
    sipStatus: row.sipStatus,
    startedAt: row.startedAt,
    answeredAt: row.answeredAt,
    endedAt: row.endedAt,
    durationMs: row.durationMs,
    billableSeconds: row.billableSeconds,
    billingIncrement: row.billingIncrement,
    pricePerMinute: row.pricePerMinute.toFixed(6),
    cost: row.cost.toFixed(6),
    currency: row.currency,
  }));
}
