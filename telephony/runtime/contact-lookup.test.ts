// The caller's card as the IVR and the queue see it: which field is the status, when a caller is
// unknown rather than a failed lookup, and that a slow CRM never holds the caller past the deadline.
// The screen pop is stood in by `cards` (its own suite, test/screenpop.test.ts, runs it on real CRMs).
import { describe, expect, it } from 'vitest';
import type { CardSource as SourceRow, ScreenPopCard } from '../../core/screenpop/card.js';
import { InvalidPhoneError, type LookupInput } from '../../core/screenpop/service.js';
import { ContactLookup, contactLookupResult, KNOWN_CONTACT_STATUS } from './contact-lookup.js';

function source(status: SourceRow['status'], name = 'demo-crm'): SourceRow {
  return { instanceId: `id-${name}`, name, kind: 'sql-crm', status, latencyMs: 3, externalIds: status === 'ok' ? ['1'] : [] };
}

function card(overrides: Partial<ScreenPopCard> & { fields?: Record<string, unknown>; responsibleAgent?: string | null } = {}): ScreenPopCard {
  const { fields = {}, responsibleAgent = null, ...rest } = overrides;
  return {
    phone: '+14155550100', found: true, partial: false, stale: false, fetchedAt: new Date(0).toISOString(),
    contact: { name: 'Ann', email: null, phone: '+14155550100', responsibleAgent, fields, provenance: {} },
    applications: [], lastInteractions: [], sources: [source('ok')], conflicts: [],
    ...rest,
  };
}

describe('contactLookupResult', () => {
  it('takes the contact\'s own status field first', () => {
    expect(contactLookupResult(card({ fields: { status: 'vip' }, applications: [{ number: 'A1', status: 'review', open: true, sources: [] }] }))).toEqual({ status: 'vip' });
  });

  it('falls back to the first open application\'s status, then to any application\'s', () => {
    const applications = [
      { number: 'A0', status: 'won', open: false, sources: [] },
      { number: 'A1', status: 'conflict', open: true, sources: [] },
    ];
    expect(contactLookupResult(card({ applications }))).toEqual({ status: 'conflict' });
    expect(contactLookupResult(card({ applications: [applications[0]!] }))).toEqual({ status: 'won' });
  });

  it('calls a contact without any status known', () => {
    expect(contactLookupResult(card({ fields: { status: '  ' } }))).toEqual({ status: KNOWN_CONTACT_STATUS });
  });

  it('is not found only when every CRM answered', () => {
    expect(contactLookupResult(card({ found: false, sources: [source('not-found')] }))).toBeUndefined();
    expect(contactLookupResult(card({ found: false, sources: [] }))).toBeUndefined();
    expect(() => contactLookupResult(card({ found: false, partial: true, sources: [source('not-found'), source('timeout', 'bitrix')] })))
      .toThrow(/bitrix \(timeout\)/);
  });

  it('a contact one CRM knows is found even when another timed out', () => {
    expect(contactLookupResult(card({ partial: true, fields: { status: 'vip' }, sources: [source('ok'), source('timeout', 'bitrix')] }))).toEqual({ status: 'vip' });
  });
});

describe('ContactLookup', () => {
  const never = { lookup: () => new Promise<ScreenPopCard>(() => undefined) };

  it('asks the screen pop for the project with the region and its deadline, and names the responsible agent', async () => {
    const asked: LookupInput[] = [];
    const lookup = new ContactLookup({ cards: { lookup: async (input) => (asked.push(input), card({ responsibleAgent: 'bob' })) }, preferredAgentDeadlineMs: 400 });
    expect(await lookup.responsibleAgent('p1', '4155550100', 'US')).toBe('bob');
    expect(asked).toEqual([{ projectId: 'p1', phone: '4155550100', defaultRegion: 'US', deadlineMs: 400 }]);
    const none = new ContactLookup({ cards: { lookup: async () => card() }, preferredAgentDeadlineMs: 400 });
    expect(await none.responsibleAgent('p1', '4155550100', 'US')).toBeUndefined();
  });

  it('a CRM that never answers costs the queued caller the deadline, no more, and no preference', async () => {
    const warnings: string[] = [];
    const lookup = new ContactLookup({ cards: never, preferredAgentDeadlineMs: 120, logger: { warn: (_details, message) => void warnings.push(message) } });
    const started = performance.now();
    expect(await lookup.responsibleAgent('p1', '4155550100', 'US')).toBeUndefined();
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(110);
    expect(took).toBeLessThan(600);
    expect(warnings).toHaveLength(1);
  });

  it('a failing lookup means no preference (reported), an anonymous caller none (not reported)', async () => {
    const warnings: string[] = [];
    const lookup = new ContactLookup({
      cards: { lookup: async (input) => Promise.reject(input.phone === 'anonymous' ? new InvalidPhoneError('not a number') : new Error('database down')) },
      preferredAgentDeadlineMs: 500,
      logger: { warn: (_details, message) => void warnings.push(message) },
    });
    expect(await lookup.responsibleAgent('p1', '4155550100', 'US')).toBeUndefined();
    expect(await lookup.responsibleAgent('p1', 'anonymous', 'US')).toBeUndefined();
    expect(warnings).toHaveLength(1);
  });

  it('the IVR\'s lookup stops at its AbortSignal whatever the CRMs do', async () => {
    const ivrLookup = new ContactLookup({ cards: never, preferredAgentDeadlineMs: 500 }).forIvr('p1', 'US');
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('caller hung up')), 50);
    const started = performance.now();
    await expect(ivrLookup('4155550100', stop.signal)).rejects.toThrow('caller hung up');
    expect(performance.now() - started).toBeLessThan(500);
    const aborted = AbortSignal.abort(new Error('already gone'));
    await expect(ivrLookup('4155550100', aborted)).rejects.toThrow('already gone');
  });

  it('the IVR\'s lookup maps the project\'s card; a caller without a phone number is unknown', async () => {
    const asked: LookupInput[] = [];
    const ivrLookup = new ContactLookup({
      cards: {
        lookup: async (input) => {
          asked.push(input);
          if (input.phone === 'anonymous') throw new InvalidPhoneError('not a number');
          return card({ fields: { status: 'conflict' } });
        },
      },
      preferredAgentDeadlineMs: 500,
    }).forIvr('p2', 'DE');
    expect(await ivrLookup('03012345678', new AbortController().signal)).toEqual({ status: 'conflict' });
    expect(asked[0]).toEqual({ projectId: 'p2', phone: '03012345678', defaultRegion: 'DE' });
    expect(await ivrLookup('anonymous', new AbortController().signal)).toBeUndefined();
  });
});
