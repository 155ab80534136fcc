// Identity across CRMs: which records found by the phone are one contact under a match rule.
import { describe, expect, it } from 'vitest';
import { matchAcrossSources, type MatchRule } from './match.js';

type Row = { id: string; values: Record<string, unknown> };
const row = (id: string, values: Record<string, unknown>): Row => ({ id, values });
const decide = (candidates: { source: string; records: Row[] }[], rule?: MatchRule) =>
  matchAcrossSources(candidates, rule, (record) => record.values).map((decision) =>
    decision.outcome === 'matched'
      ? { source: decision.source, matched: decision.record.id, ambiguous: decision.ambiguous }
      : { source: decision.source, setAside: decision.record.id, field: decision.field, reason: decision.reason });
const byEmail: MatchRule = { confirmBy: ['email'], requireValues: false };

describe('matchAcrossSources', () => {
  it('takes each CRM\'s first record when the phone alone decides, flagging a CRM with several', () => {
    const sources = [
      { source: 'loans', records: [row('1', { name: 'Maria' })] },
      { source: 'empty', records: [] },
      { source: 'sales', records: [row('7', { name: 'Ivan' }), row('9', { name: 'Maria' })] },
    ];
    const expected = [{ source: 'loans', matched: '1', ambiguous: false }, { source: 'sales', matched: '7', ambiguous: true }];
    expect(decide(sources)).toEqual(expected);
    expect(decide(sources, { confirmBy: [], requireValues: true })).toEqual(expected);
  });

  it('sets aside a CRM whose record has another e-mail, and keeps one that agrees up to case and spaces', () => {
    expect(decide([
      { source: 'loans', records: [row('1', { name: 'Maria Petrova', email: 'maria@example.com' })] },
      { source: 'sales', records: [row('7', { name: 'Ivan Petrov', email: 'ivan@example.com' })] },
      { source: 'legacy', records: [row('L2', { name: 'M. Petrova', email: '  MARIA@Example.com ' })] },
    ], byEmail)).toEqual([
      { source: 'loans', matched: '1', ambiguous: false },
      { source: 'sales', setAside: '7', field: 'email', reason: 'email differs: "ivan@example.com" here, "maria@example.com" in loans' },
      { source: 'legacy', matched: 'L2', ambiguous: false },
    ]);
  });

  it('picks, among a CRM\'s records of a shared number, the one that agrees, flagged only when several do', () => {
    const anchor = { source: 'loans', records: [row('1', { name: 'Maria', email: 'maria@example.com' })] };
    expect(decide([anchor, { source: 'sales', records: [row('7', { email: 'ivan@example.com' }), row('9', { email: 'maria@example.com' })] }], byEmail))
      .toEqual([{ source: 'loans', matched: '1', ambiguous: false }, { source: 'sales', matched: '9', ambiguous: false }]);
    expect(decide([anchor, { source: 'sales', records: [row('7', { email: 'maria@example.com' }), row('9', { email: 'Maria@example.com' })] }], byEmail))
      .toEqual([{ source: 'loans', matched: '1', ambiguous: false }, { source: 'sales', matched: '7', ambiguous: true }]);
  });

  it('lets a missing value pass by default and sets the record aside when values are required', () => {
    const sources = [
      { source: 'loans', records: [row('1', { name: 'Ada King', 'fields.birthDate': '1815-12-10' })] },
      { source: 'sales', records: [row('7', { name: 'ADA  king', 'fields.birthDate': null })] },
    ];
    const rule: MatchRule = { confirmBy: ['name', 'fields.birthDate'], requireValues: false };
    expect(decide(sources, rule)).toEqual([{ source: 'loans', matched: '1', ambiguous: false }, { source: 'sales', matched: '7', ambiguous: false }]);
    expect(decide(sources, { ...rule, requireValues: true })[1]).toEqual({ source: 'sales', setAside: '7', field: 'fields.birthDate', reason: 'fields.birthDate is missing here' });
  });

  it('compares malformed values without throwing', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const sources = [
      { source: 'loans', records: [row('1', { 'fields.passport': circular })] },
      { source: 'sales', records: [row('7', { 'fields.passport': Number.NaN })] },
    ];
    expect(decide(sources, { confirmBy: ['fields.passport'], requireValues: true })[1]).toMatchObject({ setAside: '7', field: 'fields.passport' });
  });
});
