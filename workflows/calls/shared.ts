// What starts a callContact workflow. Safe to import from workflow code.
export interface CallContactInput {
  projectId: string;
  callId: string;
  /** E.164. */
  to: string;
  callerId: string;
  ringTimeoutMs: number;
  /** Any telephony worker's task queue; later activities go to the queue placeCall answers with. */
  telephonyTaskQueue: string;
  /** What to do once answered: hang up after this long, or hand the call to a queue's agent. */
  then: { hangupAfterMs: number } | { queue: string; preferredAgent?: string };
}
