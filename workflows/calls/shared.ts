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

/** What starts a callAndAsk workflow: call the contact with media, play a prompt, collect the keys pressed. */
export interface CallAndAskInput {
  projectId: string;
  callId: string;
  /** E.164. */
  to: string;
  callerId: string;
  ringTimeoutMs: number;
  telephonyTaskQueue: string;
  /** The prompt (catalog name) and how the answer is collected. */
  ask: { prompt: string; maxDigits: number; timeoutMs: number; terminator?: string };
}
