// What the hub asks of a CRM, in the CRM-neutral words the rest of the hub uses.
// Every connector maps its CRM's records onto these shapes and back.

export interface ContactInput {
  /** E.164. */
  phone: string;
  name?: string | undefined;
  email?: string | undefined;
  /** Free-form fields the CRM keeps with the record (application number, address...). */
  fields: Record<string, unknown>;
  /**
   * The record this write is based on, for CRMs with optimistic concurrency
   * (a version number or updated-at stamp the connector returned earlier).
   * Absent: create, or update whatever is there (last writer wins on the fields it sends).
   */
  expectedVersion?: string | undefined;
}

export interface CrmContact {
  externalId: string;
  phone: string | null;
  name: string | null;
  email: string | null;
  fields: Record<string, unknown>;
  /** Opaque concurrency token (version or updated-at) when the CRM has one. */
  version?: string | undefined;
  updatedAt?: string | undefined;
}

export interface UpsertResult {
  externalId: string;
  created: boolean;
  version?: string | undefined;
}

export interface ContactQuery {
  /** E.164; connectors normalize the CRM's stored numbers before comparing. */
  phone?: string;
  email?: string;
  externalId?: string;
}

export interface ActivityInput {
  /** The CRM record the activity belongs to. */
  contactExternalId: string;
  kind: 'call' | 'sms' | 'email' | 'note';
  direction?: 'inbound' | 'outbound' | undefined;
  subject: string;
  body?: string | undefined;
  occurredAt: string;
  durationSeconds?: number | undefined;
  /** The hub's id for the activity, so a retried write is recognized. */
  hubActivityId: string;
}

export interface DealStatusInput {
  /** The CRM's id of the application / deal / lead. */
  dealExternalId: string;
  status: string;
  note?: string | undefined;
}

/** A webhook call as it reached the hub, before any parsing. */
export interface WebhookRequest {
  headers: Record<string, string>;
  /** Exact bytes of the body: signatures are computed over these. */
  rawBody: string;
  query: Record<string, string>;
}

export interface WebhookEvent {
  /** The CRM's event id; the hub de-duplicates on it. */
  eventId: string;
  kind: 'contact.created' | 'contact.updated' | 'contact.deleted' | 'deal.updated' | 'other';
  externalId: string;
  occurredAt?: string | undefined;
  /** Changed fields when the CRM sends them. */
  changes?: Record<string, unknown> | undefined;
}

/** What a poll asks for: records changed after a cursor (CRMs without webhooks are polled). */
export interface ChangedContactsQuery {
  /** A cursor from an earlier page; null on the first poll. Opaque: only the connector reads it. */
  since: string | null;
  /** First poll only (no cursor): report records changed at or after this instant (ISO); absent: every record. */
  startAt?: string | undefined;
  /** Records wanted at most in this page. */
  limit: number;
}

export interface ChangedContact extends CrmContact {
  /**
   * What identifies this state of the record: the CRM's modification stamp (and version), so
   * the hub stores one event per (record, marker) however often a poll reads the same state.
   */
  modifiedMarker: string;
}

export interface ChangedContactsPage {
  /** Oldest change first, in the order of the cursor (modification time, then id). */
  contacts: ChangedContact[];
  /**
   * Where the next poll continues. Never past a change that may still be joined by an
   * older-stamped one (an open transaction, a clock's resolution): records near the end
   * can be reported again, and the hub recognizes them by their marker.
   */
  cursor: string;
  /** Another page is ready now (the page was full and the cursor moved). */
  more: boolean;
}

export interface ConnectorOperations {
  findContacts(query: ContactQuery): Promise<CrmContact[]>;
  getContact(externalId: string): Promise<CrmContact | null>;
  /** Idempotent: the same contact twice gives one record (keyed by phone). */
  upsertContact(contact: ContactInput): Promise<UpsertResult>;
  /** Many upserts in as few requests as the CRM allows (batch methods); same results, same order. */
  upsertContacts?(contacts: ContactInput[]): Promise<UpsertResult[]>;
  logActivity(activity: ActivityInput): Promise<{ externalId: string }>;
  updateDealStatus(input: DealStatusInput): Promise<void>;
  /**
   * Records changed since the cursor, for CRMs the hub polls. Ties on the modification
   * time are ordered by id, so a cursor is (time, id) and no record is skipped or lost.
   */
  listChangedContacts?(query: ChangedContactsQuery): Promise<ChangedContactsPage>;
  /** Releases pools, sockets and limiter state. */
  close(): Promise<void>;
}

export interface WebhookHandler<Config> {
  /** True when the request is signed by the CRM with this instance's secret. */
  verify(request: WebhookRequest, config: Config): boolean;
  parse(request: WebhookRequest, config: Config): WebhookEvent[];
}
