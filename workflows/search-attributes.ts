// Search attributes let ops find a contact's workflow in the Temporal UI:
//   ProjectId = "<uuid>" AND ContactPhone = "+14155552671"   or   TaskIds = "<task uuid>"
// Registered on the embedded dev server at start and by the worker at boot.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ProjectIdKey = defineSearchAttributeKey('ProjectId', SearchAttributeType.KEYWORD);
export const ContactPhoneKey = defineSearchAttributeKey('ContactPhone', SearchAttributeType.KEYWORD);
export const TaskIdsKey = defineSearchAttributeKey('TaskIds', SearchAttributeType.KEYWORD_LIST);

export const hubSearchAttributes = [ProjectIdKey, ContactPhoneKey, TaskIdsKey] as const;

/** TaskIds kept on a journey's search attribute; older ids are still in the task table. */
export const MAX_TASK_IDS_IN_SEARCH = 100;
