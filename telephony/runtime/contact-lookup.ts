/**
 * The caller's CRM card for the telephony process, through the screen pop (every CRM of the
 * project, merged, with a deadline and a short cache): the IVR's `crm` nodes branch on the
 * contact's status, and queued callers are offered to their responsible agent first.
 *
 * Status of a card, in this order:
 * - the contact's own `status` field as the CRMs keep it (e.g. `vip`, `conflict`), merged by the
 *   project's rules like any other field;
 * - otherwise the status of the contact's first open application (then of the first one at all);
 * - otherwise `known` (some CRM holds the number, none keeps a status).
 * Not found (`undefined`) only when every CRM answered and none holds the number; a card some CRM
 * could not answer for (timeout, error) and nobody else found is a failed lookup (the node's
 * `onError`), not an unknown caller.
 *
 * A lookup never outlives its caller's patience: it stops waiting at its AbortSignal (the IVR's
 * node timeout, the caller hanging up) or its deadline, whatever the CRMs are doing; their late
 * answers still fill the screen pop's cache for the next lookup of the number.
 */
import type { ScreenPopCard } from '../../core/screenpop/card.js';
import { InvalidPhoneError, type LookupInput } from '../../core/screenpop/service.js';
import type { ContactLookupResult, IvrDeps } from '../ivr/run-ivr.js';

/** The part of ScreenPopService this needs. */
export interface CardLookup {
  lookup(input: LookupInput): Promise<ScreenPopCard>;
}

/** Status of a contact without any status field or application. */
export const KNOWN_CONTACT_STATUS = 'known';

/** The IVR's view of a card; see the header for which field is the status. */
export function contactLookupResult(card: ScreenPopCard): ContactLookupResult | undefined {
  if (!card.found) {
    const unanswered = card.sources.filter((source) => source.status === 'timeout' || source.status === 'error');
    if (unanswered.length > 0) {
      throw new Error(`no CRM found the caller and ${unanswered.map((source) => `${source.name} (${source.status})`).join(', ')} could not answer`);
    }
    return undefined;
  }
  const own = card.contact.fields.status;
  if ((typeof own === 'string' && own.trim() !== '') || typeof own === 'number') return { status: String(own).trim() };
  const application = card.applications.find((entry) => entry.open && entry.status !== null) ?? card.applications.find((entry) => entry.status !== null);
  if (application?.status) return { status: application.status };
  return { status: KNOWN_CONTACT_STATUS };
}

export interface ContactLookupOptions {
  cards: CardLookup;
  /** How long the preferred-agent lookup of a queued caller may take (INBOUND_LOOKUP_DEADLINE_MS). */
  preferredAgentDeadlineMs: number;
  logger?: { warn(details: object, message: string): void };
}

/** Per-project CRM lookups for the telephony runtime. */
export class ContactLookup {
  constructor(private readonly options: ContactLookupOptions) {}

  /** The IVR's `lookupContact` for one project; the caller's number is read in `defaultRegion`. */
  forIvr(projectId: string, defaultRegion: string): IvrDeps['lookupContact'] {
    return async (phone, signal) => {
      let card: ScreenPopCard;
      try {
        card = await untilAborted(this.options.cards.lookup({ projectId, phone, defaultRegion }), signal);
      } catch (error) {
        // An anonymous caller or a SIP user name: no CRM can hold it.
        if (error instanceof InvalidPhoneError) return undefined;
        throw error;
      }
      return contactLookupResult(card);
    };
  }

  /**
   * The caller's responsible agent, or undefined when no CRM names one in time. Never rejects and
   * never takes longer than the deadline: a slow or failing CRM means no preference, not a late caller.
   */
  async responsibleAgent(projectId: string, phone: string, defaultRegion: string): Promise<string | undefined> {
    const deadlineMs = this.options.preferredAgentDeadlineMs;
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(new Error(`CRM lookup took longer than ${deadlineMs} ms`)), deadlineMs);
    try {
      const card = await untilAborted(this.options.cards.lookup({ projectId, phone, defaultRegion, deadlineMs }), stop.signal);
      return card.contact.responsibleAgent ?? undefined;
    } catch (error) {
      // An anonymous caller has no contact to ask about: nothing to report.
      if (error instanceof InvalidPhoneError) return undefined;
      this.options.logger?.warn({ projectId, err: error }, 'telephony: no preferred agent for a queued caller (CRM lookup failed)');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Settles with `work`, or rejects as soon as `signal` aborts (the work goes on unobserved). */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('CRM lookup aborted');
}
