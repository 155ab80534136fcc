// Screen pop: the merged card of a caller from every CRM of the project, while
// the phone rings. Every CRM is asked at once and given a deadline; one that
// misses it contributes nothing now (the card says partial/stale and names it)
// because an agent needs the card before answering, not a complete one after.
// Its request keeps running and completes the cached card, so the next ring of
// the same number (a retry, a transfer, the IVR handing over) gets everything
// from memory. Concurrent lookups of one number share one round of CRM requests.
import type { ConnectorInstanceRecord } from '../../connectors/runtime.js';
import type { ConnectorOperations } from '../../connectors/sdk/types.js';
import { sqlPoolOf, type Db } from '../db/client.js';
import { runSql, statement } from '../db/sql.js';
import { createLogger, type Logger } from '../logger.js';
import { normalizePhone } from '../phone.js';
import { ConflictJournal } from '../reconcile/journal.js';
import type { ReconcileRules, SourceRecord, SupervisorDecision } from '../reconcile/types.js';
import { agentAnswersRecord } from '../agent-desk/agent-answers.js';
import { buildCard, type ScreenPopCard, type SourceAnswer, type SourceInstance, type SourceOutcome } from './card.js';
import { defaultMergeEngine, type MergeEngine } from './merge.js';

export type { ScreenPopCard } from './card.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface ScreenPopAnswer extends ScreenPopCard {
  /** hit: served from memory; miss: this lookup (or one it joined) asked the CRMs. */
  cache: 'hit' | 'miss';
  /** Age of the card: now - fetchedAt. */
  ageMs: number;
  /** Time this lookup took inside the service. */
  tookMs: number;
}

export interface ScreenPopOptions {
  /** How long a card serves repeated rings (default 10 s). */
  ttlMs?: number;
  /** Deadline per CRM when the caller gives none (default 1000 ms). */
  defaultDeadlineMs?: number;
  /** Cards kept at most; the oldest is dropped first (default 10,000). */
  maxEntries?: number;
}

export const deadlineBounds = { minMs: 50, maxMs: 5_000 } as const;

export interface ScreenPopDeps {
  db: Db;
  runtime: { get(instance: ConnectorInstanceRecord): Promise<ConnectorOperations> };
  clock?: Clock;
  /** Where CRM failures are reported (they also show in the card's sources[]); default: a warn-level logger. */
  logger?: Logger;
  /** Reconcile engine; defaults to the project's one (see merge.ts). */
  merge?: MergeEngine;
  options?: ScreenPopOptions;
}

export interface LookupInput {
  projectId: string;
  /** Any format; read in `defaultRegion` (else the project's region) when national. */
  phone: string;
  defaultRegion?: string | undefined;
  /** Per-CRM deadline, clamped to deadlineBounds. */
  deadlineMs?: number | undefined;
}

export class InvalidPhoneError extends Error {
  constructor(readonly reason: string) {
    super(`not a phone number the hub can use: ${reason}`);
    this.name = 'InvalidPhoneError';
  }
}

export class ProjectNotFoundError extends Error {}

interface ProjectContext {
  rules: ReconcileRules;
  instances: (ConnectorInstanceRecord & SourceInstance)[];
}

/** A cached card and what it was built from, so a late CRM answer can rebuild it. */
interface CardEntry {
  key: string;
  phone: string;
  rules: ReconcileRules;
  decisions: readonly SupervisorDecision[];
  /** What agents typed about the contact, as the `agent` source. */
  typed: SourceRecord | undefined;
  answers: SourceAnswer[];
  fetchedAt: number;
  expiresAt: number;
  card: ScreenPopCard;
}

export class ScreenPopService {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly merge: MergeEngine;
  private readonly ttlMs: number;
  private readonly defaultDeadlineMs: number;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, CardEntry>();
  /** Lookups asking the CRMs now, per card key; `token` tells a lookup whether it is still the current one. */
  private readonly inFlight = new Map<string, { token: object; entry: Promise<CardEntry> }>();
  /** CRM requests still running per card key and instance, so a second miss does not ask a slow CRM again. */
  private readonly asking = new Map<string, Promise<SourceOutcome>>();
  private readonly journal: ConflictJournal;
  /** Each project's connectors and rules, with the stamp they were read at (see projectStamp). */
  private readonly projects = new Map<string, { stamp: string; context: ProjectContext }>();

  constructor(private readonly deps: ScreenPopDeps) {
    this.journal = new ConflictJournal(deps.db);
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? createLogger('screenpop', 'warn');
    this.merge = deps.merge ?? defaultMergeEngine;
    this.ttlMs = deps.options?.ttlMs ?? 10_000;
    this.defaultDeadlineMs = clampDeadline(deps.options?.defaultDeadlineMs ?? 1_000);
    this.maxEntries = deps.options?.maxEntries ?? 10_000;
  }

  async lookup(input: LookupInput): Promise<ScreenPopAnswer> {
    const startedAt = this.clock.now();
    const phone = await this.normalize(input);
    const key = `${input.projectId}/${phone}`;

    const cached = this.entries.get(key);
    if (cached && cached.expiresAt > startedAt) return this.answer(cached, 'hit', startedAt);
    if (cached) this.entries.delete(key);

    let flight = this.inFlight.get(key);
    if (!flight) {
      const token = {};
      const entry = this.fetch(key, token, input.projectId, phone, clampDeadline(input.deadlineMs ?? this.defaultDeadlineMs), startedAt);
      flight = { token, entry };
      this.inFlight.set(key, flight);
      const current = flight;
      // Cleared whether the lookup worked or not; the caller sees the rejection through `entry` below.
      void entry.then(
        () => this.endFlight(key, current.token),
        () => this.endFlight(key, current.token),
      );
    }
    return this.answer(await flight.entry, 'miss', startedAt);
  }

  /** Forgets cards, e.g. after the hub wrote to a CRM or a CRM reported a change; no phone: the whole project. */
  invalidate(projectId: string, e164?: string): void {
    const prefix = e164 === undefined ? `${projectId}/` : `${projectId}/${e164}`;
    const matches = (key: string) => (e164 === undefined ? key.startsWith(prefix) : key === prefix);
    for (const key of [...this.entries.keys()]) if (matches(key)) this.entries.delete(key);
    // Lookups and CRM requests under way may have read the old data: they must not store their card or be joined.
    for (const key of [...this.inFlight.keys()]) if (matches(key)) this.inFlight.delete(key);
    for (const key of [...this.asking.keys()]) if (matches(key.slice(0, key.lastIndexOf('|')))) this.asking.delete(key);
  }

  private endFlight(key: string, token: object): void {
    if (this.inFlight.get(key)?.token === token) this.inFlight.delete(key);
  }

  private async normalize(input: LookupInput): Promise<string> {
    const region = input.defaultRegion ?? (input.phone.trim().startsWith('+') ? undefined : await this.projectRegion(input.projectId));
    const normalized = normalizePhone(input.phone, region);
    if (!normalized.ok) throw new InvalidPhoneError(normalized.reason);
    return normalized.e164;
  }

  private async projectRegion(projectId: string): Promise<string> {
    const project = await this.deps.db.project.findUnique({ where: { id: projectId }, select: { defaultRegion: true } });
    if (!project) throw new ProjectNotFoundError(`no project ${projectId}`);
    return project.defaultRegion;
  }

  private answer(entry: CardEntry, cache: 'hit' | 'miss', startedAt: number): ScreenPopAnswer {
    const now = this.clock.now();
    return { ...entry.card, cache, ageMs: Math.max(0, now - entry.fetchedAt), tookMs: Math.max(0, now - startedAt) };
  }

  /**
   * A cold card. The project's connectors and rules are taken from memory and their stamp is read
   * beside the CRM requests, so a ring does not wait for the hub's database before asking the CRMs;
   * only when the stamp shows a change (or on the first ring of a project) are they read again and
   * the CRMs asked with them. The database down: the remembered ones serve.
   */
  private async fetch(key: string, token: object, projectId: string, phone: string, deadlineMs: number, startedAt: number): Promise<CardEntry> {
    const remembered = this.projects.get(projectId);
    const stamp = projectStamp(this.deps.db, projectId);
    if (remembered) {
      const current = stamp.then(
        (now) => now === remembered.stamp,
        (error: unknown) => {
          if (error instanceof ProjectNotFoundError) return false;
          this.logger.warn({ err: error, projectId }, 'screen pop: the project\'s settings could not be checked; using the ones in memory');
          return true;
        },
      );
      const entry = await this.fetchWith(remembered.context, current, key, token, projectId, phone, deadlineMs, startedAt);
      if (entry) return entry;
      this.projects.delete(projectId);
    }
    const [context, read] = await Promise.all([this.loadProject(projectId), stamp]);
    this.projects.set(projectId, { stamp: read, context });
    return (await this.fetchWith(context, Promise.resolve(true), key, token, projectId, phone, deadlineMs, startedAt)) as CardEntry;
  }

  /** The card from this project context, or undefined when `current` says the context changed meanwhile. */
  private async fetchWith(project: ProjectContext, current: Promise<boolean>, key: string, token: object, projectId: string, phone: string, deadlineMs: number, startedAt: number): Promise<CardEntry | undefined> {
    const outcomes: (SourceOutcome | undefined)[] = project.instances.map(() => undefined);
    const requests = project.instances.map((instance, index) =>
      this.ask(key, instance, phone).then((outcome) => {
        outcomes[index] = outcome;
        return outcome;
      }),
    );

    // The deadline counts from the start of the lookup, so loading the project is inside it.
    const remainingMs = Math.max(0, startedAt + deadlineMs - this.clock.now());
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, remainingMs);
    });
    // Supervisors' decisions come from the hub's own database, read beside the CRMs and under the
    // same deadline; a card without them (database slow or down) still answers.
    let decisions: readonly SupervisorDecision[] = [];
    const decisionsRead = this.journal.decisions(projectId, phone).then(
      (found) => {
        decisions = found;
      },
      (error: unknown) => this.logger.warn({ err: error, phone }, 'screen pop: supervisors\' decisions not read; the card merges without them'),
    );
    // So are agents' answers, which the contact's journey merges as one more source.
    let typed: SourceRecord | undefined;
    const typedRead = agentAnswersRecord(sqlPoolOf(this.deps.db), projectId, phone).then(
      (found) => {
        typed = found;
      },
      (error: unknown) => this.logger.warn({ err: error, phone }, "screen pop: agents' answers not read; the card merges without them"),
    );
    await Promise.race([Promise.all([...requests, decisionsRead, typedRead]), deadline]);
    clearTimeout(timer);
    if (!(await current)) return undefined;

    const fetchedAt = this.clock.now();
    const answers: SourceAnswer[] = project.instances.map((instance, index) => ({
      instance: { id: instance.id, name: instance.name, kind: instance.kind },
      outcome: outcomes[index] ?? { status: 'timeout', latencyMs: fetchedAt - startedAt },
    }));
    const entry: CardEntry = {
      key,
      phone,
      rules: project.rules,
      decisions,
      typed,
      answers,
      fetchedAt,
      expiresAt: fetchedAt + this.ttlMs,
      card: this.build(phone, fetchedAt, answers, project.rules, decisions, typed),
    };
    if (this.inFlight.get(key)?.token === token) this.store(entry);

    requests.forEach((request, index) => {
      if (outcomes[index] !== undefined) return;
      request
        .then((outcome) => this.completeLate(entry, index, outcome))
        .catch((error: unknown) => this.logger.error({ err: error, phone }, 'screen pop: could not complete a cached card with a late CRM answer'));
    });
    return entry;
  }

  /**
   * A CRM that missed the deadline answered: its data completes the cached
   * card, which keeps its expiry (the other CRMs' answers are no younger). A
   * card already replaced, invalidated or expired is left alone: the next ring
   * asks again, and that CRM's own read cache makes the repeat cheap.
   */
  private completeLate(entry: CardEntry, index: number, outcome: SourceOutcome): void {
    if (this.entries.get(entry.key) !== entry || entry.expiresAt <= this.clock.now()) return;
    // A new list: answers handed out earlier keep describing what they saw.
    entry.answers = entry.answers.map((answer, position) => (position === index ? { ...answer, outcome } : answer));
    entry.card = this.build(entry.phone, entry.fetchedAt, entry.answers, entry.rules, entry.decisions, entry.typed);
  }

  private build(phone: string, fetchedAt: number, answers: SourceAnswer[], rules: ReconcileRules, decisions: readonly SupervisorDecision[], typed: SourceRecord | undefined): ScreenPopCard {
    return buildCard({ phone, fetchedAt: new Date(fetchedAt).toISOString(), answers, rules, decisions, typed, reconcile: this.merge.reconcile });
  }

  private store(entry: CardEntry): void {
    this.entries.delete(entry.key);
    if (this.entries.size >= this.maxEntries) {
      const now = this.clock.now();
      for (const [key, old] of this.entries) if (old.expiresAt <= now) this.entries.delete(key);
      // Still full of live cards: drop the oldest (Map keeps insertion order).
      const oldest = this.entries.keys().next();
      if (this.entries.size >= this.maxEntries && !oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(entry.key, entry);
  }

  /** One CRM's answer, shared by lookups that need it while it runs. */
  private ask(key: string, instance: ConnectorInstanceRecord, phone: string): Promise<SourceOutcome> {
    // Keyed by the instance's version too: after a configuration change the CRM is asked anew.
    const askKey = `${key}|${instance.id}@${instance.updatedAt.toISOString()}`;
    const running = this.asking.get(askKey);
    if (running) return running;
    const request: Promise<SourceOutcome> = this.askCrm(instance, phone).finally(() => {
      if (this.asking.get(askKey) === request) this.asking.delete(askKey);
    });
    this.asking.set(askKey, request);
    return request;
  }

  /** Never rejects: a failure is an outcome the card shows (and the log keeps). */
  private async askCrm(instance: ConnectorInstanceRecord, phone: string): Promise<SourceOutcome> {
    const startedAt = this.clock.now();
    try {
      const crm = await this.deps.runtime.get(instance);
      const contacts = await crm.findContacts({ phone });
      return { status: contacts.length > 0 ? 'ok' : 'not-found', latencyMs: this.clock.now() - startedAt, contacts };
    } catch (error) {
      this.logger.warn({ err: error, connectorInstanceId: instance.id, connector: instance.name }, 'screen pop: CRM lookup failed');
      return { status: 'error', latencyMs: this.clock.now() - startedAt, error: error instanceof Error ? error.message : String(error) };
    }
  }

  private async loadProject(projectId: string): Promise<ProjectContext> {
    const project = await this.deps.db.project.findUnique({
      where: { id: projectId },
      select: {
        reconciliation: true,
        // Primary first, then by age: the order sources are ranked in when the project sets no rules.
        connectorInstances: {
          orderBy: [{ isPrimary: 'desc' }, { createdAt: 'asc' }],
          select: { id: true, kind: true, name: true, config: true, secrets: true, limits: true, updatedAt: true },
        },
      },
    });
    if (!project) throw new ProjectNotFoundError(`no project ${projectId}`);
    const instances = project.connectorInstances;
    const rules = this.merge.rulesFromProject(
      project.reconciliation,
      instances.map((instance) => instance.id),
      {
        // Saved rules are validated; ones that no longer parse (a hand edit) fall back to the defaults, loudly.
        onInvalid: (errors) => this.logger.warn({ projectId, errors }, 'screen pop: the project\'s reconciliation rules are invalid; using the defaults'),
      },
    );
    return { rules, instances };
  }
}

/**
 * What a card's project context depends on, in one cheap statement: the rules and each connector
 * instance's id, version and primary flag (a change of any of them changes the stamp).
 */
async function projectStamp(db: Db, projectId: string): Promise<string> {
  const rows = await runSql<{ stamp: string }>(sqlPoolOf(db), selectProjectStamp, [projectId]);
  const stamp = rows[0]?.stamp;
  if (stamp === undefined) throw new ProjectNotFoundError(`no project ${projectId}`);
  return stamp;
}

const selectProjectStamp = statement(
  'screenpop.project_stamp',
  `SELECT md5(p.reconciliation::text || '|' || COALESCE((
            SELECT string_agg(i.id::text || '@' || i.updated_at::text || (CASE WHEN i.is_primary THEN '*' ELSE '' END), ',' ORDER BY i.id)
            FROM connector_instances i WHERE i.project_id = p.id), '')) AS stamp
   FROM projects p WHERE p.id = $1::uuid`,
);

function clampDeadline(ms: number): number {
  return Math.min(deadlineBounds.maxMs, Math.max(deadlineBounds.minMs, Math.round(ms)));
}
