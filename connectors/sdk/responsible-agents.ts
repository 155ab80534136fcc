// A CRM names a contact's owner its own way (a portal user id, a manager code); the hub names
// agents. A connector's `responsibleAgents` config maps one to the other: read, a record's owner
// becomes the `responsibleAgent` field (the agent who gets the contact's calls and callbacks
// first); written, a `responsibleAgent` goes back as the CRM's owner. Each connector says which
// CRM values are valid keys; the rules below are the same for all.
import { z } from 'zod';

/** CRM owner value -> hub agent id. Empty: ownership is not translated (the connector's default). */
export type ResponsibleAgents = Readonly<Record<string, string>>;

/** The config entry, with the CRM's own rule for its keys (e.g. Bitrix24 user ids are positive integers). */
export function responsibleAgentsSchema(key: { test: (value: string) => boolean; message: string }) {
  return z
    .record(z.string(), z.string().trim().min(1, 'must name the hub agent').max(100))
    .superRefine((map, context) => {
      // Written back as the CRM's owner, so one agent must stand for one CRM value.
      const ownerOf = new Map<string, string>();
      for (const [crmValue, agentId] of Object.entries(map)) {
        if (!key.test(crmValue)) context.addIssue({ code: 'custom', path: [crmValue], message: key.message });
        const earlier = ownerOf.get(agentId);
        if (earlier !== undefined) context.addIssue({ code: 'custom', path: [crmValue], message: `maps to agent "${agentId}" as ${earlier} does: one agent, one owner` });
        ownerOf.set(agentId, crmValue);
      }
    })
    .default({});
}

/** The hub agent a CRM owner value stands for; undefined when the map does not list it. */
export function agentOfOwner(map: ResponsibleAgents, owner: unknown): string | undefined {
  if (owner === null || owner === undefined) return undefined;
  const key = String(owner).trim();
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

/** The CRM owner value mapped to this hub agent, if any. */
export function ownerOfAgent(map: ResponsibleAgents, agentId: unknown): string | undefined {
  if (typeof agentId !== 'string') return undefined;
  const wanted = agentId.trim();
  return Object.entries(map).find(([, agent]) => agent === wanted)?.[0];
}
