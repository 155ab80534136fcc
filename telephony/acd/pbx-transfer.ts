/**
 * Transfers from an agent to an office extension through the PBX trunk (the FXO/VoIP gateway).
 *
 * When the gateway lost power, transfers to accounting once stopped without a word. Here a
 * transfer is not even tried through a gateway known to be down, and any failed transfer puts the
 * caller in a configured fallback queue and tells the agent why, so no caller is dropped.
 */
import type { CallControl, CallLeg, TransferResult } from '../call-control.js';
import { trunkUri, type TrunkConfig } from '../trunks/config.js';
import type { TrunkHealth } from '../trunks/health.js';
import type { CallQueue, QueuedCall } from './call-queue.js';

export interface AgentNotice {
  kind: 'transfer-failed';
  callId: string;
  extension: string;
  trunk: string;
  /** What went wrong, for the agent's screen. */
  reason: string;
  fallbackQueue: string;
}

export interface PbxTransferDeps {
  callControl: Pick<CallControl, 'transfer'>;
  trunks: readonly TrunkConfig[];
  health: TrunkHealth;
  fallbackQueue: CallQueue;
  notifyAgent: (agentId: string, notice: AgentNotice) => void;
  /** Attended transfers ring the extension this long before giving up. */
  attendedRingTimeoutMs?: number;
}

export interface PbxTransferRequest {
  callId: string;
  callerLeg: CallLeg;
  /** The agent transferring, told if it fails; absent when the IVR transfers. */
  agentId?: string;
  /** Releases the transferring agent (from the queue's `connected` outcome), if they are on the call. */
  releaseAgent?: () => void;
  extension: string;
  trunk: string;
  mode: 'blind' | 'attended';
}

export type PbxTransferResult =
  | { outcome: 'transferred'; mode: 'blind' | 'attended'; to: string }
  | { outcome: 'fallback'; reason: string; queued: QueuedCall };

export class PbxTransferConfigError extends Error {
  constructor(
    readonly field: 'trunk' | 'extension',
    message: string,
  ) {
    super(message);
  }
}

export async function transferToPbxExtension(deps: PbxTransferDeps, request: PbxTransferRequest): Promise<PbxTransferResult> {
  const trunk = deps.trunks.find((candidate) => candidate.name === request.trunk);
  if (trunk === undefined || trunk.kind !== 'pbx') {
    throw new PbxTransferConfigError('trunk', `"${request.trunk}" is not a pbx trunk of this project`);
  }
  if (!/^[0-9*#]{1,15}$/.test(request.extension)) {
    throw new PbxTransferConfigError('extension', `"${request.extension}" is not an extension (digits, * and #)`);
  }

  if (!deps.health.isUp(trunk.name)) {
    const state = deps.health.state(trunk.name);
    return fallback(deps, request, `gateway "${trunk.name}" is down since ${state.since.toISOString()} (${state.lastFailure ?? 'no answer'}); transfer not attempted`);
  }

  const to = trunkUri(trunk, request.extension);
  let result: TransferResult;
  try {
    result = await deps.callControl.transfer(
      request.callerLeg,
      request.mode === 'blind'
        ? { mode: 'blind', to }
        : { mode: 'attended', to, callerId: request.callerLeg.from, ringTimeoutMs: deps.attendedRingTimeoutMs ?? 20_000 },
    );
  } catch (error) {
    result = { ok: false, sipStatus: undefined, reason: error instanceof Error ? error.message : String(error) };
  }

  if (result.ok) {
    deps.health.recordSuccess(trunk.name);
    request.releaseAgent?.();
    return { outcome: 'transferred', mode: result.mode, to };
  }
  const status = result.sipStatus;
  const gatewayFault = status === undefined || status === 408 || (status >= 500 && status <= 599);
  if (gatewayFault) deps.health.recordFailure(trunk.name, `transfer to ${request.extension}: ${status ?? 'no response'} ${result.reason}`);
  return fallback(deps, request, `transfer to extension ${request.extension} failed: ${status ?? 'no response'} ${result.reason}`.trim());
}

function fallback(deps: PbxTransferDeps, request: PbxTransferRequest, reason: string): PbxTransferResult {
  request.releaseAgent?.();
  const queued = deps.fallbackQueue.enqueue(request.callerLeg, { callId: request.callId, reason });
  if (request.agentId !== undefined) {
    deps.notifyAgent(request.agentId, {
      kind: 'transfer-failed', callId: request.callId, extension: request.extension, trunk: request.trunk, reason,
      fallbackQueue: deps.fallbackQueue.name,
    });
  }
  return { outcome: 'fallback', reason, queued };
}
