// Call logs, notes and application (deal) status in a Bitrix24 portal, written so
// a retried write is recognized rather than repeated:
// - a call is a crm.activity (TYPE_ID 2) carrying ORIGINATOR_ID/ORIGIN_ID, looked up
//   by them before adding;
// - e-mails, SMS and notes become timeline comments: crm.activity.add would send an
//   outgoing e-mail and offers no SMS/note type to webhooks. Comments have no
//   ORIGIN_ID, so the hub's id ends the comment text and the latest 50 comments are
//   checked for it (a retry lands minutes after the first try, well within them);
// - a deal's stage is set with crm.deal.update, idempotent by nature; its note is a
//   comment like the above.
import { createHash } from 'node:crypto';
import { CrmError } from '../sdk/errors.js';
import type { ActivityInput, DealStatusInput } from '../sdk/types.js';
import { resultOf, type BitrixClient } from './bitrix-client.js';
import { webhookUserId, type Bitrix24Config } from './config.js';
import { isPositiveId, type BitrixRecord } from './records.js';

/** crm object types (OWNER_TYPE_ID / ENTITY_TYPE_ID) and activity constants from the REST data types. */
const contactTypeId = 3;
const callTypeId = 2;
const direction = { inbound: 1, outbound: 2 } as const;
const plainText = 1;

export interface ActivityOperations {
  logActivity(activity: ActivityInput): Promise<{ externalId: string }>;
  updateDealStatus(input: DealStatusInput): Promise<void>;
}

export function createActivityOperations(client: BitrixClient, config: Bitrix24Config): ActivityOperations {
  const responsible = config.responsibleUserId ?? webhookUserId(config);

  async function logCall(contactId: string, activity: ActivityInput): Promise<{ externalId: string }> {
    // One request reads the contact (its phone is required on a call) and looks for an earlier try.
    const found = await client.batch({
      contact: { method: 'crm.contact.get', params: { id: contactId } },
      existing: {
        method: 'crm.activity.list',
        params: { filter: { ORIGINATOR_ID: config.originatorId, ORIGIN_ID: activity.hubActivityId }, select: ['ID'] },
      },
    });
    const earlier = firstRow(resultOf(found, 'existing', 'crm.activity.list'));
    if (earlier) return { externalId: String(earlier.ID) };
    const contact = resultOf(found, 'contact', 'crm.contact.get') as BitrixRecord;
    const phone = Array.isArray(contact.PHONE) ? (contact.PHONE as { VALUE?: unknown }[]).find((entry) => typeof entry.VALUE === 'string')?.VALUE : undefined;
    if (typeof phone !== 'string') throw new CrmError('rejected', `Bitrix24 contact ${contactId} has no phone; a call can only be logged with one`);
    const start = new Date(activity.occurredAt);
    const end = new Date(start.getTime() + (activity.durationSeconds ?? 0) * 1000);
    const answer = await client.call('crm.activity.add', {
      fields: {
        OWNER_TYPE_ID: contactTypeId,
        OWNER_ID: contactId,
        TYPE_ID: callTypeId,
        SUBJECT: activity.subject,
        DESCRIPTION: activity.body ?? '',
        DESCRIPTION_TYPE: plainText,
        DIRECTION: activity.direction === 'inbound' ? direction.inbound : direction.outbound,
        START_TIME: start.toISOString(),
        END_TIME: end.toISOString(),
        COMPLETED: 'Y',
        RESPONSIBLE_ID: responsible,
        COMMUNICATIONS: [{ VALUE: phone, ENTITY_ID: contactId, ENTITY_TYPE_ID: contactTypeId }],
        ORIGINATOR_ID: config.originatorId,
        ORIGIN_ID: activity.hubActivityId,
      },
    });
    return { externalId: positiveId(answer.result, 'crm.activity.add') };
  }

  /** Adds `text` to the entity's timeline unless a comment already ends with `marker`. */
  async function commentOnce(entityType: 'contact' | 'deal', entityId: string, marker: string, text: string): Promise<string> {
    const latest = await client.call('crm.timeline.comment.list', {
      filter: { ENTITY_ID: entityId, ENTITY_TYPE: entityType },
      select: ['ID', 'COMMENT'],
      order: { ID: 'DESC' },
    });
    const earlier = (Array.isArray(latest.result) ? (latest.result as BitrixRecord[]) : []).find((row) => String(row.COMMENT ?? '').endsWith(marker));
    if (earlier) return String(earlier.ID);
    const answer = await client.call('crm.timeline.comment.add', {
      fields: { ENTITY_ID: entityId, ENTITY_TYPE: entityType, COMMENT: `${text}\n\n${marker}` },
    });
    return positiveId(answer.result, 'crm.timeline.comment.add');
  }

  async function logActivity(activity: ActivityInput): Promise<{ externalId: string }> {
    const contactId = requireId(activity.contactExternalId, 'contact');
    if (Number.isNaN(Date.parse(activity.occurredAt))) throw new CrmError('rejected', `occurredAt "${activity.occurredAt}" is not a date`);
    if (activity.kind === 'call') return logCall(contactId, activity);
    const text = [`${activity.kind.toUpperCase()}${activity.direction ? ` (${activity.direction})` : ''}: ${activity.subject}`, activity.body]
      .filter((part) => part !== undefined && part !== '')
      .join('\n');
    return { externalId: await commentOnce('contact', contactId, `hub-activity:${activity.hubActivityId}`, text) };
  }

  async function updateDealStatus(input: DealStatusInput): Promise<void> {
    const dealId = requireId(input.dealExternalId, 'deal');
    const stage = config.dealStages[input.status] ?? input.status;
    await client.call('crm.deal.update', { id: dealId, fields: { STAGE_ID: stage }, params: { REGISTER_SONET_EVENT: 'N' } });
    if (input.note === undefined || input.note.trim() === '') return;
    // The same status with the same note is the same event; a changed note is a new comment.
    const digest = createHash('sha256').update(`${input.status}\n${input.note}`).digest('hex').slice(0, 16);
    await commentOnce('deal', dealId, `hub-status:${input.status}:${digest}`, `Status: ${input.status}\n${input.note}`);
  }

  return { logActivity, updateDealStatus };
}

function requireId(value: string, what: string): string {
  if (!isPositiveId(value)) throw new CrmError('rejected', `"${value}" is not a Bitrix24 ${what} id`);
  return value;
}

function firstRow(result: unknown): BitrixRecord | undefined {
  return Array.isArray(result) ? (result[0] as BitrixRecord | undefined) : undefined;
}

function positiveId(result: unknown, method: string): string {
  const id = Number(result);
  if (!Number.isInteger(id) || id <= 0) throw new CrmError('unavailable', `Bitrix24 ${method}: answered ${JSON.stringify(result)} instead of an id`);
  return String(id);
}
