// Links to the agent page: a CRM (or any agent desktop) asks for one with the project's API key
// when a call reaches an agent, and embeds the page in an iFrame. The link's token is the page's
// only credential: it opens one contact's card and takes answers for that contact, by that agent,
// on that script, until it expires. Shown once; only its SHA-256 is stored, like API keys.
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { normalizePhone } from '../phone.js';
import { fieldErrorsFrom, type FieldError } from '../validation.js';
import { scriptNamePattern } from './scripts.js';

export const DEFAULT_LINK_SECONDS = 4 * 3600;
const MAX_LINK_SECONDS = 24 * 3600;
const TOKEN_PREFIX = 'cap_';

const pageCallbackSchema = z
  .object({
    queue: z.string().min(1).max(100).describe('ACD queue that takes the callback if the agent does not in time'),
    callerId: z.string().min(1).max(64).optional().describe("Number shown to the contact (default: a campaign's of the queue)"),
  })
  .strict();

/** Callbacks a page may book. */
export type PageCallback = z.infer<typeof pageCallbackSchema>;

export const pageLinkInputSchema = z
  .object({
    agent: z.string().trim().min(1).max(100).describe('The agent the page is for; answers are recorded as theirs'),
    phone: z.string().min(1).max(64).describe("The contact's number; national numbers are read in the project region"),
    script: z.string().regex(scriptNamePattern, 'a script name').describe('The script the page shows'),
    callId: z.string().min(1).max(200).optional().describe('The call, recorded with the answers'),
    ttlSeconds: z.number().int().min(60).max(MAX_LINK_SECONDS).default(DEFAULT_LINK_SECONDS).describe('How long the link works (default 4 hours)'),
    callback: pageCallbackSchema.optional().describe('Lets the agent book a callback for the contact from the page: into this queue, owned by the agent'),
  })
  .strict();

export interface PageLink {
  token: string;
  /** Path of the page on the API's origin: /agent/<token>. */
  path: string;
  expiresAt: string;
  agent: string;
  phone: string;
  script: string;
  callback: PageCallback | null;
}

/** What a valid token opens. */
export interface PageGrant {
  projectId: string;
  defaultRegion: string;
  agent: string;
  phone: string;
  script: string;
  callId: string | undefined;
  /** Callbacks the page may book, if any. */
  callback: PageCallback | undefined;
  expiresAt: Date;
}

export class PageLinkError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(`invalid page link: ${errors.map((error) => `${error.field} ${error.message}`).join('; ')}`);
  }
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

export class AgentPageLinks {
  constructor(private readonly db: Db) {}

  async create(project: { id: string; defaultRegion: string }, input: unknown, now = Date.now()): Promise<PageLink> {
    const parsed = pageLinkInputSchema.safeParse(input);
    if (!parsed.success) throw new PageLinkError(fieldErrorsFrom(parsed.error));
    const body = parsed.data;
    const errors: FieldError[] = [];
    const phone = normalizePhone(body.phone, project.defaultRegion);
    if (!phone.ok) errors.push({ field: 'phone', message: `${phone.reason}: "${body.phone}"` });
    const script = await this.db.agentScript.findUnique({ where: { projectId_name: { projectId: project.id, name: body.script } }, select: { id: true } });
    if (!script) errors.push({ field: 'script', message: `no script "${body.script}" in this project` });
    let callback: PageCallback | undefined;
    if (body.callback !== undefined) {
      const queue = await this.db.callFlow.findFirst({ where: { projectId: project.id, kind: 'queue', name: body.callback.queue }, select: { name: true } });
      if (queue === null) errors.push({ field: 'callback.queue', message: `no ACD queue "${body.callback.queue}" in this project` });
      const callerId = body.callback.callerId === undefined ? undefined : normalizePhone(body.callback.callerId, project.defaultRegion);
      if (callerId !== undefined && !callerId.ok) errors.push({ field: 'callback.callerId', message: callerId.reason });
      callback = { queue: body.callback.queue, ...(callerId?.ok ? { callerId: callerId.e164 } : {}) };
    }
    if (errors.length > 0 || !phone.ok) throw new PageLinkError(errors);

    // Links a day past their time are dropped as new ones are made: one row per call, none kept for long.
    await this.db.agentPageLink.deleteMany({ where: { expiresAt: { lt: new Date(now - 24 * 3600 * 1000) } } });
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(now + body.ttlSeconds * 1000);
    await this.db.agentPageLink.create({
      data: { projectId: project.id, tokenHash: hashOf(token), agent: body.agent, contactPhone: phone.e164, scriptName: body.script, callId: body.callId ?? null, callback, expiresAt },
    });
    return { token, path: `/agent/${token}`, expiresAt: expiresAt.toISOString(), agent: body.agent, phone: phone.e164, script: body.script, callback: callback ?? null };
  }

  /** What the token opens; `expired` for a link past its time (kept a day, then pruned), `unknown` otherwise. */
  async resolve(token: string, now = Date.now()): Promise<{ status: 'ok'; grant: PageGrant } | { status: 'expired' | 'unknown' }> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 100) return { status: 'unknown' };
    const row = await this.db.agentPageLink.findUnique({ where: { tokenHash: hashOf(token) }, include: { project: { select: { defaultRegion: true } } } });
    if (!row) return { status: 'unknown' };
    if (row.expiresAt.getTime() <= now) return { status: 'expired' };
    return {
      status: 'ok',
      grant: {
        projectId: row.projectId,
        defaultRegion: row.project.defaultRegion,
        agent: row.agent,
        phone: row.contactPhone,
        script: row.scriptName,
        callId: row.callId ?? undefined,
        callback: row.callback === null ? undefined : (pageCallbackSchema.safeParse(row.callback).data ?? undefined),
        expiresAt: row.expiresAt,
      },
    };
  }
}
