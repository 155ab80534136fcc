/**
 * The telephony process's own small HTTP endpoint, on loopback by default (no authentication:
 * do not expose it). `GET /healthz` says where SIP listens, whether media is there and which
 * numbers are routed; the agent presence routes set an agent's state and softphone contact in the
 * roster of a project, until agents' desktops and SIP REGISTER feed the roster themselves.
 *
 *   GET /healthz
 *   GET /projects/{projectId}/agents
 *   PUT /projects/{projectId}/agents/{agentId}   {"status": "ready" | "not-ready" | "logged-out",
 *                                                 "contact"?: "sip:ann@10.0.0.7:5060", "expiresSeconds"?: 3600, "reason"?: "..."}
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { z } from 'zod';
import { fieldErrorsFrom } from '../../core/validation.js';
import { ProblemError, renderProblem, toProblem } from '../../api/problem.js';
import { AgentStateError, UnknownAgentError } from '../acd/roster.js';
import { presenceSchema } from './presence.js';
import type { TelephonyRuntime } from './runtime.js';


export interface ControlServerInfo {
  sip: { address: string; port: number };
}

export function controlApp(runtime: TelephonyRuntime, info: ControlServerInfo): Hono {
  const app = new Hono();
  app.onError((error, c) => renderProblem(c, toProblem(error)));

  app.get('/healthz', (c) => c.json({ status: 'ok', sip: info.sip, ...runtime.describe() }));

  const projectOf = (projectId: string) => {
    if (!z.uuid().safeParse(projectId).success) throw new ProblemError(422, 'Invalid request', 'The project id is not a UUID.', [{ field: 'projectId', message: 'expected a UUID' }]);
    return runtime.rosterFor(projectId);
  };

  app.get('/projects/:projectId/agents', (c) => c.json({ agents: projectOf(c.req.param('projectId')).list() }));

  app.put('/projects/:projectId/agents/:agentId', async (c) => {
    const roster = projectOf(c.req.param('projectId'));
    const agentId = c.req.param('agentId');
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (error) {
      throw new ProblemError(400, 'Malformed JSON', 'The request body is not valid JSON.', [{ field: '(body)', message: error instanceof Error ? error.message : String(error) }]);
    }
    const parsed = presenceSchema.safeParse(body);
    if (!parsed.success) throw new ProblemError(422, 'Invalid request', 'The agent presence is invalid.', fieldErrorsFrom(parsed.error));
    const presence = parsed.data;
    try {
      roster.add(agentId);
      if (presence.contact !== undefined) roster.register(agentId, presence.contact, presence.expiresSeconds * 1000);
      if (presence.status === 'logged-out') {
        roster.logout(agentId);
      } else {
        roster.login(agentId);
        if (presence.status === 'ready') roster.setReady(agentId);
        else roster.setNotReady(agentId, presence.reason ?? 'set not-ready');
      }
    } catch (error) {
      if (error instanceof AgentStateError || error instanceof UnknownAgentError) {
        throw new ProblemError(409, 'Conflict', error.message, [{ field: 'status', message: error.message }]);
      }
      throw error;
    }
    return c.json(roster.view(agentId));
  });

  return app;
}

export async function startControlServer(app: Hono, host: string, port: number): Promise<{ server: ServerType; port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (address) => {
      resolve({
        server,
        port: address.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    server.once('error', reject);
  });
}
