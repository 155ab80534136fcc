// Bitrix24 sandbox: a named stand-in for a Bitrix24 cloud portal (see server.ts).
export { startBitrixSandbox, defaultUserFields, type BitrixSandbox, type BitrixSandboxOptions, type FailMode } from './server.js';
export { standardPlanLimit, type BucketLimit } from './bucket.js';
export type { SandboxStats } from './stats.js';
export type { ContactEventName, EmittedEvent } from './events.js';
