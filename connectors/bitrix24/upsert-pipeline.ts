// Many contact upserts as a pipeline of full `batch` requests. Each contact needs
// a lookup (is the number in the portal already?) before its write, and the
// portal's limit counts requests, not the calls inside them. So one request
// carries the writes of contacts whose lookups came back plus the lookups of the
// next contacts, and a lookup asks for several numbers at once
// (crm.duplicate.findbycomm takes up to 20 values: six numbers of three spellings).
// One request per connector instance is in flight at a time: the next one is
// composed when the last answered, so it carries everything that answer made ready.
import { CrmError } from '../sdk/errors.js';
import type { ContactInput, UpsertResult } from '../sdk/types.js';
import { maxBatchCalls, notExecuted, type BatchAnswer, type BitrixCall, type BitrixClient } from './bitrix-client.js';
import type { Bitrix24Config } from './config.js';
import { contactSelect, createdId, duplicateIds, hasPhone, phoneSearchValues, pickByPhone, planContactWrite, type BitrixRecord } from './records.js';

/** crm.duplicate.findbycomm: at most 20 values per call, and at most 20 ids per entity in its answer. */
const maxLookupValues = 20;
const maxDuplicatesAnswered = 20;
/**
 * Contacts looked up whose writes have not gone out yet, at most. Enough that
 * every request can be filled (50 writes, or writes plus lookups), few enough
 * that a lookup is at most a couple of requests old when its write follows
 * (a contact someone adds in between is the one race upserts by phone have).
 */
const maxLookedAhead = 2 * maxBatchCalls;

interface QueuedCall {
  call: BitrixCall;
  resolve(result: unknown): void;
  reject(error: CrmError): void;
  /** Sending it is the write of a contact that was looked up. */
  onSent?: () => void;
}

interface QueuedLookup {
  e164: string;
  values: string[];
  /** Looked up in a call of its own (a shared one hit the 20-id cap). */
  alone: boolean;
  resolve(records: BitrixRecord[]): void;
  reject(error: CrmError): void;
  /** Its lookup left in a request. */
  onSent(): void;
}

type Sent = { key: string; kind: 'call'; entry: QueuedCall } | { key: string; kind: 'lookup'; group: QueuedLookup[] };

export interface UpsertPipelineStats {
  requests: number;
  lookupCalls: number;
  writeCalls: number;
}

export class UpsertPipeline {
  private readonly calls: QueuedCall[] = [];
  private readonly lookups: QueuedLookup[] = [];
  /** Contacts whose lookup was sent and whose write (or end) has not come yet. */
  private lookedAhead = 0;
  private running = false;
  /** Per number, the upsert in progress: a second upsert of it waits, so it finds what the first wrote. */
  private readonly byPhone = new Map<string, Promise<unknown>>();
  readonly stats: UpsertPipelineStats = { requests: 0, lookupCalls: 0, writeCalls: 0 };

  constructor(
    private readonly client: BitrixClient,
    private readonly config: Bitrix24Config,
    /** Called after a request that carried writes (the read cache is stale then). */
    private readonly onWritten: () => void,
  ) {}

  /** One contact, already merged and in E.164; resolves with its outcome, never rejects. */
  upsert(e164: string, input: ContactInput): Promise<UpsertResult | CrmError> {
    const before = this.byPhone.get(e164) ?? Promise.resolve();
    const outcome = before.then(
      () => this.upsertNow(e164, input),
      () => this.upsertNow(e164, input),
    );
    this.byPhone.set(e164, outcome);
    const forget = () => {
      if (this.byPhone.get(e164) === outcome) this.byPhone.delete(e164);
    };
    outcome.then(forget, forget);
    return outcome;
  }

  private async upsertNow(e164: string, input: ContactInput): Promise<UpsertResult | CrmError> {
    let lookedUp = false;
    const ended = () => {
      if (lookedUp) this.lookedAhead -= 1;
      lookedUp = false;
    };
    try {
      const records = await this.lookup(e164, () => (lookedUp = true));
      const write = planContactWrite(input, e164, pickByPhone(records, e164, this.config), this.config);
      if (write.kind === 'unchanged') return { externalId: write.id, created: false };
      const answer = await this.enqueue(write.call, ended);
      if (write.kind === 'update') return { externalId: write.id, created: false };
      const id = createdId(answer);
      return id instanceof CrmError ? id : { externalId: id, created: true };
    } catch (error) {
      if (error instanceof CrmError) return error;
      throw error;
    } finally {
      ended();
    }
  }

  /** Records holding the number, each confirmed by normalizing its stored phones. */
  private lookup(e164: string, onSent: () => void): Promise<BitrixRecord[]> {
    return new Promise((resolve, reject) => {
      this.lookups.push({
        e164,
        values: phoneSearchValues(e164),
        alone: false,
        resolve: (records) => resolve(records.filter((record) => hasPhone(record, e164, this.config))),
        reject,
        onSent,
      });
      this.kick();
    });
  }

  private enqueue(call: BitrixCall, onSent?: () => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.calls.push({ call, resolve, reject, ...(onSent ? { onSent } : {}) });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // After the current turn: every upsert of the caller's list is queued by then.
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        const sent = this.compose();
        if (sent.calls.size === 0) break;
        await this.send(sent.calls, sent.entries);
        // Let the answers' continuations queue their writes before composing the next request.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      // A bug here must not leave upserts waiting forever: everything queued fails instead.
      const failure = new CrmError('unavailable', `Bitrix24 upsert pipeline failed: ${String(error)}`, { cause: error });
      for (const entry of this.calls.splice(0)) entry.reject(failure);
      for (const lookup of this.lookups.splice(0)) lookup.reject(failure);
    } finally {
      this.running = false;
    }
  }

  /**
   * The next request: queued calls (writes, record reads) and lookups. Lookups
   * get room for as many numbers as there are writes beside them, so the flow
   * stays even (43 writes and 7 lookups of 6 numbers, request after request)
   * rather than alternating lookup-only and write-only requests.
   */
  private compose(): { calls: Map<string, BitrixCall>; entries: Sent[] } {
    const calls = new Map<string, BitrixCall>();
    const entries: Sent[] = [];
    const perLookup = Math.max(1, Math.floor(maxLookupValues / (this.lookups[0]?.values.length ?? maxLookupValues)));
    const numbersPerRequest = Math.floor((maxBatchCalls * perLookup) / (perLookup + 1));
    const reserved = Math.ceil(Math.min(this.lookups.length, numbersPerRequest, maxLookedAhead) / perLookup);
    for (const entry of this.calls.splice(0, maxBatchCalls - reserved)) {
      const key = `c${calls.size}`;
      calls.set(key, entry.call);
      entries.push({ key, kind: 'call', entry });
      entry.onSent?.();
    }
    while (calls.size < maxBatchCalls && this.lookups.length > 0 && this.lookedAhead < maxLookedAhead) {
      const group = this.takeLookupGroup(maxLookedAhead - this.lookedAhead);
      const key = `f${calls.size}`;
      calls.set(key, {
        method: 'crm.duplicate.findbycomm',
        params: { entity_type: 'CONTACT', type: 'PHONE', values: [...new Set(group.flatMap((lookup) => lookup.values))] },
      });
      entries.push({ key, kind: 'lookup', group });
      this.lookedAhead += group.length;
      for (const lookup of group) lookup.onSent();
    }
    return { calls, entries };
  }

  /** Numbers for one lookup call: as many as fit in 20 values, at most `room`. */
  private takeLookupGroup(room: number): QueuedLookup[] {
    const first = this.lookups.shift() as QueuedLookup;
    const group = [first];
    let values = first.values.length;
    while (!first.alone && group.length < room) {
      const next = this.lookups[0];
      if (!next || next.alone || values + next.values.length > maxLookupValues) break;
      group.push(this.lookups.shift() as QueuedLookup);
      values += next.values.length;
    }
    return group;
  }

  private async send(calls: Map<string, BitrixCall>, entries: Sent[]): Promise<void> {
    this.stats.requests += 1;
    let answer: BatchAnswer;
    try {
      answer = await this.client.batch(Object.fromEntries(calls));
    } catch (error) {
      const failure = error instanceof CrmError ? error : new CrmError('unavailable', `Bitrix24 batch failed: ${String(error)}`, { cause: error });
      for (const sent of entries) {
        if (sent.kind === 'call') sent.entry.reject(failure);
        else for (const lookup of sent.group) lookup.reject(failure);
      }
      // A request that timed out may still have been carried out.
      if (entries.some((sent) => sent.kind === 'call' && sent.entry.call.method !== 'crm.contact.list')) this.onWritten();
      return;
    }
    let wrote = false;
    for (const sent of entries) {
      const method = calls.get(sent.key)?.method ?? 'batch';
      const error = answer.errors[sent.key] ?? (sent.key in answer.results ? undefined : notExecuted(method));
      if (sent.kind === 'call') {
        if (method !== 'crm.contact.list') {
          wrote = true;
          this.stats.writeCalls += 1;
        }
        if (error) sent.entry.reject(error);
        else sent.entry.resolve(answer.results[sent.key]);
        continue;
      }
      this.stats.lookupCalls += 1;
      if (error) for (const lookup of sent.group) lookup.reject(error);
      else this.onLookupAnswer(sent.group, duplicateIds(answer.results[sent.key]));
    }
    if (wrote) this.onWritten();
  }

  private onLookupAnswer(group: QueuedLookup[], ids: number[]): void {
    if (ids.length >= maxDuplicatesAnswered && group.length > 1) {
      // The answer may be cut at 20 ids: each number is asked again on its own,
      // where the 20 it gets are its oldest, the one every write goes to.
      this.lookedAhead -= group.length;
      this.lookups.unshift(...group.map((lookup) => ({ ...lookup, alone: true })));
      return;
    }
    if (ids.length === 0) {
      for (const lookup of group) lookup.resolve([]);
      return;
    }
    // A page holds 50 rows; an answer holds at most 20 ids.
    this.calls.unshift({
      call: { method: 'crm.contact.list', params: { filter: { '@ID': ids }, select: contactSelect } },
      resolve: (rows) => {
        const records = Array.isArray(rows) ? rows.filter((row): row is BitrixRecord => row !== null && typeof row === 'object') : [];
        for (const lookup of group) lookup.resolve(records);
      },
      reject: (error) => {
        for (const lookup of group) lookup.reject(error);
      },
    });
  }
}
