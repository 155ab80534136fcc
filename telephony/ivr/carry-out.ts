/**
 * Carries out what the IVR decided: into a queue (the loop guard's reason travels with the
 * caller), a transfer to an office extension (falling back to the menu's fallback queue when the
 * gateway is down or refuses), or a hang-up (also once a callback is scheduled). A decision naming a queue that no longer exists
 * still lands in the fallback queue: configuration drift must not drop a caller.
 */
import type { CallControl, CallLeg } from '../call-control.js';
import type { CallQueue, QueuedCall } from '../acd/call-queue.js';
import { PbxTransferConfigError, transferToPbxExtension, type PbxTransferResult } from '../acd/pbx-transfer.js';
import type { TrunkConfig } from '../trunks/config.js';
import type { TrunkHealth } from '../trunks/health.js';
import type { IvrMenu } from './menu.js';
import type { IvrResult } from './run-ivr.js';

export interface CarryOutDeps {
  callControl: Pick<CallControl, 'transfer'>;
  queues: ReadonlyMap<string, CallQueue>;
  trunks: readonly TrunkConfig[];
  health: TrunkHealth;
}

export type CarriedOut =
  | { kind: 'queued'; queued: QueuedCall }
  | { kind: 'transferred'; transfer: Extract<PbxTransferResult, { outcome: 'transferred' }> }
  | { kind: 'hung-up' }
  | { kind: 'abandoned' };

export async function carryOutIvrDecision(
  deps: CarryOutDeps,
  menu: IvrMenu,
  decision: IvrResult,
  call: CallLeg,
  context: { callId: string; preferredAgentId?: string },
): Promise<CarriedOut> {
  const fallbackQueue = deps.queues.get(menu.fallbackQueue);
  if (fallbackQueue === undefined) throw new Error(`IVR menu "${menu.name}": fallback queue "${menu.fallbackQueue}" is not running`);

  switch (decision.kind) {
    case 'abandoned':
      return { kind: 'abandoned' };
    case 'hangup':
    case 'callback':
      await call.hangup();
      return { kind: 'hung-up' };
    case 'queue': {
      const queue = deps.queues.get(decision.queue);
      const reason = queue === undefined ? `queue "${decision.queue}" is not running` : decision.reason;
      const queued = (queue ?? fallbackQueue).enqueue(call, { callId: context.callId, preferredAgentId: context.preferredAgentId, reason });
      return { kind: 'queued', queued };
    }
    case 'transfer': {
      let result: PbxTransferResult;
      try {
        result = await transferToPbxExtension(
          { ...deps, fallbackQueue, notifyAgent: () => undefined },
          { callId: context.callId, callerLeg: call, extension: decision.extension, trunk: decision.trunk, mode: 'blind' },
        );
      } catch (error) {
        if (!(error instanceof PbxTransferConfigError)) throw error;
        const queued = fallbackQueue.enqueue(call, { callId: context.callId, reason: `IVR transfer not possible: ${error.message}` });
        return { kind: 'queued', queued };
      }
      return result.outcome === 'transferred' ? { kind: 'transferred', transfer: result } : { kind: 'queued', queued: result.queued };
    }
  }
}
