// What a task is on the wire. A task names a contact by phone and carries the
// caller's own fields (application number and date, address...) for the agent.
import { z } from 'zod';

// Bodies arrive as parsed JSON, so any value here is already a JSON value.
const jsonValue = z.unknown();

export const MAX_TASK_DATA_BYTES = 16_384;

/** Top-level keys the hub interprets; any other top-level key is kept in `data`. */
export const taskInputSchema = z
  .object({
    phone: z.string({ error: 'required: the contact\'s phone number' }).min(1, 'required').max(64),
    name: z.string().trim().min(1).max(200).optional(),
    email: z.email().max(320).optional(),
    externalId: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('Your id for this task (e.g. the application number); a second task with the same id is a duplicate.'),
    data: z.record(z.string(), jsonValue).optional().describe('Free-form fields kept with the task and shown to the agent.'),
  })
  .catchall(jsonValue)
  .describe('A contact to work. Unknown top-level fields are kept in `data`.');

export type TaskInput = z.infer<typeof taskInputSchema>;

export const taskBatchSchema = z.object({
  tasks: z.array(z.unknown()).min(1, 'a batch carries at least one task'),
});

export const taskViewSchema = z.object({
  id: z.uuid(),
  externalId: z.string().nullable(),
  phone: z.string().describe('E.164'),
  name: z.string().nullable(),
  email: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  status: z.enum(['accepted', 'dispatched', 'done', 'failed']),
  journeyId: z.string().describe('Temporal workflow id of the contact journey'),
  result: z.unknown().nullable(),
  error: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export type TaskView = z.infer<typeof taskViewSchema>;
