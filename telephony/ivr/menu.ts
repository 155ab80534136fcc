/**
 * IVR menus as data. A menu is a graph of nodes: prompts with digit choices, CRM-driven branches
 * (look the caller up, route by the contact's status) and terminal nodes (queue, transfer, hang up,
 * call me back).
 * Validation rejects a reference to a missing node with the path of the reference, so a broken
 * menu is refused when it is saved, not when a caller walks into it.
 */
import { z } from 'zod';

const nodeId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, "_" and "-"');
/** A prompt's name; the prompt catalog maps it to a WAV file generated at build time. */
const prompt = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a prompt name from the catalog');
const queueName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/);

const menuNode = z.object({
  kind: z.literal('menu'),
  prompt,
  /** Keys are what the caller types ("1", "0", "*", "12" with maxDigits 2). */
  options: z.record(z.string().regex(/^[0-9*#]{1,8}$/, 'digits, * or #'), nodeId).refine((o) => Object.keys(o).length > 0, 'a menu needs at least one option'),
  maxDigits: z.number().int().min(1).max(8).default(1),
  timeoutMs: z.number().int().min(500).max(60_000).default(5_000),
  /** Where silence goes; by default the menu is played again (the loop guard bounds repeats). */
  noInput: nodeId.optional(),
  /** Where a choice that is not in `options` goes; by default the menu again. */
  invalid: nodeId.optional(),
});

const playNode = z.object({ kind: z.literal('play'), prompt, next: nodeId });

const crmNode = z.object({
  kind: z.literal('crm'),
  /** What to look up; the contact's status is what CRMs disagree on most. */
  lookup: z.literal('contact-status').default('contact-status'),
  /** Contact status (as the connector reports it) -> node. */
  branches: z.record(z.string().min(1), nodeId),
  otherwise: nodeId,
  notFound: nodeId,
  /** The CRM did not answer in time or failed: where the caller goes instead of waiting. */
  onError: nodeId.optional(),
  timeoutMs: z.number().int().min(100).max(10_000).default(2_000),
});

const queueNode = z.object({ kind: z.literal('queue'), queue: queueName, prompt: prompt.optional() });
const transferNode = z.object({ kind: z.literal('transfer'), trunk: z.string().min(1), extension: z.string().regex(/^[0-9*#]{1,15}$/) });
const hangupNode = z.object({ kind: z.literal('hangup'), prompt: prompt.optional() });
/**
 * The caller asks to be called back instead of waiting: a callback is scheduled for the caller's
 * number `delayMinutes` from now (owned by the contact's responsible agent when the CRMs name one,
 * then `queue`), shown the number they dialled, and the caller hears `prompt` and is hung up on. A
 * caller whose number cannot be called back (anonymous) is put in `queue` instead.
 */
const callbackNode = z.object({
  kind: z.literal('callback'),
  queue: queueName,
  delayMinutes: z.number().int().min(0).max(24 * 60).default(0),
  prompt: prompt.optional(),
});

export const ivrNodeSchema = z.discriminatedUnion('kind', [menuNode, playNode, crmNode, queueNode, transferNode, hangupNode, callbackNode]);
export type IvrNode = z.output<typeof ivrNodeSchema>;

export const ivrMenuSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
    start: nodeId,
    /** A caller entering one node more often than this goes to the fallback queue. */
    maxVisitsPerNode: z.number().int().min(1).max(20).default(3),
    /** A caller still in the IVR after this long goes to the fallback queue. */
    maxDurationMs: z.number().int().min(1_000).max(1_800_000).default(180_000),
    fallbackQueue: queueName,
    nodes: z.record(nodeId, ivrNodeSchema),
  })
  .superRefine((menu, ctx) => {
    const missing = (path: (string | number)[], target: string | undefined) => {
      if (target !== undefined && !(target in menu.nodes)) {
        ctx.addIssue({ code: 'custom', path, message: `node "${target}" does not exist` });
      }
    };
    missing(['start'], menu.start);
    for (const [id, node] of Object.entries(menu.nodes)) {
      const at = (...rest: string[]) => ['nodes', id, ...rest];
      switch (node.kind) {
        case 'menu':
          for (const [digits, target] of Object.entries(node.options)) {
            missing(at('options', digits), target);
            if (digits.length > node.maxDigits) {
              ctx.addIssue({ code: 'custom', path: at('options', digits), message: `"${digits}" is longer than maxDigits (${node.maxDigits})` });
            }
          }
          missing(at('noInput'), node.noInput);
          missing(at('invalid'), node.invalid);
          break;
        case 'play':
          missing(at('next'), node.next);
          break;
        case 'crm':
          for (const [status, target] of Object.entries(node.branches)) missing(at('branches', status), target);
          missing(at('otherwise'), node.otherwise);
          missing(at('notFound'), node.notFound);
          missing(at('onError'), node.onError);
          break;
        case 'queue':
        case 'transfer':
        case 'hangup':
        case 'callback':
          break;
      }
    }
  });

export type IvrMenuInput = z.input<typeof ivrMenuSchema>;
export type IvrMenu = z.output<typeof ivrMenuSchema>;

/** Queues and trunks a menu names, to check against the project's configuration. */
export function externalReferences(menu: IvrMenu): { path: (string | number)[]; kind: 'queue' | 'trunk'; name: string }[] {
  const refs: { path: (string | number)[]; kind: 'queue' | 'trunk'; name: string }[] = [
    { path: ['fallbackQueue'], kind: 'queue', name: menu.fallbackQueue },
  ];
  for (const [id, node] of Object.entries(menu.nodes)) {
    if (node.kind === 'queue' || node.kind === 'callback') refs.push({ path: ['nodes', id, 'queue'], kind: 'queue', name: node.queue });
    if (node.kind === 'transfer') refs.push({ path: ['nodes', id, 'trunk'], kind: 'trunk', name: node.trunk });
  }
  return refs;
}
